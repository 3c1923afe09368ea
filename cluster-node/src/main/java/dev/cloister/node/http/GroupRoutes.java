package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.Permission;
import dev.cloister.guild.group.EncryptionGroup;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * The MLS delivery service over HTTP: a device reads its group's state and log, creates the
 * group, commits the pending proposals, uploads the new epoch's GroupInfo, fetches its Welcome,
 * or asks to be reset. Every call names the caller's device ({@code deviceId}); the user comes
 * from the token, so nobody acts for another user's device.
 */
final class GroupRoutes extends JsonRoutes {

  static final int MAX_LOG_PAGE = 500;
  private static final Base64.Encoder B64 = Base64.getEncoder();

  private final ApiContext ctx;
  private final ActorSystem<?> system;
  private final JdbcReadJournal journal;

  private final byte[] deliveryServiceKey;
  private final GroupCommands commands;

  GroupRoutes(ApiContext ctx, ActorSystem<?> system, byte[] deliveryServiceKey) {
    this.ctx = ctx;
    this.deliveryServiceKey = deliveryServiceKey.clone();
    this.commands = new GroupCommands(ctx.sharding(), ctx.askTimeout());
    this.system = system;
    this.journal = PersistenceQuery.get(system)
        .getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
  }

  Route route(String me) {
    return concat(
        // What a group's creator names as its only external sender.
        path(segment("mls").slash("delivery-service"), () -> get(() -> json(200, obj()
            .put("name", "cloister")
            .put("signatureKey", B64.encodeToString(deliveryServiceKey))))),
        path(segment("channels").slash(segment()).slash("group"), channelId ->
            get(() -> reply(() -> ctx.textAccess(me, channelId, Permission.VIEW_CHANNEL)
                .thenApply(a -> response(200, obj().put("channelId", channelId)
                    .put("groupId", a.groupId())))))),
        pathPrefix(segment("groups").slash(segment()), groupId -> concat(
            pathEnd(() -> get(() -> parameterMap(q -> reply(() -> status(me, groupId, q))))),
            path("create", () -> post(() -> body(b -> {
              String device = device(me, b);
              byte[] info = b.base64("groupInfo");
              return this.<EncryptionGroup.Status>ask(groupId, r -> new EncryptionGroup.CreateGroup(device, info,
                  System.currentTimeMillis(), r)).thenApply(s -> response(201, status(s)));
            }))),
            path("commits", () -> post(() -> body(b -> commands.commit(me, b.string("deviceId"),
                groupId, b.base64("commit"), b.has("welcome") ? b.base64("welcome") : null,
                b.has("groupInfo") ? b.base64("groupInfo") : null)
                .thenApply(s -> response(201, status(s)))))),
            path("group-info", () -> post(() -> body(b -> {
              String device = device(me, b);
              byte[] info = b.base64("groupInfo");
              return this.<EncryptionGroup.Status>ask(groupId, r -> new EncryptionGroup.UploadGroupInfo(device, info, r))
                  .thenApply(s -> response(200, status(s)));
            }))),
            path("revoke", () -> post(() -> body(b -> commands.revoke(me, b.string("deviceId"),
                groupId, refs(b), b.optionalString("reason"))
                .thenApply(s -> response(200, status(s)))))),
            path("reset", () -> post(() -> body(b -> commands.reset(me, b.string("deviceId"),
                groupId).thenApply(s -> response(200, status(s)))))),
            path("welcome", () -> get(() -> parameterMap(q -> reply(() ->
                welcome(me, groupId, q))))),
            path("log", () -> get(() -> parameterMap(q -> reply(() -> log(me, groupId, q))))))));
  }

  private static java.util.List<byte[]> refs(JsonBody b) {
    com.fasterxml.jackson.databind.JsonNode list = b.field("refs");
    if (list == null || !list.isArray() || list.size() > 256) {
      throw ApiError.badRequest("'refs' must be an array of up to 256 base64 proposal refs");
    }
    java.util.List<byte[]> out = new java.util.ArrayList<>();
    for (com.fasterxml.jackson.databind.JsonNode ref : list) {
      try {
        byte[] r = Base64.getDecoder().decode(ref.asText(""));
        if (r.length == 0 || r.length > 64) {
          throw new IllegalArgumentException();
        }
        out.add(r);
      } catch (IllegalArgumentException e) {
        throw ApiError.badRequest("'refs' must hold base64 proposal refs of 1 to 64 bytes");
      }
    }
    return out;
  }

  private static String device(String me, JsonBody b) {
    return me + "/" + b.string("deviceId");
  }

  private static String device(String me, Map<String, String> q) {
    String d = q.get("deviceId");
    if (d == null || d.isBlank()) {
      throw ApiError.badRequest("query parameter 'deviceId' is required");
    }
    return me + "/" + d;
  }

  private <R> CompletionStage<R> ask(String groupId,
      Function<ActorRef<StatusReply<R>>, EncryptionGroup.Command> command) {
    return commands.ask(groupId, command);
  }

