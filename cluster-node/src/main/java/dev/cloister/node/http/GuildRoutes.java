package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.ChannelType;
import dev.cloister.guild.Guild;
import dev.cloister.guild.GuildDirectory;
import dev.cloister.guild.Parts;
import dev.cloister.guild.Permission;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Snowflake;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.guild.user.User;
import java.security.SecureRandom;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.pattern.StatusReply;

/** Guilds and what hangs off them: channels, roles, members, bans and invites. */
final class GuildRoutes extends JsonRoutes {

  private static final String CODE_ALPHABET =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  private static final int CODE_LENGTH = 10;
  private static final long DEFAULT_INVITE_AGE_SECONDS = 7 * 24 * 3600;

  private final ApiContext ctx;
  private final SecureRandom random = new SecureRandom();

  GuildRoutes(ApiContext ctx) {
    this.ctx = ctx;
  }

  Route route(String me) {
    return concat(
        pathPrefix("guilds", () -> concat(
            pathEnd(() -> post(() -> body(b -> create(me, b)))),
            pathPrefix(segment(), guildId -> concat(
                pathEnd(() -> concat(
                    get(() -> reply(() -> view(me, guildId))),
                    patch(() -> body(b -> update(me, guildId, b))))),
                path("channels", () -> post(() -> body(b -> createChannel(me, guildId, b)))),
                pathPrefix("roles", () -> roles(me, guildId)),
                pathPrefix("members", () -> members(me, guildId)),
                pathPrefix("bans", () -> bans(me, guildId)),
                path("invites", () -> concat(
                    get(() -> reply(() -> listInvites(me, guildId))),
                    post(() -> body(b -> createInvite(me, guildId, b))))))))),
        path(segment("invites").slash(segment()), code -> concat(
            post(() -> discardingBody(() -> acceptInvite(me, code))),
            delete(() -> discardingBody(() -> revokeInvite(me, code))))));
  }

  // ---- the guild ----

  private CompletionStage<HttpResponse> create(String me, JsonBody body) {
    String name = body.string("name").strip();
    Rejection bad = Guild.State.checkName("guild", name);
    if (bad != null) {
      throw ApiError.badRequest(bad.message());
    }
    String guildId = ctx.newId();
    String textId = ctx.newId();
    String voiceId = ctx.newId();
    // Directory rows and the channel entity first: if the node dies before the guild event, they
    // are unreachable orphans, never listed channels that do not exist.
    return ctx.sql(() -> {
          ctx.directory().register(GuildDirectory.Kind.CHANNEL, textId, guildId);
          ctx.directory().register(GuildDirectory.Kind.CHANNEL, voiceId, guildId);
          return guildId;
        })
        .thenCompose(g -> ctx.<TextChannel.Info>channel(textId,
            r -> new TextChannel.Create(guildId, "general", r)))
        .thenCompose(c -> ctx.<Guild.GuildView>guild(guildId, r -> new Guild.Create(
            name, me, textId, voiceId, System.currentTimeMillis(), r)))
        .thenCompose(view -> ctx.<User.Profile>user(me, r -> new User.JoinGuild(guildId, r))
            .thenApply(p -> response(201, Views.guild(view))));
  }

  private CompletionStage<HttpResponse> view(String me, String guildId) {
    requireId(guildId, "guild");
    return ctx.<Guild.GuildView>guild(guildId, r -> new Guild.Get(me, r))
        .thenApply(view -> response(200, Views.guild(view)));
  }

  private CompletionStage<HttpResponse> update(String me, String guildId, JsonBody body) {
    requireId(guildId, "guild");
    String name = body.optionalString("name");
    String ownerId = body.optionalString("ownerId");
    if (name == null && ownerId == null) {
      throw ApiError.badRequest("send 'name' and/or 'ownerId'");
    }
    CompletionStage<Guild.GuildView> done = CompletableFuture.completedFuture(null);
    if (name != null) {
      done = done.thenCompose(v -> ctx.act(guildId, me, new Guild.Rename(name)));
    }
    if (ownerId != null) {
      done = done.thenCompose(v -> ctx.act(guildId, me, new Guild.TransferOwnership(ownerId)));
    }
    return done.thenApply(view -> response(200, Views.guild(view)));
  }

