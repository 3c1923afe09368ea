package dev.cloister.node.gateway;

import dev.cloister.node.metrics.CloisterMetrics;
import org.apache.pekko.actor.typed.PostStop;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.GuildFeed;
import dev.cloister.guild.user.User;
import dev.cloister.guild.voice.VoiceChannel;
import dev.cloister.node.http.ApiError;
import dev.cloister.node.voice.VoiceService;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;

/**
 * One gateway session, sharded by session id: it owns the session's sequence numbers and its
 * replay buffer, and outlives the WebSocket connections that carry it. Whichever node a client
 * connects to, {@code identify} and {@code resume} reach this one entity, so a resume on another
 * node replays from the same buffer and continues from the same counter: nothing is lost or sent
 * twice. Sharding places the entity independently of the connection, so a session usually
 * survives the loss of the node that held its connection.
 *
 * <p>It hears its guilds through the {@link GuildReplica}s of the node it lives on, which have
 * already decided that it may see each event. The buffer keeps at most {@code resume.max-events}
 * dispatches, none older than {@code resume.max-age}; a session without a connection for
 * {@code resume.max-age} ends.
 *
 * <p>It keeps no journal. When its node stops gracefully, sharding hands its shard off with
 * {@link HandOff}: the session saves its state ({@link SessionHandovers}: seq, replay buffer,
 * guilds, the journal position of the last event it dispatched per text channel) and tells its
 * connection, which asks for it again. The next incarnation, on another node, is made by the
 * first message that is not an identify; it takes the saved state (once), registers with its
 * guilds there, and sends what it missed meanwhile from the text channels' journals before any
 * live dispatch, skipping what it had sent: no gap, nothing twice. If its node dies instead
 * ({@code kill -9}), nothing was saved: a resume gets {@code invalid_session} and the client
 * identifies again and reads history.
 */
public final class GatewaySession extends AbstractBehavior<GatewaySession.Command> {

  public static final EntityTypeKey<Command> ENTITY_KEY =
      EntityTypeKey.create(Command.class, "GatewaySession");