  /** The group as the device sees it; only roster devices and members may look. */
  private CompletionStage<EncryptionGroup.Status> visible(String me, String groupId,
      String device) {
    return this.<EncryptionGroup.Status>ask(groupId, r -> new EncryptionGroup.GetStatus(device, r))
        .thenApply(s -> {
          boolean member = s.members().stream()
              .anyMatch(m -> (m.userId() + "/" + m.deviceId()).equals(device));
          if (s.guildId() == null) {
            throw new ApiError(404, "not_found", "unknown group '" + groupId + "'");
          }
          if (!s.onRoster() && !member) {
            throw new ApiError(403, "forbidden", "device " + device + " is not in this group");
          }
          return s;
        });
  }

  private CompletionStage<HttpResponse> status(String me, String groupId, Map<String, String> q) {
    return visible(me, groupId, device(me, q)).thenApply(s -> response(200, status(s)));
  }

  private CompletionStage<HttpResponse> welcome(String me, String groupId, Map<String, String> q) {
    String device = device(me, q);
    return visible(me, groupId, device).thenCompose(s -> {
      if (s.welcomeSeq() == 0) {
        throw new ApiError(404, "not_found", "no Welcome waits for " + device
            + " in this group; it joins when a member commits its Add, or by external commit");
      }
      return events(groupId, s.welcomeSeq(), s.welcomeSeq()).thenApply(list -> {
        EncryptionGroup.CommitAccepted c = (EncryptionGroup.CommitAccepted) list.get(0).event();
        return response(200, obj().put("groupId", groupId).put("epoch", c.epoch() + 1)
            .put("seq", s.welcomeSeq()).put("welcome", B64.encodeToString(c.welcome())));
      });
    });
  }

  /** The handshake log after {@code after}: proposals, revocations and commits, in order. */
  private CompletionStage<HttpResponse> log(String me, String groupId, Map<String, String> q) {
    long after = parseLong(q.getOrDefault("after", "0"), "after");
    long limit = Math.min(MAX_LOG_PAGE, Math.max(1, parseLong(q.getOrDefault("limit", "100"),
        "limit")));
    return visible(me, groupId, device(me, q)).thenCompose(s ->
        events(groupId, after + 1, after + limit)).thenApply(list -> {
          ArrayNode out = JsonBody.MAPPER.createArrayNode();
          for (EventEnvelope e : list) {
            ObjectNode entry = logEntry(e.sequenceNr(), (EncryptionGroup.Event) e.event());
            if (entry != null) {
              out.add(entry);
            }
          }
          return response(200, out);
        });
  }

  private static long parseLong(String text, String name) {
    try {
      long v = Long.parseLong(text);
      if (v < 0) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw ApiError.badRequest("query parameter '" + name + "' must be a non-negative integer");
    }
  }

  private CompletionStage<List<EventEnvelope>> events(String groupId, long from, long to) {
    return journal.currentEventsByPersistenceId(EncryptionGroup.ENTITY_KEY.name() + "|" + groupId,
        from, to).runWith(Sink.seq(), system);
  }

  /** A log entry as clients read it; Welcomes and GroupInfos are fetched on their own. */
  static ObjectNode logEntry(long seq, EncryptionGroup.Event e) {
    ObjectNode o = obj().put("seq", seq);
    if (e instanceof EncryptionGroup.GroupCreated c) {
      return o.put("type", "created").put("device", c.creator());
    }
    if (e instanceof EncryptionGroup.ProposalIssued p) {
      return o.put("type", "proposal").put("kind", p.kind().toLowerCase())
          .put("device", p.device()).put("ref", B64.encodeToString(p.ref()))
          .put("message", B64.encodeToString(p.message()));
    }
    if (e instanceof EncryptionGroup.ProposalsRevoked r) {
      ArrayNode refs = o.put("type", "revoked").put("reason", r.reason()).putArray("refs");
      r.refs().forEach(ref -> refs.add(B64.encodeToString(ref)));
      return o;
    }
    if (e instanceof EncryptionGroup.CommitAccepted c) {
      o.put("type", "commit").put("epoch", c.epoch()).put("committer", c.committer())
          .put("message", B64.encodeToString(c.commit()));
      c.joiners().forEach(o.putArray("joiners")::add);
      c.removed().forEach(o.putArray("removed")::add);
      return o;
    }
    return null;
  }

  static ObjectNode status(EncryptionGroup.Status s) {
    ObjectNode o = obj().put("groupId", s.groupId()).put("guildId", s.guildId())
        .put("channelId", s.channelId()).put("created", s.created()).put("epoch", s.epoch())
        .put("onRoster", s.onRoster()).put("seq", s.seq()).put("welcomeSeq", s.welcomeSeq());
    ArrayNode members = o.putArray("members");
    s.members().forEach(m -> members.add(obj().put("leaf", m.leaf()).put("userId", m.userId())
        .put("deviceId", m.deviceId())));
    ArrayNode pending = o.putArray("pendingProposals");
    s.pendingProposals().forEach(p -> pending.add(B64.encodeToString(p)));
    if (s.groupInfo() != null) {
      o.put("groupInfo", B64.encodeToString(s.groupInfo()));
    } else {
      o.putNull("groupInfo");
    }
    return o;
  }
}