  private CompletionStage<HttpResponse> createChannel(String me, String guildId, JsonBody body) {
    requireId(guildId, "guild");
    String name = body.string("name").strip();
    ChannelType type = ChannelType.fromWire(body.string("type")).orElseThrow(
        () -> ApiError.badRequest("type must be \"text\", \"voice\" or \"category\""));
    String parentId = body.optionalString("parentId");
    Rejection bad = Guild.State.checkName("channel", name);
    if (bad != null) {
      throw ApiError.badRequest(bad.message());
    }
    String channelId = ctx.newId();
    return ctx.<Guild.GuildView>guild(guildId,
            r -> new Guild.CheckGuildPermission(me, Permission.MANAGE_CHANNELS, r))
        .thenCompose(ok -> ctx.sql(() -> {
          ctx.directory().register(GuildDirectory.Kind.CHANNEL, channelId, guildId);
          return ok;
        }))
        .thenCompose(ok -> type == ChannelType.TEXT
            ? ctx.<TextChannel.Info>channel(channelId, r -> new TextChannel.Create(guildId, name, r))
            : CompletableFuture.completedFuture(null))
        .thenCompose(ok -> ctx.act(guildId, me,
            new Guild.AddChannel(channelId, name, type, parentId)))
        .thenApply(view -> {
          for (int i = 0; i < view.channels().size(); i++) {
            if (view.channels().get(i).id().equals(channelId)) {
              return response(201, Views.channel(guildId, view.channels().get(i), i));
            }
          }
          throw new IllegalStateException("the new channel is missing from the guild");
        });
  }

  // ---- roles ----

  private Route roles(String me, String guildId) {
    return concat(
        pathEnd(() -> concat(
            get(() -> reply(() -> viewThen(me, guildId, v -> response(200, Views.roles(v.roles()))))),
            post(() -> body(b -> {
              String roleId = ctx.newId();
              return ctx.act(guildId, me,
                      new Guild.CreateRole(roleId, b.string("name"), b.permissions("permissions")))
                  .thenApply(v -> roleResponse(v, roleId, 201));
            })))),
        path(segment(), roleId -> concat(
            patch(() -> body(b -> ctx.act(guildId, me, new Guild.UpdateRole(roleId,
                    b.optionalString("name"), b.has("permissions") ? b.permissions("permissions") : null,
                    b.optionalInt("position", 0, Guild.MAX_ROLES)))
                .thenApply(v -> roleResponse(v, roleId, 200)))),
            delete(() -> discardingBody(() -> ctx.act(guildId, me, new Guild.DeleteRole(roleId))
                .thenApply(v -> noContent()))))));
  }

  private static HttpResponse roleResponse(Guild.GuildView v, String roleId, int status) {
    for (int i = 0; i < v.roles().size(); i++) {
      if (v.roles().get(i).id().equals(roleId)) {
        return response(status, Views.role(v.roles().get(i), i));
      }
    }
    throw new IllegalStateException("the role is missing from the guild");
  }

  // ---- members ----

  private Route members(String me, String guildId) {
    return concat(
        pathEnd(() -> get(() -> paged(guildId, Guild.Members.class,
            (page, r) -> new Guild.ListMembers(me, page.after(), page.limit(), r),
            p -> p.members().stream().map(Views::member).toList()))),
        pathPrefix(segment(), member -> {
          String userId = "@me".equals(member) ? me : member;
          return concat(
              pathEnd(() -> concat(
                  patch(() -> body(b -> ctx.act(guildId, me,
                          new Guild.SetNickname(userId, b.optionalString("nickname")))
                      .thenCompose(v -> ctx.<Guild.Member>guild(guildId,
                          r -> new Guild.GetMember(me, userId, r)))
                      .thenApply(m -> response(200, Views.member(m))))),
                  delete(() -> discardingBody(() -> removeMember(me, guildId,
                      userId.equals(me) ? new Guild.Leave() : new Guild.Kick(userId), userId))))),
              path(segment("roles").slash(segment()), roleId -> concat(
                  put(() -> discardingBody(() -> ctx.act(guildId, me, new Guild.AssignRole(userId, roleId))
                      .thenApply(v -> noContent()))),
                  delete(() -> discardingBody(() -> ctx.act(guildId, me,
                          new Guild.UnassignRole(userId, roleId))
                      .thenApply(v -> noContent()))))));
        }));
  }

  private CompletionStage<HttpResponse> removeMember(
      String me, String guildId, Guild.Action action, String userId) {
    requireId(guildId, "guild");
    return ctx.act(guildId, me, action)
        .thenCompose(v -> ctx.<User.Profile>user(userId, r -> new User.LeaveGuild(guildId, r)))
        .thenApply(p -> noContent());
  }

  // ---- bans ----

  private Route bans(String me, String guildId) {
    return concat(
        pathEnd(() -> get(() -> paged(guildId, Guild.Bans.class,
            (page, r) -> new Guild.ListBans(me, page.after(), page.limit(), r),
            p -> p.bans().stream().map(Views::ban).toList()))),
        path(segment(), userId -> concat(
            put(() -> discardingBody(() -> removeMember(me, guildId, new Guild.BanMember(userId), userId))),
            delete(() -> discardingBody(() -> ctx.act(guildId, me, new Guild.Unban(userId))
                .thenApply(v -> noContent()))))));
  }

  // ---- invites ----