  /** {@code handovers} null: a session is lost when its node stops, as when it dies. */
  public static void init(ActorSystem<?> system, ActorRef<Gateway.Command> gateway,
      GatewaySettings settings, VoiceService.Settings voice, SessionHandovers handovers) {
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), gateway, sharding, settings,
            voice, handovers))
        .withStopMessage(new HandOff())
        // Alive exactly as long as the session: never passivated for being quiet.
        .withSettings(ClusterShardingSettings.create(system).withNoPassivationStrategy()));
  }

  public sealed interface Command extends CborSerializable {}

  record Identify(String userId, String deviceId, ActorRef<GatewayConnection.Command> connection)
      implements Command {}

  /**
   * {@code silent}: the connection asks again because the session moved (no {@code resumed} for
   * the client, who asked for nothing).
   */
  record Resume(String userId, long seq, ActorRef<GatewayConnection.Command> connection,
      boolean silent) implements Command {}

  /** From sharding, when the session's node hands its shard off: save and stop. */
  public record HandOff() implements Command {}

  /** The connection ended; the session waits to be resumed. */
  record Detach(ActorRef<GatewayConnection.Command> connection) implements Command {}

  record Typing(String guildId, String channelId) implements Command {}

  record SetStatus(String status) implements Command {}

  /** {@code request_presences}: answered by the guild's copy to {@code connection}. */
  record RequestPresences(String guildId, List<String> userIds, String nonce,
      ActorRef<GatewayConnection.Command> connection) implements Command {}

  /**
   * {@code voice_state_update}: join or move to {@code channelId} of {@code guildId} with these
   * self states, or leave (null). Errors go back to {@code connection} with {@code nonce}.
   */
  record VoiceUpdate(String guildId, String channelId, boolean selfMute, boolean selfDeaf,
      String nonce, ActorRef<GatewayConnection.Command> connection) implements Command {}

  /** From a replica: the member left {@code channelId} ({@code sessionId}: the session that was in). */
  record VoiceGone(String guildId, String channelId, String sessionId) implements Command {}

  /**
   * The call this member is in moved to another SFU, or a moderator moved the member into another
   * channel's call (for the session in the call).
   */
  record VoiceMoved(GuildFeed.VoiceServerMoved moved) implements Command {}

  /** A voice channel that came back asks whether this session still holds its place there. */
  record VoiceRollCall(GuildFeed.VoiceRollCall call) implements Command {}

  // from this node's gateway and replicas

  record GuildSnapshot(String guildId, ActorRef<GuildReplica.Command> replica, String json)
      implements Command {}

  record GuildRefused(String guildId) implements Command {}

  record GuildRemoved(String guildId) implements Command {}

  record GuildAdded(String guildId) implements Command {}

  /**
   * One dispatch, already allowed for this session; {@code payload} is its JSON in UTF-8, encoded
   * once by the replica and shared, never copied, by every session's frame that carries it. A
   * text channel's event names its channel and its sequence number in the channel's journal.
   */
  record Deliver(String guildId, String t, byte[] payload, String channelId, long channelSeq)
      implements Command {
    /** Any other dispatch. */
    Deliver(String guildId, String t, byte[] payload) {
      this(guildId, t, payload, null, 0);
    }
  }

  private record ProfileLoaded(User.Profile profile) implements Command {}

  private record ProfileFailed(String reason) implements Command {}

  private record Expire() implements Command {}

  private record SavedForHandOff(Throwable failure) implements Command {}

  private record Restored(SessionHandovers.Saved saved, Throwable failure) implements Command {}

  private record Backfilled(List<List<SessionHandovers.ChannelEvent>> events, Throwable failure)
      implements Command {}

  private record VoiceAccessFor(VoiceUpdate update, GuildReplica.VoiceAccessAnswer answer,
      Throwable failure) implements Command {}

  private record VoiceDone(VoiceUpdate update, VoiceChannel.Joined joined, Throwable failure)
      implements Command {}

  private record VoiceGraceOver() implements Command {}

  /** The guild of the update at the head of the queue may have arrived meanwhile: look again. */
  private record VoiceRetry(VoiceUpdate update) implements Command {}

  /** A guild joined a moment ago reaches the session shortly after: wait this long for it. */
  private static final Duration NEW_GUILD_WAIT = Duration.ofSeconds(5);
  private static final Duration NEW_GUILD_POLL = Duration.ofMillis(100);

  /** At most this many voice state updates wait behind the one under way. */
  private static final int MAX_PENDING_VOICE_UPDATES = 4;

  static Behavior<Command> create(String sessionId, ActorRef<Gateway.Command> gateway,
      ClusterSharding sharding, GatewaySettings settings, VoiceService.Settings voice) {
    return create(sessionId, gateway, sharding, settings, voice, null);
  }

  static Behavior<Command> create(String sessionId, ActorRef<Gateway.Command> gateway,
      ClusterSharding sharding, GatewaySettings settings, VoiceService.Settings voice,
      SessionHandovers handovers) {
    return Behaviors.withStash(STASH, stash -> Behaviors.setup(ctx -> Behaviors.withTimers(
        timers -> new GatewaySession(ctx, timers, stash, sessionId, gateway, sharding, settings,
            voice, handovers))));
  }

  /** Messages a new incarnation keeps while it looks for a handed-over state. */
  private static final int STASH = 256;

  /** NEW: made by an identify, or looking for a saved state (LOADING); HANDING_OVER: saving. */
  private enum Phase { NEW, LOADING, READYING, LIVE, HANDING_OVER }

  private final TimerScheduler<Command> timers;
  private final String sessionId;
  private final ActorRef<Gateway.Command> gateway;
  private final ClusterSharding sharding;
  private final GatewaySettings settings;
  private final VoiceService.Settings voiceSettings;
  private final SessionHandovers handovers;
  private final StashBuffer<Command> stash;

  private Phase phase = Phase.NEW;
  /** Restored from a handover, still waiting for its guilds and the journal. */
  private boolean restoring;
  private boolean handedOver;
  private long restoredFromMillis;
  private long detachedAtMillis;
  /** Per text channel, the journal sequence number of the last event dispatched. */
  private final Map<String, Long> positions = new HashMap<>();
  /** While restoring: the text channels this session may see, and their guilds. */
  private final Map<String, String> visibleTextChannels = new LinkedHashMap<>();
  private String userId;
  private String deviceId;
  // Voice: the channel this session is in (null: none), and the updates waiting their turn.
  private String voiceGuildId;
  private String voiceChannelId;
  // Small to begin with: most sessions never touch voice (every session pays for these).
  private final ArrayDeque<VoiceUpdate> voiceUpdates = new ArrayDeque<>(2);
  private final Map<VoiceUpdate, Integer> voiceWaits = new java.util.IdentityHashMap<>(2);
  private String username;
  private String status = "online";
  private ActorRef<GatewayConnection.Command> connection;
  private long seq;
  private final ReplayBuffer buffer;
  private final Map<String, ActorRef<GuildReplica.Command>> guilds = new LinkedHashMap<>();
  // while assembling ready
  private final Map<String, String> readyGuilds = new HashMap<>();
  private int awaitingGuilds;
  private final List<Deliver> heldBack = new ArrayList<>();

  private GatewaySession(ActorContext<Command> ctx, TimerScheduler<Command> timers,
      StashBuffer<Command> stash, String sessionId, ActorRef<Gateway.Command> gateway,
      ClusterSharding sharding, GatewaySettings settings, VoiceService.Settings voiceSettings,
      SessionHandovers handovers) {
    super(ctx);
    this.stash = stash;
    this.handovers = handovers;
    this.voiceSettings = voiceSettings;
    this.timers = timers;
    this.sessionId = sessionId;
    this.gateway = gateway;
    this.sharding = sharding;
    this.settings = settings;
    this.buffer = new ReplayBuffer(settings);
    CloisterMetrics.GATEWAY_SESSIONS.increment();
  }

  @Override
  public Receive<Command> createReceive() {
    // One case for every command (not one per command type): a behaviour's receive is built per
    // instance, and a case per type cost every connection and session about 1 KiB (issue 16).
    return newReceiveBuilder()
        .onMessage(Command.class, this::onCommand)
        .onSignal(PostStop.class, signal -> {
          CloisterMetrics.GATEWAY_SESSIONS.decrement();
          buffer.release();
          if (!handedOver) {
            leaveVoice("its gateway session ended");
          }
          return this;
        })
        .build();
  }

  private Behavior<Command> onCommand(Command c) {
    // A new incarnation asked for anything but an identify may be a session that moved.
    if (phase == Phase.NEW && handovers != null
        && (c instanceof Resume || c instanceof Typing || c instanceof SetStatus
        || c instanceof VoiceUpdate)) {
      return startLoading(c);
    }
    if (phase == Phase.LOADING && !(c instanceof Restored)) {
      if (stash.isFull()) {
        getContext().getLog().warn("Session {} drops a message while it is restored: {}",
            sessionId, c.getClass().getSimpleName());
      } else {
        stash.stash(c);
      }
      return this;
    }
    if (c instanceof Restored m) {
      return onRestored(m);
    }
    if (c instanceof Backfilled m) {
      return onBackfilled(m);
    }
    if (c instanceof HandOff m) {
      return onHandOff(m);
    }
    if (c instanceof SavedForHandOff m) {
      return onSavedForHandOff(m);
    }
    if (c instanceof Identify m) {
      return onIdentify(m);
    }
    if (c instanceof ProfileLoaded m) {
      return onProfile(m);
    }
    if (c instanceof ProfileFailed m) {
      if (connection != null) {
        connection.tell(new GatewayConnection.Kick(CloseCode.UNKNOWN_ERROR.code,
            "could not load the user: " + m.reason()));
      }
      return Behaviors.stopped();
    }
    if (c instanceof GuildSnapshot m) {
      return onSnapshot(m);
    }
    if (c instanceof GuildRefused) {
      if (phase == Phase.READYING || restoring) {
        guildAnswered();
      }
      return this;
    }
    if (c instanceof GuildRemoved m) {
      guilds.remove(m.guildId());
      return this;
    }
    if (c instanceof GuildAdded m) {
      if (phase != Phase.NEW && !guilds.containsKey(m.guildId())) {
        gateway.tell(new Gateway.Watch(m.guildId(), userId, getContext().getSelf()));
      }
      return this;
    }
    if (c instanceof Deliver m) {
      return onDeliver(m);
    }
    if (c instanceof Resume m) {
      return onResume(m);
    }
    if (c instanceof Detach m) {
      return onDetach(m);
    }
    if (c instanceof Typing m) {
      ActorRef<GuildReplica.Command> replica = guilds.get(m.guildId());
      if (replica != null) {
        replica.tell(new GuildReplica.PublishTyping(userId, m.channelId()));
      }
      return this;
    }
    if (c instanceof RequestPresences m) {
      ActorRef<GuildReplica.Command> replica = guilds.get(m.guildId());
      if (replica == null) {
        m.connection().tell(GatewayConnection.Send.of(GatewayConnection.errorFrame(m.nonce(),
            new ApiError(404, "not_found", "unknown guild '" + m.guildId() + "'"))));
      } else {
        replica.tell(new GuildReplica.AskPresences(m.guildId(), m.userIds(), m.nonce(),
            m.connection()));
      }
      return this;
    }
    if (c instanceof SetStatus m) {
      if (phase == Phase.HANDING_OVER) {
        return this; // already saved: the client sets it again after the move
      }
      status = m.status();
      publishPresence(status);
      return this;
    }
    if (c instanceof Expire) {
      if (connection == null) {
        getContext().getLog().debug("Session {} expired without a resume", sessionId);
        return Behaviors.stopped();
      }
      return this;
    }
    if (c instanceof VoiceUpdate m) {
      return onVoiceUpdate(m);
    }
    if (c instanceof VoiceAccessFor m) {
      return onVoiceAccess(m);
    }
    if (c instanceof VoiceDone m) {
      return onVoiceDone(m);
    }
    if (c instanceof VoiceRetry m) {
      if (voiceUpdates.peekFirst() == m.update()) {
        startVoiceUpdate();
      }
      return this;
    }
    if (c instanceof VoiceMoved m) {
      GuildFeed.VoiceServerMoved v = m.moved();
      if (!sessionId.equals(v.sessionId())) {
        return this;
      }
      if (v.channelChanged()) {
        // The channel entity holds this session there now, whatever this session last knew
        // (the leave from the old channel may have reached it first).
        voiceGuildId = v.guildId();
        voiceChannelId = v.channelId();
        dispatchVoiceServer(v.guildId(), v.channelId(), null, v.groupId(), v.conferenceId(),
            v.endpoint(), false, v.fromChannelId(), v.byUserId());
      } else if (v.channelId().equals(voiceChannelId)) {
        dispatchVoiceServer(v.guildId(), v.channelId(), null, v.groupId(), v.conferenceId(),
            v.endpoint(), true, null, null);
      }
      return this;
    }
    if (c instanceof VoiceRollCall m) {
      GuildFeed.VoiceRollCall rc = m.call();
      if (rc.sessionIds().contains(sessionId) && rc.channelId().equals(voiceChannelId)) {
        sharding.entityRefFor(VoiceChannel.ENTITY_KEY, rc.channelId())
            .tell(new VoiceChannel.Present(userId, sessionId));
      }
      return this;
    }
    if (c instanceof VoiceGone m) {
      if (m.sessionId() != null && m.sessionId().equals(sessionId)
          && m.channelId().equals(voiceChannelId)) {
        voiceGuildId = null;
        voiceChannelId = null;
      }
      return this;
    }
    if (c instanceof VoiceGraceOver) {
      if (connection == null) {
        leaveVoice("its gateway connection was lost");
      }
      return this;
    }
    return Behaviors.unhandled();
  }

  // ---- identify and ready ----

  private Behavior<Command> onIdentify(Identify m) {
    if (phase != Phase.NEW) {
      m.connection().tell(new GatewayConnection.Kick(CloseCode.ALREADY_AUTHENTICATED.code,
          "this session is already identified"));
      return this;
    }
    phase = Phase.READYING;
    userId = m.userId();
    deviceId = m.deviceId();
    connection = m.connection();
    // A connection's node can die without a word: its death must detach the session too.
    getContext().watchWith(connection, new Detach(connection));
    getContext().pipeToSelf(
        sharding.entityRefFor(User.ENTITY_KEY, userId)
            .<User.Profile>askWithStatus(User.GetProfile::new, Duration.ofSeconds(10)),
        (p, failure) -> failure == null ? new ProfileLoaded(p) : new ProfileFailed(failure.getMessage()));
    return this;
  }

  private Behavior<Command> onProfile(ProfileLoaded m) {
    username = m.profile().username();
    gateway.tell(new Gateway.SessionStarted(userId, getContext().getSelf()));
    awaitingGuilds = m.profile().guildIds().size();
    for (String guildId : m.profile().guildIds()) {
      gateway.tell(new Gateway.Watch(guildId, userId, getContext().getSelf()));
    }
    if (awaitingGuilds == 0) {
      sendReady();
    }
    return this;
  }

  private Behavior<Command> onSnapshot(GuildSnapshot m) {
    guilds.put(m.guildId(), m.replica());
    if (restoring) {
      noteTextChannels(m.guildId(), m.json());
      guildAnswered();
    } else if (phase == Phase.READYING) {
      readyGuilds.put(m.guildId(), m.json());
      guildAnswered();
    } else {
      // Joined while connected: the whole guild, as in ready.
      dispatch("GUILD_CREATE", m.json().getBytes(StandardCharsets.UTF_8));
      m.replica().tell(new GuildReplica.PublishPresence(userId,
          connection == null ? "offline" : status, getContext().getSelf()));
    }
    return this;
  }

  private void guildAnswered() {
    if (--awaitingGuilds == 0) {
      if (restoring) {
        backfill();
      } else {
        sendReady();
      }
    }
  }

  private void sendReady() {
    StringBuilder guildsJson = new StringBuilder("[");
    for (String g : guilds.keySet()) {
      if (guildsJson.length() > 1) {
        guildsJson.append(',');
      }
      guildsJson.append(readyGuilds.get(g));
    }
    guildsJson.append(']');
    readyGuilds.clear();
    phase = Phase.LIVE;
    String user = Gateway.json(Gateway.JSON.createObjectNode().put("id", userId)
        .put("username", username));
    seq++;
    GatewayConnection.Send frame = GatewayConnection.Send.of("{\"op\":\"ready\",\"s\":" + seq
        + ",\"d\":{\"sessionId\":\"" + sessionId + "\",\"user\":" + user + ",\"guilds\":"
        + guildsJson + "}}");
    buffer.add(seq, frame);
    if (connection != null) {
      connection.tell(new GatewayConnection.Bound(getContext().getSelf()));
      connection.tell(frame);
    }
    publishPresence(status);
    List<Deliver> held = new ArrayList<>(heldBack);
    heldBack.clear();
    held.forEach(this::onDeliver);
  }

  // ---- dispatch and buffer ----

  private Behavior<Command> onDeliver(Deliver d) {
    if (phase == Phase.READYING || restoring) {
      heldBack.add(d);
    } else if (phase == Phase.LIVE && guilds.containsKey(d.guildId())) {
      if (d.channelId() != null && !advance(d.channelId(), d.channelSeq())) {
        return this; // already sent (read from the journal after a move)
      }
      dispatch(d.t(), d.payload());
    }
    return this;
  }

  /** Notes {@code seqNr} as the channel's last event sent; false if it was sent already. */
  private boolean advance(String channelId, long seqNr) {
    Long last = positions.get(channelId);
    if (last != null && seqNr <= last) {
      return false;
    }
    positions.put(channelId, seqNr);
    return true;
  }

  /** Numbers a dispatch; its frame shares {@code payload} with every other session's. */
  private void dispatch(String t, byte[] payload) {
    seq++;
    GatewayConnection.Send frame = new GatewayConnection.Send(
        "{\"op\":\"dispatch\",\"t\":\"" + t + "\",\"s\":" + seq + ",\"d\":", payload, "}");
    buffer.add(seq, frame);
    if (connection != null) {
      connection.tell(frame);
    }
  }

  // ---- handover: save on a graceful stop, restore on the next node ----

  private Behavior<Command> onHandOff(HandOff m) {
    if (handovers == null || phase != Phase.LIVE) {
      return Behaviors.stopped(); // nothing a client could resume yet
    }
    phase = Phase.HANDING_OVER;
    SessionHandovers.Saved saved = new SessionHandovers.Saved(userId, deviceId, username, status,
        seq, buffer.saved(), new ArrayList<>(guilds.keySet()), new HashMap<>(positions), voiceGuildId,
        voiceChannelId, System.currentTimeMillis(), connection == null ? detachedAtMillis : 0);
    getContext().pipeToSelf(handovers.save(sessionId, saved),
        (ok, failure) -> new SavedForHandOff(failure));
    return this;
  }

  private Behavior<Command> onSavedForHandOff(SavedForHandOff m) {
    if (m.failure() != null) {
      getContext().getLog().warn("Session {} could not be saved for its move; its client must "
          + "identify again: {}", sessionId, m.failure().toString());
      return Behaviors.stopped();
    }
    handedOver = true;
    getContext().getLog().debug("Session {} saved at seq {} for its move", sessionId, seq);
    if (connection != null) {
      getContext().unwatch(connection);
      connection.tell(new GatewayConnection.SessionMoving(seq, true));
    }
    return Behaviors.stopped();
  }

  private Behavior<Command> startLoading(Command first) {
    phase = Phase.LOADING;
    stash.stash(first);
    getContext().pipeToSelf(handovers.take(sessionId),
        (saved, failure) -> new Restored(saved == null ? null : saved.orElse(null), failure));
    return this;
  }

  private Behavior<Command> onRestored(Restored m) {
    if (m.saved() == null) {
      if (m.failure() != null) {
        getContext().getLog().warn("Session {}: its saved state could not be read: {}", sessionId,
            m.failure().toString());
      }
      // Nothing saved (its node died, or it ended): a resume gets invalid_session.
      stash.forEach(c -> {
        if (c instanceof Resume r) {
          r.connection().tell(new GatewayConnection.InvalidSession());
        }
      });
      return Behaviors.stopped();
    }
    restore(m.saved());
    return stash.unstashAll(this);
  }

  private void restore(SessionHandovers.Saved s) {
    phase = Phase.LIVE;
    restoring = true;
    userId = s.userId();
    deviceId = s.deviceId();
    username = s.username();
    status = s.status();
    seq = s.seq();
    restoredFromMillis = s.savedAtMillis();
    buffer.restore(s.buffer());
    positions.putAll(s.positions());
    voiceGuildId = s.voiceGuildId();
    voiceChannelId = s.voiceChannelId();
    long now = System.currentTimeMillis();
    detachedAtMillis = s.detachedAtMillis() > 0 ? s.detachedAtMillis() : now;
    // Without a connection until it resumes: the clock of resume.max-age runs on.
    long left = settings.resumeMaxAge().toMillis() - (now - detachedAtMillis);
    timers.startSingleTimer("expire", new Expire(), Duration.ofMillis(Math.max(1, left)));
    if (voiceChannelId != null) {
      timers.startSingleTimer("voice-grace", new VoiceGraceOver(), voiceSettings.leaveGrace());
    }
    gateway.tell(new Gateway.SessionStarted(userId, getContext().getSelf()));
    awaitingGuilds = s.guildIds().size();
    for (String guildId : s.guildIds()) {
      gateway.tell(new Gateway.Watch(guildId, userId, getContext().getSelf()));
    }
    if (awaitingGuilds == 0) {
      backfill();
    }
  }

  /** The text channels of a guild's snapshot (the channels this session's user may see). */
  private void noteTextChannels(String guildId, String json) {
    try {
      for (com.fasterxml.jackson.databind.JsonNode c : Gateway.JSON.readTree(json).path("channels")) {
        if ("text".equals(c.path("type").asText())) {
          visibleTextChannels.put(c.path("id").asText(), guildId);
        }
      }
    } catch (java.io.IOException e) {
      throw new IllegalStateException("a guild snapshot is not JSON", e);
    }
  }

  /**
   * Registered with every guild on this node (live events are held back meanwhile): reads what
   * each visible text channel wrote after the last event this session sent from it, or, for a
   * channel it had sent nothing from, what was written since shortly before the handover.
   */
  private void backfill() {
    List<java.util.concurrent.CompletableFuture<List<SessionHandovers.ChannelEvent>>> reads =
        new ArrayList<>();
    long since = restoredFromMillis - handovers.lookback().toMillis();
    visibleTextChannels.forEach((channelId, guildId) -> reads.add(handovers.channelEvents(
        channelId, positions.getOrDefault(channelId, -1L), since, settings.resumeMaxEvents())
        .toCompletableFuture()));
    getContext().pipeToSelf(
        java.util.concurrent.CompletableFuture.allOf(
                reads.toArray(java.util.concurrent.CompletableFuture[]::new))
            .thenApply(x -> reads.stream().map(java.util.concurrent.CompletableFuture::join)
                .toList()),
        Backfilled::new);
  }

  private Behavior<Command> onBackfilled(Backfilled m) {
    int missed = m.events() == null ? 0 : m.events().stream().mapToInt(List::size).sum();
    if (m.failure() != null || missed > settings.resumeMaxEvents()) {
      getContext().getLog().warn("Session {} cannot be restored whole ({}); its client must "
          + "identify again", sessionId, m.failure() != null ? m.failure().toString()
          : missed + " channel events missed, more than resume.max-events");
      if (connection != null) {
        connection.tell(new GatewayConnection.InvalidSession());
      }
      return Behaviors.stopped();
    }
    for (List<SessionHandovers.ChannelEvent> channel : m.events()) {
      for (SessionHandovers.ChannelEvent e : channel) {
        String guildId = visibleTextChannels.get(e.channelId());
        ChannelDispatch.Rendered r = ChannelDispatch.render(guildId, e.channelId(), e.event());
        if (advance(e.channelId(), e.seqNr()) && r != null) {
          dispatch(r.t(), r.payload());
        }
      }
    }
    visibleTextChannels.clear();
    restoring = false;
    if (connection != null) {
      publishPresence(status);
    }
    List<Deliver> held = new ArrayList<>(heldBack);
    heldBack.clear();
    held.forEach(this::onDeliver);
    return this;
  }

  // ---- connections come and go ----

  private Behavior<Command> onResume(Resume r) {
    if (phase == Phase.NEW) {
      // A new incarnation with nothing saved: whatever this session was, its buffer is gone.
      r.connection().tell(new GatewayConnection.InvalidSession());
      return Behaviors.stopped();
    }
    if (phase == Phase.HANDING_OVER) {
      // Being saved: ask the next incarnation (sharding holds the message until it exists).
      r.connection().tell(new GatewayConnection.SessionMoving(r.seq(), r.silent()));
      return this;
    }
    if (!r.userId().equals(userId) || phase != Phase.LIVE) {
      r.connection().tell(new GatewayConnection.InvalidSession());
      return this;
    }
    if (r.seq() > seq || r.seq() < 0) {
      r.connection().tell(new GatewayConnection.Kick(CloseCode.INVALID_SEQ.code,
          "seq " + r.seq() + " was never sent; the last one is " + seq));
      return this;
    }
    if (r.seq() + 1 < buffer.firstKept(seq + 1)) {
      r.connection().tell(new GatewayConnection.InvalidSession());
      return this;
    }
    boolean wasDetached = connection == null;
    if (connection != null && !connection.equals(r.connection())) {
      connection.tell(new GatewayConnection.Kick(CloseCode.SESSION_REPLACED.code,
          "the session was resumed on another connection"));
      getContext().unwatch(connection);
    }
    connection = r.connection();
    getContext().watchWith(connection, new Detach(connection));
    connection.tell(new GatewayConnection.Bound(getContext().getSelf()));
    buffer.replayAfter(r.seq(), connection::tell);
    if (!r.silent()) {
      connection.tell(GatewayConnection.Send.of("{\"op\":\"resumed\"}"));
    }
    detachedAtMillis = 0;
    timers.cancel("expire");
    timers.cancel("voice-grace");
    if (wasDetached) {
      publishPresence(status);
    }
    return this;
  }

  private Behavior<Command> onDetach(Detach d) {
    if (phase == Phase.NEW && userId == null) {
      return Behaviors.stopped(); // made by the detach alone: there is nothing here
    }
    if (connection == null || !connection.equals(d.connection())) {
      return this; // an old connection, already replaced
    }
    getContext().unwatch(connection);
    connection = null;
    if (phase == Phase.HANDING_OVER) {
      return this;
    }
    if (phase != Phase.LIVE) {
      return Behaviors.stopped(); // never got ready: nothing to resume
    }
    detachedAtMillis = System.currentTimeMillis();
    publishPresence("offline");
    timers.startSingleTimer("expire", new Expire(), settings.resumeMaxAge());
    if (voiceChannelId != null) {
      // Media may still flow, but without the gateway this device misses the call's key changes.
      timers.startSingleTimer("voice-grace", new VoiceGraceOver(), voiceSettings.leaveGrace());
    }
    return this;
  }

  // ---- voice ----

  private Behavior<Command> onVoiceUpdate(VoiceUpdate u) {
    if (phase == Phase.HANDING_OVER) {
      voiceError(u, ApiError.unavailable("the session is moving to another node; try again", 1));
      return this;
    }
    if (phase != Phase.LIVE) {
      voiceError(u, new ApiError(409, "conflict", "wait for ready before joining a voice channel"));
      return this;
    }
    if (voiceUpdates.size() > MAX_PENDING_VOICE_UPDATES) {
      voiceError(u, new ApiError(429, "rate_limited", "too many voice state updates under way"));
      return this;
    }
    voiceUpdates.addLast(u);
    if (voiceUpdates.size() == 1) {
      startVoiceUpdate();
    }
    return this;
  }

  /** Works on the update at the head of the queue. */
  private void startVoiceUpdate() {
    VoiceUpdate u = voiceUpdates.peekFirst();
    if (u == null) {
      return;
    }
    if (u.channelId() == null) {
      leaveVoice("left");
      finishVoiceUpdate();
      return;
    }
    ActorRef<GuildReplica.Command> replica = guilds.get(u.guildId());
    if (replica == null) {
      // A guild joined just now is on its way to this session (GUILD_CREATE, through the
      // memberships topic): wait for it a moment before calling it unknown. (Asking for the
      // guild here would let a client wake a guild copy for any id it names.)
      long waited = voiceWaits.merge(u, 1, Integer::sum) * NEW_GUILD_POLL.toMillis();
      if (waited < NEW_GUILD_WAIT.toMillis()) {
        timers.startSingleTimer("voice-retry", new VoiceRetry(u), NEW_GUILD_POLL);
        return;
      }
      voiceError(u, new ApiError(404, "not_found", "unknown guild '" + u.guildId() + "'"));
      finishVoiceUpdate();
      return;
    }
    getContext().ask(GuildReplica.VoiceAccessAnswer.class, replica, Duration.ofSeconds(5),
        r -> new GuildReplica.VoiceAccess(userId, u.channelId(), r),
        (answer, failure) -> new VoiceAccessFor(u, answer, failure));
  }

  private void finishVoiceUpdate() {
    VoiceUpdate done = voiceUpdates.pollFirst();
    if (done != null) {
      voiceWaits.remove(done);
    }
    startVoiceUpdate();
  }

  private Behavior<Command> onVoiceAccess(VoiceAccessFor m) {
    VoiceUpdate u = m.update();
    if (m.failure() != null || m.answer().problem() != null) {
      voiceError(u, m.failure() != null
          ? ApiError.unavailable("the guild did not answer in time; try again", 1)
          : new ApiError(404, "not_found", m.answer().problem()));
      finishVoiceUpdate();
      return this;
    }
    if (voiceChannelId != null && !voiceChannelId.equals(u.channelId())) {
      leaveVoice("moved"); // a move: out of the old channel first
    }
    getContext().pipeToSelf(
        sharding.entityRefFor(VoiceChannel.ENTITY_KEY, u.channelId())
            .<VoiceChannel.Joined>askWithStatus(r -> new VoiceChannel.Join(u.guildId(), userId,
                deviceId, sessionId, u.selfMute(), u.selfDeaf(), m.answer().permissions(), r),
                Duration.ofSeconds(10)),
        (joined, failure) -> new VoiceDone(u, joined, failure));
    return this;
  }

  private Behavior<Command> onVoiceDone(VoiceDone m) {
    VoiceUpdate u = m.update();
    if (m.failure() != null) {
      ApiError e = ApiError.of(m.failure());
      if (e == null) {
        getContext().getLog().error("Joining voice channel {} failed", u.channelId(), m.failure());
        e = new ApiError(500, "internal", "an internal error occurred; it has been logged");
      }
      voiceError(u, e);
    } else {
      VoiceChannel.Joined j = m.joined();
      CloisterMetrics.VOICE_JOINS.withTag("outcome", "joined").increment();
      voiceGuildId = u.guildId();
      voiceChannelId = u.channelId();
      dispatchVoiceServer(j.guildId(), j.channelId(), u.nonce(), j.groupId(), j.conferenceId(),
          j.endpoint(), false, null, null);
    }
    finishVoiceUpdate();
    return this;
  }

  /**
   * Where to send media: after a join (with the request's nonce), when the call moved to another
   * SFU ({@code moved}: same call and group, new address, SSRC and ICE credentials), or when a
   * moderator ({@code movedBy}) moved the member from {@code movedFrom} into this channel's call
   * (another group: the client leaves the old call's and joins this one's).
   */
  private void dispatchVoiceServer(String guildId, String channelId, String nonce, String groupId,
      String conferenceId, VoiceChannel.Endpoint e, boolean moved, String movedFrom,
      String movedBy) {
    ObjectNode d = Gateway.JSON.createObjectNode().put("guildId", guildId)
        .put("channelId", channelId);
    if (nonce != null) {
      d.put("nonce", nonce);
    }
    d.put("sessionId", sessionId).put("groupId", groupId).put("conferenceId", conferenceId)
        .put("endpointId", e.endpointId()).put("udpHost", e.udpHost())
        .put("udpPort", e.udpPort()).put("ssrc", e.ssrc()).put("iceUfrag", e.iceUfrag())
        .put("icePwd", e.icePwd()).put("audioLevelExtId", e.audioLevelExtId())
        .put("rekeyIntervalMs", voiceSettings.rekeyInterval().toMillis()).put("moved", moved);
    if (movedFrom != null) {
      d.put("movedFrom", movedFrom).put("movedBy", movedBy);
    }
    dispatch("VOICE_SERVER_UPDATE", Gateway.encoded(d));
  }

  private void voiceError(VoiceUpdate u, ApiError e) {
    if (u.channelId() != null) {
      CloisterMetrics.VOICE_JOINS.withTag("outcome", e.code).increment();
    }
    if (u.connection() != null) {
      u.connection().tell(GatewayConnection.Send.of(GatewayConnection.errorFrame(u.nonce(), e)));
    }
  }

  /** Leaves the voice channel this session is in, if any (the entity ignores a stale session). */
  private void leaveVoice(String why) {
    if (voiceChannelId == null) {
      return;
    }
    String channelId = voiceChannelId;
    voiceGuildId = null;
    voiceChannelId = null;
    getContext().getLog().debug("Session {} leaves voice channel {}: {}", sessionId, channelId, why);
    org.slf4j.Logger log = getContext().getLog();
    org.apache.pekko.actor.CoordinatedShutdown shutdown =
        org.apache.pekko.actor.CoordinatedShutdown.get(getContext().getSystem());
    sharding.entityRefFor(VoiceChannel.ENTITY_KEY, channelId)
        .<VoiceChannel.Participants>askWithStatus(r -> new VoiceChannel.Leave(userId, sessionId, r),
            Duration.ofSeconds(10))
        .whenComplete((p, failure) -> {
          if (failure == null) {
            return;
          }
          if (shutdown.getShutdownReason().isPresent()) {
            // The node is stopping and its channels with it: when a channel comes back it asks
            // who is still there (a roll call), and this session will not answer.
            log.debug("Voice channel {} did not take the leave of session {} while the node "
                + "stops: {}", channelId, sessionId, failure.getMessage());
          } else {
            log.warn("Voice channel {} did not take the leave of session {}: {}", channelId,
                sessionId, failure.getMessage());
          }
        });
  }

  private void publishPresence(String s) {
    guilds.values().forEach(r ->
        r.tell(new GuildReplica.PublishPresence(userId, s, getContext().getSelf())));
  }
}
