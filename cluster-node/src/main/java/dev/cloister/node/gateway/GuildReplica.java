package dev.cloister.node.gateway;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.ChannelType;
import dev.cloister.guild.EffectivePermissions;
import dev.cloister.guild.Guild;
import dev.cloister.guild.GuildFeed;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Parts;
import dev.cloister.guild.Permission;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.guild.group.Audience;
import dev.cloister.guild.voice.VoiceChannel;
import dev.cloister.node.http.ApiError;
import dev.cloister.node.http.JsonRoutes;
import dev.cloister.node.http.Views;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import dev.cloister.node.metrics.CloisterMetrics;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * One node's copy of one guild, kept current by the guild's feed, and the fan-out of that feed to
 * the sessions on this node: every event is checked against the copy, as it stands when the event
 * arrives, for each session (VIEW_CHANNEL in the channel, membership, BAN_MEMBERS for bans). A
 * permission change is applied before any later event is checked, so it hides a channel at once.
 *
 * <p>The copy starts from the guild entity's state and sequence number and applies the events
 * that follow; a gap in the sequence (pub-sub is at-most-once) makes it reload the state. In a
 * cluster of several nodes, the other nodes' topic actors learn of a new subscriber through the
 * receptionist's gossip, so a new copy answers its first sessions only after
 * {@code replica-settle}, then reloads: a session that got ready misses nothing published
 * elsewhere.
 */
final class GuildReplica extends AbstractBehavior<GuildReplica.Command> {

  sealed interface Command {}

  record Register(String userId, ActorRef<GatewaySession.Command> session) implements Command {}

  record PublishTyping(String userId, String channelId) implements Command {}

  record PublishPresence(String userId, String status, ActorRef<GatewaySession.Command> session)
      implements Command {}

  /** From the parent: {@code node} (a cluster address) left the cluster. */
  record NodeGone(String node) implements Command {}

  /** A session's {@code request_presences}: the answer goes to its connection. */
  record AskPresences(String guildId, List<String> userIds, String nonce,
      ActorRef<GatewayConnection.Command> connection) implements Command {}

  /**
   * Which permissions {@code userId} has in {@code channelId} if it is a voice channel they can
   * see ({@code problem} says why not otherwise), decided on this copy of the guild.
   */
  record VoiceAccess(String userId, String channelId, ActorRef<VoiceAccessAnswer> replyTo)
      implements Command {}

  record VoiceAccessAnswer(long permissions, String problem) {}

  /** From the parent, once it stopped sending registrations here. */
  record Stop() implements Command {}

  private record FromFeed(GuildFeed.Item item) implements Command {}

  /** Time to send a large guild's presence changes gathered since the last batch. */
  private record FlushPresence() implements Command {}

  /** The guild's state and, for each of its voice channels, who is in it. */
  private record Loaded(Guild.Replica replica, List<VoiceChannel.Participants> voice)
      implements Command {}

  private record LoadFailed(Throwable cause) implements Command {}

  /** A part of the guild's state (a large guild's state crosses the network in parts). */
  private record ReplicaPart(Parts.Part part) implements Command {}

  /** The parts of transfer {@code transferId} did not all come in time. */
  private record ReplicaTimedOut(long transferId) implements Command {}

  private record Reload() implements Command {}

  private record Settled() implements Command {}

  /** The guild's topic actor on this node stopped (the feed's sweep of idle topics). */
  private record TopicStopped() implements Command {}

  private record SessionGone(ActorRef<GatewaySession.Command> session) implements Command {}

  private record CheckIdle() implements Command {}