  private CompletionStage<HttpResponse> createInvite(String me, String guildId, JsonBody body) {
    requireId(guildId, "guild");
    int maxUses = body.has("maxUses") ? body.optionalInt("maxUses", 0, 1_000_000) : 0;
    long maxAge = body.has("maxAgeSeconds")
        ? body.optionalInt("maxAgeSeconds", 0, 30 * 24 * 3600) : DEFAULT_INVITE_AGE_SECONDS;
    String code = newCode();
    return ctx.<Guild.GuildView>guild(guildId,
            r -> new Guild.CheckGuildPermission(me, Permission.CREATE_INVITE, r))
        .thenCompose(ok -> ctx.sql(() -> {
          ctx.directory().register(GuildDirectory.Kind.INVITE, code, guildId);
          return ok;
        }))
        .thenCompose(ok -> ctx.act(guildId, me, new Guild.CreateInvite(code, maxUses, maxAge)))
        .thenCompose(v -> ctx.<Guild.GuildView>guild(guildId, r -> new Guild.Get(me, r)))
        .thenApply(v -> response(201, v.invites().stream().filter(i -> i.code().equals(code))
            .findFirst().map(i -> Views.invite(guildId, i))
            // Without MANAGE_GUILD the view hides invites; the creator still learns the code.
            .orElseGet(() -> obj().put("code", code).put("guildId", guildId))));
  }

  private CompletionStage<HttpResponse> listInvites(String me, String guildId) {
    requireId(guildId, "guild");
    return ctx.<Guild.GuildView>guild(guildId,
            r -> new Guild.CheckGuildPermission(me, Permission.MANAGE_GUILD, r))
        .thenApply(v -> {
          ArrayNode a = JsonBody.MAPPER.createArrayNode();
          v.invites().forEach(i -> a.add(Views.invite(guildId, i)));
          return response(200, a);
        });
  }

  private CompletionStage<String> guildOfInvite(String code) {
    if (code.isEmpty() || code.length() > 32) {
      return CompletableFuture.failedFuture(new ApiError(404, "not_found", "unknown invite"));
    }
    return ctx.sql(() -> ctx.directory().lookup(GuildDirectory.Kind.INVITE, code))
        .thenApply(g -> g.orElseThrow(() -> new ApiError(404, "not_found", "unknown invite")));
  }

  private CompletionStage<HttpResponse> acceptInvite(String me, String code) {
    return guildOfInvite(code).thenCompose(guildId ->
        ctx.act(guildId, me, new Guild.AcceptInvite(code))
            .thenCompose(v -> ctx.<User.Profile>user(me, r -> new User.JoinGuild(guildId, r)))
            .thenApply(p -> response(200, obj().put("guildId", guildId))));
  }

  private CompletionStage<HttpResponse> revokeInvite(String me, String code) {
    return guildOfInvite(code).thenCompose(guildId ->
        ctx.act(guildId, me, new Guild.RevokeInvite(code)).thenApply(v -> noContent()));
  }

  private String newCode() {
    StringBuilder sb = new StringBuilder(CODE_LENGTH);
    for (int i = 0; i < CODE_LENGTH; i++) {
      sb.append(CODE_ALPHABET.charAt(random.nextInt(CODE_ALPHABET.length())));
    }
    return sb.toString();
  }

  // ---- helpers ----

  /** A page of the guild's members or bans ({@link Page} from the query), as a JSON array. */
  private <P> Route paged(String guildId, Class<P> type,
      BiFunction<Page, ActorRef<StatusReply<Parts.Part>>, Guild.Command> ask,
      Function<P, List<ObjectNode>> items) {
    return parameterMap(q -> reply(() -> {
      requireId(guildId, "guild");
      Page page = Page.of(q);
      return ctx.guildInParts(guildId, type, r -> ask.apply(page, r)).thenApply(p -> {
        ArrayNode a = JsonBody.MAPPER.createArrayNode();
        a.addAll(items.apply(p));
        return response(200, a);
      });
    }));
  }

  /**
   * {@code ?after=<userId>&limit=<1..1000>} of a member or ban list: ids in ascending order,
   * after {@code after} (from the first without it), at most {@code limit} (1000 without it).
   */
  record Page(String after, int limit) {
    static Page of(java.util.Map<String, String> query) {
      String after = query.get("after");
      if (after != null && Snowflake.parse(after).isEmpty()) {
        throw ApiError.badRequest("after must be a user id");
      }
      int limit = Guild.MAX_PAGE;
      if (query.containsKey("limit")) {
        try {
          limit = Integer.parseInt(query.get("limit"));
        } catch (NumberFormatException e) {
          limit = 0;
        }
        if (limit < 1 || limit > Guild.MAX_PAGE) {
          throw ApiError.badRequest("limit must be a whole number from 1 to " + Guild.MAX_PAGE);
        }
      }
      return new Page(after, limit);
    }
  }

  private CompletionStage<HttpResponse> viewThen(
      String me, String guildId, Function<Guild.GuildView, HttpResponse> render) {
    requireId(guildId, "guild");
    return ctx.<Guild.GuildView>guild(guildId, r -> new Guild.Get(me, r)).thenApply(render);
  }

  static void requireId(String id, String what) {
    if (Snowflake.parse(id).isEmpty()) {
      throw new ApiError(404, "not_found", "unknown " + what + " '" + id + "'");
    }
  }
}