  static Behavior<Command> create(String guildId, GuildFeed feed, ClusterSharding sharding,
      GatewaySettings settings, ActorRef<Gateway.Command> parent) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new GuildReplica(ctx, timers, guildId, feed, sharding, settings, parent)));
  }

  private final TimerScheduler<Command> timers;
  private final String guildId;
  private final GuildFeed feed;
  private final ClusterSharding sharding;
  private final GatewaySettings settings;
  private final ActorRef<Gateway.Command> parent;
  private final ActorRef<GuildFeed.Item> feedAdapter;
  private final ActorRef<Parts.Part> partAdapter;
  private final int partBytes;
  private final int largeThreshold;
  /** The transfer of the guild's state under way, if any. */
  private Parts.Assembler transfer;
  private long transfers;

  private Guild.State state;
  private long seqNr = -1;
  private boolean loading;
  private final List<GuildFeed.Item> pendingFeed = new ArrayList<>();
  /** Channel events authorised by a guild version this copy has not reached yet, in order. */
  private final List<GuildFeed.ChannelChanged> ahead = new ArrayList<>();
  private Audience.Plan plan;
  private Guild.State planOf;
  private final List<Register> pendingRegistrations = new ArrayList<>();
  private final Map<ActorRef<GatewaySession.Command>, String> sessions = new LinkedHashMap<>();
  // Presence: each local session's own status; per member, what each node's sessions add up to
  // as published (never offline: a member no node holds is offline), the highest of which this
  // node's sessions are told; and what this node published.
  private final Map<String, Map<ActorRef<GatewaySession.Command>, String>> statusByUser =
      new java.util.HashMap<>();
  private final Map<String, Map<String, String>> statusByNode = new java.util.HashMap<>();
  private final Map<String, String> published = new java.util.HashMap<>();
  /**
   * A large guild's presence changes not sent yet, the newest status of each user: sent as one
   * PRESENCE_BATCH per {@code presenceBatchInterval}.
   */
  private final Map<String, String> presenceBatch = new LinkedHashMap<>();
  private final Duration presenceBatchInterval;
  /** This node's cluster address: this copy as the other nodes' copies know it. */
  private final String self;
  /** Whether this copy has asked the other nodes' copies who is online since it subscribed. */
  private boolean presenceAsked;
  /** Per voice channel: its event count as last heard, and who is in it (as the feed tells). */
  private final Map<String, VoiceTrack> voice = new java.util.HashMap<>();
  private long registrationsReceived;
  private boolean settled;

  private GuildReplica(ActorContext<Command> ctx, TimerScheduler<Command> timers, String guildId,
      GuildFeed feed, ClusterSharding sharding, GatewaySettings settings,
      ActorRef<Gateway.Command> parent) {
    super(ctx);
    this.timers = timers;
    this.guildId = guildId;
    this.feed = feed;
    this.sharding = sharding;
    this.settings = settings;
    this.parent = parent;
    this.feedAdapter = ctx.messageAdapter(GuildFeed.Item.class, FromFeed::new);
    this.partAdapter = ctx.messageAdapter(Parts.Part.class, ReplicaPart::new);
    this.largeThreshold = ctx.getSystem().settings().config().getInt("cloister.gateway.large-threshold");
    this.presenceBatchInterval = ctx.getSystem().settings().config()
        .getDuration("cloister.gateway.presence-batch-interval");
    this.partBytes = Parts.partBytes(ctx.getSystem());
    this.self = org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).selfMember()
        .address().toString();
    subscribe();
    load();
    settled = !org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).state().getMembers()
        .iterator().hasNext() || countMembers(ctx) <= 1;
    if (!settled) {
      timers.startSingleTimer(new Settled(), settings.replicaSettle());
    }
    timers.startTimerWithFixedDelay(new CheckIdle(), settings.replicaLinger());
  }

  private static int countMembers(ActorContext<?> ctx) {
    int n = 0;
    for (org.apache.pekko.cluster.Member ignored :
        org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).state().getMembers()) {
      n++;
    }
    return n;
  }

  private static final class VoiceTrack {
    long version = -1;
    final Map<String, GuildFeed.VoiceStateChanged> byUser = new LinkedHashMap<>();
  }

  private static final Duration LOAD_TIMEOUT = Duration.ofSeconds(10);

  /** Asks the guild for its state, which comes back as parts ({@link #onPart}). */
  private void load() {
    loading = true;
    transfer = new Parts.Assembler(++transfers);
    sharding.entityRefFor(Guild.ENTITY_KEY, guildId)
        .tell(new Guild.GetReplica(transfers, partBytes, partAdapter));
    timers.startSingleTimer(ReplicaTimedOut.class, new ReplicaTimedOut(transfers), LOAD_TIMEOUT);
  }

  private Behavior<Command> onPart(Parts.Part part) {
    if (transfer == null || !transfer.add(part)) {
      return this; // more to come, or a part of an abandoned transfer
    }
    timers.cancel(ReplicaTimedOut.class);
    Guild.Replica r;
    try {
      r = transfer.message(getContext().getSystem(), Guild.Replica.class);
    } catch (RuntimeException e) {
      transfer = null;
      getContext().getSelf().tell(new LoadFailed(e));
      return this;
    }
    transfer = null;
    List<java.util.concurrent.CompletableFuture<VoiceChannel.Participants>> asks = new ArrayList<>();
    for (Guild.Channel c : r.state().channels()) {
      if (c.type() == ChannelType.VOICE) {
        asks.add(sharding.entityRefFor(VoiceChannel.ENTITY_KEY, c.id())
            .<VoiceChannel.Participants>askWithStatus(VoiceChannel.GetParticipants::new, LOAD_TIMEOUT)
            .toCompletableFuture());
      }
    }
    getContext().pipeToSelf(
        java.util.concurrent.CompletableFuture
            .allOf(asks.toArray(java.util.concurrent.CompletableFuture[]::new))
            .thenApply(x -> new Loaded(r, asks.stream()
                .map(java.util.concurrent.CompletableFuture::join).toList())),
        (loaded, failure) -> failure == null ? loaded : new LoadFailed(failure));
    return this;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Register.class, this::onRegister)
        .onMessage(FromFeed.class, m -> onFeed(m.item()))
        .onMessage(Loaded.class, this::onLoaded)
        .onMessage(ReplicaPart.class, m -> onPart(m.part()))
        .onMessage(ReplicaTimedOut.class, m -> {
          if (transfer != null && m.transferId() == transfers) {
            transfer = null;
            getContext().getSelf().tell(new LoadFailed(new java.util.concurrent.TimeoutException(
                "the guild's state did not come within " + LOAD_TIMEOUT.toSeconds() + " s")));
          }
          return this;
        })
        .onMessage(LoadFailed.class, m -> {
          loading = false; // so that the Reload below loads again
          getContext().getLog().warn("Could not load guild {} for the gateway: {}", guildId,
              m.cause().toString());
          timers.startSingleTimer(new Reload(), Duration.ofSeconds(1));
          return this;
        })
        .onMessage(Settled.class, m -> {
          settled = true;
          load(); // registrations wait for this load
          return this;
        })
        .onMessage(Reload.class, m -> {
          if (!loading) {
            load();
          }
          return this;
        })
        .onMessage(PublishTyping.class, this::onTyping)
        .onMessage(FlushPresence.class, m -> flushPresence())
        .onMessage(AskPresences.class, this::onAskPresences)
        .onMessage(NodeGone.class, this::onNodeGone)
        .onMessage(VoiceAccess.class, this::onVoiceAccess)
        .onMessage(PublishPresence.class, m -> {
          if (sessions.containsKey(m.session())) {
            statusByUser.computeIfAbsent(m.userId(), u -> new java.util.HashMap<>())
                .put(m.session(), m.status());
            announcePresence(m.userId());
          }
          return this;
        })
        .onMessage(SessionGone.class, m -> {
          String user = sessions.remove(m.session());
          if (user != null && forgetStatus(user, m.session())) {
            announcePresence(user);
          }
          return this;
        })
        .onMessage(CheckIdle.class, m -> {
          if (sessions.isEmpty() && pendingRegistrations.isEmpty()) {
            parent.tell(new Gateway.ReplicaIdle(guildId, getContext().getSelf(), registrationsReceived));
          }
          return this;
        })
        .onMessage(TopicStopped.class, m -> {
          if (org.apache.pekko.actor.CoordinatedShutdown.get(getContext().getSystem())
              .getShutdownReason().isPresent()) {
            return this; // the node is stopping, its topics with it
          }
          // The node's feed stopped the topic as idle while this copy was subscribing: subscribe
          // to its new one, and reload for whatever went by meanwhile.
          subscribe();
          presenceAsked = false;
          if (!loading) {
            load();
          }
          return this;
        })
        .onMessage(Stop.class, m -> Behaviors.stopped())
        .build();
  }

  private void subscribe() {
    ActorRef<Topic.Command<GuildFeed.Item>> topic = feed.topic(guildId);
    topic.tell(Topic.subscribe(feedAdapter));
    getContext().watchWith(topic, new TopicStopped());
  }

  // ---- state ----

  private Behavior<Command> onLoaded(Loaded m) {
    loading = false;
    Guild.Replica r = m.replica();
    Guild.State before = state;
    if (r.seqNr() >= seqNr) {
      state = r.state();
      seqNr = r.seqNr();
    }
    if (before != null && state != before) {
      reconcile(before, state);
    }
    if (settled && !presenceAsked) {
      // Only once settled: before that, the other nodes' topics may not reach this copy yet.
      presenceAsked = true;
      feed.publish(new GuildFeed.PresenceAsked(guildId, self));
    }
    for (VoiceChannel.Participants p : m.voice()) {
      VoiceTrack t = voice.computeIfAbsent(p.channelId(), c -> new VoiceTrack());
      if (p.version() >= t.version) {
        t.version = p.version();
        t.byUser.clear();
        p.states().forEach(v -> t.byUser.put(v.userId(), new GuildFeed.VoiceStateChanged(guildId,
            p.channelId(), v.userId(), v.sessionId(), v.deviceId(), v.selfMute(), v.selfDeaf(),
            v.serverMute(), v.serverDeaf(), null, p.version())));
      }
    }
    List<GuildFeed.Item> buffered = new ArrayList<>(pendingFeed);
    pendingFeed.clear();
    buffered.forEach(this::onFeed);
    flushAhead();
    List<Register> waiting = new ArrayList<>(pendingRegistrations);
    pendingRegistrations.clear();
    waiting.forEach(this::onRegister);
    return this;
  }

  /**
   * A reload (after a gap in the feed) may bring changes this copy never heard of: members who
   * left or were removed lose the guild on their sessions here, and everyone's channel visibility
   * is diffed, as if the missed events had come one by one.
   */
  private void reconcile(Guild.State before, Guild.State after) {
    Set<String> gone = new LinkedHashSet<>();
    sessions.values().forEach(user -> {
      if (!after.members().containsKey(user)) {
        gone.add(user);
      }
    });
    for (String user : gone) {
      removeMember(user);
      toAll("GUILD_MEMBER_REMOVE", Gateway.encoded(JsonRoutes.obj().put("guildId", guildId)
          .put("userId", user)));
    }
    visibilityChanges(before, after, null);
  }

  /** Sessions whose registration waits for one reload before it is refused. */
  private final Set<ActorRef<GatewaySession.Command>> rechecked = new java.util.HashSet<>();

  private Behavior<Command> onRegister(Register r) {
    if (state == null || !settled || loading) {
      pendingRegistrations.add(r);
      return this;
    }
    registrationsReceived++;
    Outcome<Guild.GuildView> view = state.view(r.userId());
    if (!(view instanceof Outcome.Ok<Guild.GuildView> ok)) {
      if (!state.members().containsKey(r.userId()) && rechecked.add(r.session())) {
        // A member who joined a moment ago can reach this copy (through the memberships topic)
        // before the join does (through the guild's topic): reload once before refusing.
        pendingRegistrations.add(r);
        if (!loading) {
          load();
        }
        return this;
      }
      rechecked.remove(r.session());
      r.session().tell(new GatewaySession.GuildRefused(guildId));
      return this;
    }
    rechecked.remove(r.session());
    if (!sessions.containsKey(r.session())) {
      sessions.put(r.session(), r.userId());
      getContext().watchWith(r.session(), new SessionGone(r.session()));
    }
    ObjectNode g = guildJson(ok.value(), state, r.userId(), largeThreshold);
    if (state.members().size() <= largeThreshold) {
      // Not a large guild's: thousands of presences for each of thousands of sessions, each
      // keeping its ready for a resume, would not fit (tried as one shared batch after each
      // ready instead, 10,000 members' clients starting together ran out of memory); its
      // clients ask about the members they show (request_presences).
      putPresences(g, online());
    }
    ArrayNode states = g.putArray("voiceStates");
    voice.forEach((channelId, t) -> {
      Guild.Channel c = state.channel(channelId);
      if (c != null && canView(r.userId(), c)) {
        t.byUser.values().forEach(v -> states.add(voiceStateJson(v)));
      }
    });
    r.session().tell(new GatewaySession.GuildSnapshot(guildId, getContext().getSelf(),
        Gateway.json(g)));
    return this;
  }

  /**
   * The presence of the members asked about (offline if not online, left out if not members):
   * how a client of a large guild, whose ready carries none, learns the status of the members it
   * shows. Not numbered: an answer, like an ack.
   */
  private Behavior<Command> onAskPresences(AskPresences a) {
    if (state == null) {
      a.connection().tell(GatewayConnection.Send.of(GatewayConnection.errorFrame(a.nonce(),
          ApiError.unavailable("the guild is loading; ask again", 1))));
      return this;
    }
    Map<String, String> asked = new LinkedHashMap<>();
    for (String user : a.userIds()) {
      if (state.members().containsKey(user)) {
        asked.put(user, statusOf(user));
      }
    }
    ObjectNode d = putPresences(JsonRoutes.obj().put("guildId", guildId), asked);
    if (a.nonce() != null) {
      d.put("nonce", a.nonce());
    }
    a.connection().tell(GatewayConnection.Send.of("{\"op\":\"presences\",\"d\":"
        + Gateway.json(d) + "}"));
    return this;
  }

  /** {@code o} with {@code presences: [{userId, status}]}. */
  private static ObjectNode putPresences(ObjectNode o, Map<String, String> statuses) {
    ArrayNode presences = o.putArray("presences");
    statuses.forEach((user, status) ->
        presences.addObject().put("userId", user).put("status", status));
    return o;
  }

  /** The members not offline, as the nodes' sessions say. */
  private Map<String, String> online() {
    Map<String, String> online = new LinkedHashMap<>();
    statusByNode.forEach((user, nodes) -> {
      if (state.members().containsKey(user)) {
        online.put(user, highest(nodes.values()));
      }
    });
    return online;
  }

  /** A member's status: the highest of what the nodes holding their sessions say. */
  private String statusOf(String userId) {
    Map<String, String> nodes = statusByNode.get(userId);
    return nodes == null ? "offline" : highest(nodes.values());
  }

  /** Online over idle over offline; offline if none. */
  private static String highest(java.util.Collection<String> statuses) {
    String best = "offline";
    for (String s : statuses) {
      if (rank(s) > rank(best)) {
        best = s;
      }
    }
    return best;
  }

  private Behavior<Command> onVoiceAccess(VoiceAccess q) {
    Guild.Channel c = state == null ? null : state.channel(q.channelId());
    if (c == null || !state.members().containsKey(q.userId()) || !canView(q.userId(), c)) {
      q.replyTo().tell(new VoiceAccessAnswer(0, "unknown channel"));
    } else if (c.type() != ChannelType.VOICE) {
      q.replyTo().tell(new VoiceAccessAnswer(0, "channel " + c.id() + " is not a voice channel"));
    } else {
      q.replyTo().tell(new VoiceAccessAnswer(
          EffectivePermissions.inChannel(state, q.userId(), c), null));
    }
    return this;
  }

  /** A voice state as clients see it; {@code channelId} null once the member left. */
  private static ObjectNode voiceStateJson(GuildFeed.VoiceStateChanged v) {
    ObjectNode o = JsonRoutes.obj().put("guildId", v.guildId());
    if (v.left() == null) {
      o.put("channelId", v.channelId());
    } else {
      o.putNull("channelId").put("fromChannelId", v.channelId()).put("reason", v.left());
    }
    return o.put("userId", v.userId()).put("sessionId", v.sessionId())
        .put("deviceId", v.deviceId()).put("selfMute", v.selfMute()).put("selfDeaf", v.selfDeaf())
        .put("mute", v.serverMute()).put("deaf", v.serverDeaf());
  }

  /**
   * The guild as {@code userId} sees it, with its members if there are at most
   * {@code largeThreshold}; a larger guild is {@code large} and carries only the user's own member
   * (clients page through {@code GET /guilds/{id}/members}), so that ready does not grow with
   * the guilds a user is in.
   */
  static ObjectNode guildJson(Guild.GuildView v, Guild.State state, String userId,
      int largeThreshold) {
    ObjectNode g = Views.guild(v);
    ArrayNode members = g.putArray("members");
    boolean large = state.members().size() > largeThreshold;
    g.put("large", large);
    if (large) {
      Guild.Member me = state.members().get(userId);
      if (me != null) {
        members.add(Views.member(me));
      }
    } else {
      state.members().values().forEach(m -> members.add(Views.member(m)));
    }
    return g;
  }

  private Behavior<Command> onFeed(GuildFeed.Item item) {
    if (state == null || loading) {
      pendingFeed.add(item);
      return this;
    }
    if (item instanceof GuildFeed.GuildChanged g) {
      if (g.seqNr() <= seqNr) {
        return this; // already in the loaded state
      }
      if (g.seqNr() > seqNr + 1) {
        getContext().getLog().info("Guild {} feed skipped from {} to {}; reloading", guildId,
            seqNr, g.seqNr());
        pendingFeed.add(item);
        load();
        return this;
      }
      Guild.State before = state;
      state = state.apply(g.event());
      seqNr = g.seqNr();
      dispatchGuildEvent(before, state, g.event());
      flushAhead();
    } else if (item instanceof GuildFeed.ChannelChanged c) {
      onChannelEvent(c);
    } else if (item instanceof GuildFeed.GroupChanged g) {
      dispatchGroupEvent(g);
    } else if (item instanceof GuildFeed.KeyPackagesLow k) {
      byte[] payload = Gateway.encoded(JsonRoutes.obj().put("guildId", guildId)
          .put("deviceId", k.deviceId()).put("available", k.available()));
      sessions.forEach((s, user) -> {
        if (user.equals(k.userId())) {
          s.tell(new GatewaySession.Deliver(guildId, "KEY_PACKAGES_LOW", payload));
        }
      });
    } else if (item instanceof GuildFeed.TypingStarted t) {
      Guild.Channel channel = state.channel(t.channelId());
      if (channel != null) {
        byte[] payload = Gateway.encoded(JsonRoutes.obj().put("guildId", guildId)
            .put("channelId", t.channelId()).put("userId", t.userId())
            .put("timestamp", Instant.ofEpochMilli(t.atMillis()).toString()));
        sessions.forEach((s, user) -> {
          if (!user.equals(t.userId()) && canView(user, channel)) {
            s.tell(new GatewaySession.Deliver(guildId, "TYPING_START", payload));
          }
        });
      }
    } else if (item instanceof GuildFeed.VoiceStateChanged v) {
      onVoiceState(v);
    } else if (item instanceof GuildFeed.VoiceServerMoved m) {
      // Holds the call's ICE password: to the sessions of that member only; the one in the call
      // takes it.
      sessions.forEach((s, user) -> {
        if (user.equals(m.userId())) {
          s.tell(new GatewaySession.VoiceMoved(m));
        }
      });
    } else if (item instanceof GuildFeed.VoiceRollCall rc) {
      // A voice channel that came back asks whether its participants' sessions still live: the
      // sessions of its participants here answer it themselves.
      VoiceTrack t = voice.get(rc.channelId());
      sessions.forEach((s, user) -> {
        if (t == null || t.byUser.containsKey(user)) {
          s.tell(new GatewaySession.VoiceRollCall(rc));
        }
      });
    } else if (item instanceof GuildFeed.SpeakingChanged sp) {
      VoiceTrack t = voice.get(sp.channelId());
      if (t != null && !t.byUser.isEmpty()) {
        ObjectNode d = JsonRoutes.obj().put("guildId", guildId).put("channelId", sp.channelId());
        ArrayNode speakers = d.putArray("speakers");
        for (int i = 0; i < sp.userIds().size(); i++) {
          speakers.addObject().put("userId", sp.userIds().get(i)).put("ssrc", sp.ssrcs().get(i));
        }
        byte[] payload = Gateway.encoded(d);
        sessions.forEach((s, user) -> {
          if (t.byUser.containsKey(user)) {
            s.tell(new GatewaySession.Deliver(guildId, "SPEAKING", payload));
          }
        });
      }
    } else if (item instanceof GuildFeed.PresenceChanged p) {
      nodeSays(p.userId(), p.node() == null ? "" : p.node(), p.status());
    } else if (item instanceof GuildFeed.PresenceAsked a && !a.node().equals(self)) {
      Map<String, String> mine = new LinkedHashMap<>(published); // never offline
      mine.keySet().retainAll(state.members().keySet());
      if (!mine.isEmpty()) {
        feed.publish(new GuildFeed.PresenceHeld(guildId, self, mine));
      }
    } else if (item instanceof GuildFeed.PresenceHeld h && !h.node().equals(self)) {
      // All that another node's sessions say: this copy's sessions learn what they did not know.
      List<String> users = new ArrayList<>(h.statuses().keySet());
      statusByNode.forEach((user, nodes) -> {
        if (nodes.containsKey(h.node()) && !h.statuses().containsKey(user)) {
          users.add(user);
        }
      });
      users.forEach(user -> nodeSays(user, h.node(),
          h.statuses().getOrDefault(user, "offline")));
    }
    return this;
  }

  /**
   * What {@code node}'s sessions of a member add up to now; the member's status is the highest of
   * the nodes' (a user on two devices, on two nodes, is online while either is), and this node's
   * sessions hear when that changes.
   */
  private void nodeSays(String userId, String node, String status) {
    String before = statusOf(userId);
    Map<String, String> nodes = statusByNode.computeIfAbsent(userId, u -> new java.util.HashMap<>());
    if (status.equals("offline")) {
      nodes.remove(node);
    } else {
      nodes.put(node, status);
    }
    if (nodes.isEmpty()) {
      statusByNode.remove(userId);
    }
    String after = statusOf(userId);
    if (!after.equals(before)) {
      tell(userId, after);
    }
  }

  private static int rank(String status) {
    return switch (status) {
      case "online" -> 2;
      case "idle" -> 1;
      default -> 0;
    };
  }

  /** Tells this node's sessions a member's new status. */
  private void tell(String userId, String status) {
    if (state.members().size() > largeThreshold) {
      // Everyone in a guild telling everyone else each change is n^2 frames when its n members
      // come online (50 million for 10,000): a large guild's changes go out in batches, at
      // most one frame per session per interval.
      presenceBatch.put(userId, status);
      if (!timers.isTimerActive(FlushPresence.class)) {
        timers.startSingleTimer(FlushPresence.class, new FlushPresence(), presenceBatchInterval);
      }
    } else {
      byte[] payload = Gateway.encoded(JsonRoutes.obj().put("guildId", guildId)
          .put("userId", userId).put("status", status));
      toAll("PRESENCE_UPDATE", payload);
    }
  }

  /**
   * Keeps the channel's voice states and tells those who can see the channel; the sessions of a
   * member who left learn it (the one that was in the call clears its own voice state).
   */
  private void onVoiceState(GuildFeed.VoiceStateChanged v) {
    VoiceTrack t = voice.computeIfAbsent(v.channelId(), c -> new VoiceTrack());
    if (v.seqNr() < t.version) {
      return; // older than what the channel entity told this copy
    }
    t.version = v.seqNr();
    GuildFeed.VoiceStateChanged before;
    if (v.left() == null) {
      before = t.byUser.put(v.userId(), v);
    } else {
      before = t.byUser.remove(v.userId());
    }
    Guild.Channel channel = state.channel(v.channelId());
    if (channel == null) {
      return;
    }
    byte[] payload = Gateway.encoded(voiceStateJson(v));
    sessions.forEach((s, user) -> {
      if (canView(user, channel)) {
        s.tell(new GatewaySession.Deliver(guildId, "VOICE_STATE_UPDATE", payload));
      }
      if (v.left() != null && before != null && user.equals(v.userId())) {
        s.tell(new GatewaySession.VoiceGone(guildId, v.channelId(), before.sessionId()));
      }
    });
  }

  /**
   * Publishes what this node's sessions of a member add up to (online over idle over offline)
   * when it changes, so that a user with many sessions does not flood the guild; every node's
   * copy keeps each node's word and tells its sessions the highest.
   */
  private void announcePresence(String userId) {
    if (state == null || !state.members().containsKey(userId)) {
      return;
    }
    String best = localStatus(userId);
    if (!best.equals(published.getOrDefault(userId, "offline"))) {
      if (best.equals("offline")) {
        published.remove(userId);
      } else {
        published.put(userId, best);
      }
      feed.publish(new GuildFeed.PresenceChanged(guildId, userId, best, self));
    }
  }

  /**
   * A node left the cluster (a graceful stop or a crash): what its sessions said no longer
   * counts. Every copy does this for itself; nothing is published for a node that can no longer
   * speak.
   */
  private Behavior<Command> onNodeGone(NodeGone g) {
    if (g.node().equals(self) || state == null) {
      return this;
    }
    List<String> theirs = new ArrayList<>();
    statusByNode.forEach((user, nodes) -> {
      if (nodes.containsKey(g.node())) {
        theirs.add(user);
      }
    });
    theirs.forEach(user -> nodeSays(user, g.node(), "offline"));
    return this;
  }

  /** What this node's sessions of {@code userId} add up to. */
  private String localStatus(String userId) {
    return highest(statusByUser.getOrDefault(userId, Map.of()).values());
  }

  private boolean forgetStatus(String userId, ActorRef<GatewaySession.Command> session) {
    Map<ActorRef<GatewaySession.Command>, String> mine = statusByUser.get(userId);
    boolean had = mine != null && mine.remove(session) != null;
    if (mine != null && mine.isEmpty()) {
      statusByUser.remove(userId);
    }
    return had;
  }

  private Behavior<Command> onTyping(PublishTyping t) {
    if (state == null) {
      return this;
    }
    Guild.Channel c = state.channel(t.channelId());
    if (c != null && state.members().containsKey(t.userId())
        && Permission.SEND_MESSAGES.in(EffectivePermissions.inChannel(state, t.userId(), c))) {
      feed.publish(new GuildFeed.TypingStarted(guildId, t.channelId(), t.userId(),
          System.currentTimeMillis()));
    }
    return this;
  }

  // ---- delivery ----

  private boolean canView(String userId, Guild.Channel c) {
    return Permission.VIEW_CHANNEL.in(EffectivePermissions.inChannel(state, userId, c));
  }

  private Behavior<Command> flushPresence() {
    if (presenceBatch.isEmpty()) {
      return this;
    }
    ObjectNode d = putPresences(JsonRoutes.obj().put("guildId", guildId), presenceBatch);
    presenceBatch.clear();
    toAll("PRESENCE_BATCH", Gateway.encoded(d));
    return this;
  }

  private void toAll(String t, byte[] payload) {
    sessions.keySet().forEach(s -> s.tell(new GatewaySession.Deliver(guildId, t, payload)));
  }

  /**
   * Visibility is decided in order: a post authorised by guild version v is checked against this
   * copy only once the copy has reached v (a permission change published on another node may
   * still be on its way); a copy still behind after a second reloads.
   */
  private void onChannelEvent(GuildFeed.ChannelChanged c) {
    long needed = c.event() instanceof TextChannel.MessagePosted p ? p.guildVersion() : 0;
    if (!ahead.isEmpty() || needed > seqNr) {
      if (ahead.isEmpty()) {
        timers.startSingleTimer(new Reload(), Duration.ofSeconds(1));
      }
      ahead.add(c);
      return;
    }
    dispatchChannelEvent(c);
  }

  private void flushAhead() {
    while (!ahead.isEmpty()) {
      GuildFeed.ChannelChanged c = ahead.get(0);
      long needed = c.event() instanceof TextChannel.MessagePosted p ? p.guildVersion() : 0;
      if (needed > seqNr) {
        return;
      }
      ahead.remove(0);
      dispatchChannelEvent(c);
    }
  }

  private Audience.Plan plan() {
    if (planOf != state) {
      plan = Audience.of(state);
      planOf = state;
    }
    return plan;
  }

  /**
   * A group's proposals and commits go to the sessions of the users in its audience, and of the
   * users a commit removed (so their devices learn they are out); a commit's joiners also get
   * MLS_WELCOME (they fetch the Welcome itself over REST).
   */
  private void dispatchGroupEvent(GuildFeed.GroupChanged g) {
    Set<String> audience = new LinkedHashSet<>();
    Guild.Channel groupChannel = g.channelId() == null ? null : state.channel(g.channelId());
    if (groupChannel != null && groupChannel.type() == ChannelType.VOICE) {
      // A call's group: its audience is who is in the call.
      VoiceTrack t = voice.get(g.channelId());
      if (t != null) {
        audience.addAll(t.byUser.keySet());
      }
    } else {
      for (Audience.GroupRoster r : plan().groups()) {
        if (r.groupId().equals(g.groupId())) {
          audience.addAll(r.userIds());
        }
      }
    }
    Set<String> removedUsers = new LinkedHashSet<>();
    g.removed().forEach(d -> removedUsers.add(d.substring(0, d.indexOf('/'))));
    Set<String> joinerUsers = new LinkedHashSet<>();
    g.devices().forEach(d -> joinerUsers.add(d.substring(0, d.indexOf('/'))));
    ObjectNode d = JsonRoutes.obj().put("guildId", guildId).put("groupId", g.groupId())
        .put("seq", g.seqNr()).put("epoch", g.epoch());
    if (g.message() != null) {
      d.put("message", java.util.Base64.getEncoder().encodeToString(g.message()));
    }
    String t;
    switch (g.kind()) {
      case "proposal" -> t = "MLS_PROPOSALS";
      case "commit" -> {
        t = "MLS_COMMIT";
        g.devices().forEach(d.putArray("joiners")::add);
        g.removed().forEach(d.putArray("removed")::add);
      }
      case "revoked" -> t = "MLS_PROPOSALS_REVOKED";
      case "created" -> t = "MLS_GROUP_CREATE";
      default -> {
        return;
      }
    }
    byte[] payload = Gateway.encoded(d);
    byte[] welcome = g.kind().equals("commit") && !g.devices().isEmpty()
        ? Gateway.encoded(JsonRoutes.obj().put("guildId", guildId).put("groupId", g.groupId())
            .put("seq", g.seqNr()).put("epoch", g.epoch() + 1).set("devices",
                Gateway.JSON.valueToTree(g.devices())))
        : null;
    sessions.forEach((s, user) -> {
      if (audience.contains(user) || removedUsers.contains(user)) {
        s.tell(new GatewaySession.Deliver(guildId, t, payload));
      }
      if (welcome != null && joinerUsers.contains(user)) {
        s.tell(new GatewaySession.Deliver(guildId, "MLS_WELCOME", welcome));
      }
    });
  }

  private void dispatchChannelEvent(GuildFeed.ChannelChanged c) {
    Guild.Channel channel = state.channel(c.channelId());
    if (channel == null) {
      return;
    }
    TextChannel.Event e = c.event();
    ChannelDispatch.Rendered r = ChannelDispatch.render(guildId, c.channelId(), e);
    if (r == null) {
      return;
    }
    String t = r.t();
    byte[] payload = r.payload();
    // One permission computation per user, however many sessions they have here.
    Map<String, Boolean> allowed = new java.util.HashMap<>();
    int[] recipients = {0};
    sessions.forEach((s, user) -> {
      if (allowed.computeIfAbsent(user, u -> canView(u, channel))) {
        s.tell(new GatewaySession.Deliver(guildId, t, payload, c.channelId(), c.seqNr()));
        recipients[0]++;
      }
    });
    if (e instanceof TextChannel.MessagePosted p) {
      CloisterMetrics.DISPATCH_DELAY.record(Math.max(0,
          System.currentTimeMillis() - p.createdAtMillis()), TimeUnit.MILLISECONDS);
      CloisterMetrics.DISPATCH_RECIPIENTS.record(recipients[0]);
    }
  }

  private void dispatchGuildEvent(Guild.State before, Guild.State after, Guild.Event e) {
    if (e instanceof Guild.GuildRenamed || e instanceof Guild.OwnershipTransferred) {
      toAll("GUILD_UPDATE", Gateway.encoded(JsonRoutes.obj().put("id", guildId)
          .put("name", after.name()).put("ownerId", after.ownerId())));
    } else if (e instanceof Guild.ChannelAdded || e instanceof Guild.ChannelUpdated) {
      Guild.Channel c = after.channel(e instanceof Guild.ChannelAdded a
          ? a.channel().id() : ((Guild.ChannelUpdated) e).channelId());
      String type = e instanceof Guild.ChannelAdded ? "CHANNEL_CREATE" : "CHANNEL_UPDATE";
      byte[] payload = Gateway.encoded(Views.channel(guildId, c, after.channels().indexOf(c)));
      sessions.forEach((s, user) -> {
        if (canViewIn(after, user, c)) {
          s.tell(new GatewaySession.Deliver(guildId, type, payload));
        }
      });
    } else if (e instanceof Guild.ChannelDeleted d) {
      Guild.Channel c = before.channel(d.channelId());
      byte[] payload = Gateway.encoded(JsonRoutes.obj().put("id", d.channelId()).put("guildId", guildId));
      sessions.forEach((s, user) -> {
        if (c != null && canViewIn(before, user, c)) {
          s.tell(new GatewaySession.Deliver(guildId, "CHANNEL_DELETE", payload));
        }
      });
    } else if (e instanceof Guild.OverwriteSet || e instanceof Guild.OverwriteRemoved) {
      String channelId = e instanceof Guild.OverwriteSet s ? s.channelId()
          : ((Guild.OverwriteRemoved) e).channelId();
      visibilityChanges(before, after, channelId);
    } else if (e instanceof Guild.RoleCreated || e instanceof Guild.RoleUpdated
        || e instanceof Guild.RoleMoved) {
      String roleId = e instanceof Guild.RoleCreated c ? c.role().id()
          : e instanceof Guild.RoleUpdated u ? u.roleId() : ((Guild.RoleMoved) e).roleId();
      Guild.Role role = after.role(roleId);
      toAll(e instanceof Guild.RoleCreated ? "GUILD_ROLE_CREATE" : "GUILD_ROLE_UPDATE",
          Gateway.encoded(JsonRoutes.obj().put("guildId", guildId)
              .set("role", Views.role(role, after.roles().indexOf(role)))));
      visibilityChanges(before, after, null);
    } else if (e instanceof Guild.RoleDeleted d) {
      toAll("GUILD_ROLE_DELETE", Gateway.encoded(JsonRoutes.obj().put("guildId", guildId)
          .put("roleId", d.roleId())));
      visibilityChanges(before, after, null);
    } else if (e instanceof Guild.MemberRoleAdded || e instanceof Guild.MemberRoleRemoved
        || e instanceof Guild.NicknameChanged) {
      String userId = e instanceof Guild.MemberRoleAdded a ? a.userId()
          : e instanceof Guild.MemberRoleRemoved r ? r.userId()
          : ((Guild.NicknameChanged) e).userId();
      Guild.Member m = after.members().get(userId);
      if (m != null) {
        toAll("GUILD_MEMBER_UPDATE", Gateway.encoded(Views.member(m).put("guildId", guildId)));
      }
      visibilityChanges(before, after, null);
    } else if (e instanceof Guild.MemberJoined j) {
      Guild.Member m = after.members().get(j.userId());
      toAll("GUILD_MEMBER_ADD", Gateway.encoded(Views.member(m).put("guildId", guildId)));
    } else if (e instanceof Guild.MemberLeft || e instanceof Guild.MemberKicked
        || e instanceof Guild.MemberBanned) {
      String userId = e instanceof Guild.MemberLeft l ? l.userId()
          : e instanceof Guild.MemberKicked k ? k.userId() : ((Guild.MemberBanned) e).userId();
      removeMember(userId);
      toAll("GUILD_MEMBER_REMOVE", Gateway.encoded(JsonRoutes.obj().put("guildId", guildId)
          .put("userId", userId)));
      if (e instanceof Guild.MemberBanned) {
        toHolders(Permission.BAN_MEMBERS, "GUILD_BAN_ADD", Gateway.encoded(JsonRoutes.obj()
            .put("guildId", guildId).put("userId", userId)));
      }
    } else if (e instanceof Guild.MemberUnbanned u) {
      toHolders(Permission.BAN_MEMBERS, "GUILD_BAN_REMOVE", Gateway.encoded(JsonRoutes.obj()
          .put("guildId", guildId).put("userId", u.userId())));
    }
    // Invites and guild creation are not dispatched.
  }

  private static boolean canViewIn(Guild.State s, String userId, Guild.Channel c) {
    return Permission.VIEW_CHANNEL.in(EffectivePermissions.inChannel(s, userId, c));
  }

  private void toHolders(Permission p, String t, byte[] payload) {
    sessions.forEach((s, user) -> {
      if (p.in(EffectivePermissions.inGuild(state, user))) {
        s.tell(new GatewaySession.Deliver(guildId, t, payload));
      }
    });
  }

  /** A removed member's sessions here learn that the guild is gone for them, and stop hearing it. */
  private void removeMember(String userId) {
    byte[] payload = Gateway.encoded(JsonRoutes.obj().put("id", guildId));
    List<ActorRef<GatewaySession.Command>> gone = new ArrayList<>();
    sessions.forEach((s, user) -> {
      if (user.equals(userId)) {
        s.tell(new GatewaySession.Deliver(guildId, "GUILD_DELETE", payload));
        s.tell(new GatewaySession.GuildRemoved(guildId));
        gone.add(s);
      }
    });
    gone.forEach(s -> {
      sessions.remove(s);
      forgetStatus(userId, s);
      getContext().unwatch(s);
    });
  }

  /**
   * After a change that may alter who sees which channel: a session that can now see a channel
   * gets CHANNEL_CREATE, one that no longer can gets CHANNEL_DELETE; {@code changedChannelId}
   * (an overwrite change) gets CHANNEL_UPDATE for those who see it before and after.
   */
  private void visibilityChanges(Guild.State before, Guild.State after, String changedChannelId) {
    Map<String, List<GatewaySession.Deliver>> perUser = new java.util.HashMap<>();
    sessions.forEach((s, user) -> {
      List<GatewaySession.Deliver> changes = perUser.computeIfAbsent(user, u -> {
        List<GatewaySession.Deliver> out = new ArrayList<>();
        Set<String> was = visible(before, u);
        Set<String> now = visible(after, u);
        for (int i = 0; i < after.channels().size(); i++) {
          Guild.Channel c = after.channels().get(i);
          if (now.contains(c.id()) && !was.contains(c.id())) {
            out.add(new GatewaySession.Deliver(guildId, "CHANNEL_CREATE",
                Gateway.encoded(Views.channel(guildId, c, i))));
          } else if (now.contains(c.id()) && c.id().equals(changedChannelId)) {
            out.add(new GatewaySession.Deliver(guildId, "CHANNEL_UPDATE",
                Gateway.encoded(Views.channel(guildId, c, i))));
          }
        }
        for (String id : was) {
          if (!now.contains(id)) {
            out.add(new GatewaySession.Deliver(guildId, "CHANNEL_DELETE",
                Gateway.encoded(JsonRoutes.obj().put("id", id).put("guildId", guildId))));
          }
        }
        return out;
      });
      changes.forEach(s::tell);
    });
  }

  private static Set<String> visible(Guild.State s, String userId) {
    Set<String> out = new LinkedHashSet<>();
    if (!s.members().containsKey(userId)) {
      return out;
    }
    for (Guild.Channel c : s.channels()) {
      if (canViewIn(s, userId, c)) {
        out.add(c.id());
      }
    }
    return out;
  }
}
