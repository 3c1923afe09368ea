package dev.cloister.node.gateway;

import dev.cloister.node.metrics.CloisterMetrics;
import org.apache.pekko.actor.typed.PostStop;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.user.User;
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
 * {@code resume.max-age} ends. It keeps no state in the journal: if its node stops, the session
 * is gone and a resume gets {@code invalid_session}.
 */
public final class GatewaySession extends AbstractBehavior<GatewaySession.Command> {

  public static final EntityTypeKey<Command> ENTITY_KEY =
      EntityTypeKey.create(Command.class, "GatewaySession");

  public static void init(ActorSystem<?> system, ActorRef<Gateway.Command> gateway,
      GatewaySettings settings) {
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), gateway, sharding, settings))
        // Alive exactly as long as the session: never passivated for being quiet.
        .withSettings(ClusterShardingSettings.create(system).withNoPassivationStrategy()));
  }

  public sealed interface Command extends CborSerializable {}

  record Identify(String userId, String deviceId, ActorRef<GatewayConnection.Command> connection)
      implements Command {}

  record Resume(String userId, long seq, ActorRef<GatewayConnection.Command> connection)
      implements Command {}

  /** The connection ended; the session waits to be resumed. */
  record Detach(ActorRef<GatewayConnection.Command> connection) implements Command {}

  record Typing(String guildId, String channelId) implements Command {}

  record SetStatus(String status) implements Command {}

  // from this node's gateway and replicas

  record GuildSnapshot(String guildId, ActorRef<GuildReplica.Command> replica, String json)
      implements Command {}

  record GuildRefused(String guildId) implements Command {}

  record GuildRemoved(String guildId) implements Command {}

  record GuildAdded(String guildId) implements Command {}

  /** One dispatch, already allowed for this session; {@code payload} is JSON. */
  record Deliver(String guildId, String t, String payload) implements Command {}

  private record ProfileLoaded(User.Profile profile) implements Command {}

  private record ProfileFailed(String reason) implements Command {}

  private record Expire() implements Command {}

  private record Buffered(long seq, long atMillis, String frame) {}

  static Behavior<Command> create(String sessionId, ActorRef<Gateway.Command> gateway,
      ClusterSharding sharding, GatewaySettings settings) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new GatewaySession(ctx, timers, sessionId, gateway, sharding, settings)));
  }

  private enum Phase { NEW, READYING, LIVE }

  private final TimerScheduler<Command> timers;
  private final String sessionId;
  private final ActorRef<Gateway.Command> gateway;
  private final ClusterSharding sharding;
  private final GatewaySettings settings;

  private Phase phase = Phase.NEW;
  private String userId;
  private String username;
  private String status = "online";
  private ActorRef<GatewayConnection.Command> connection;
  private long seq;
  private final ArrayDeque<Buffered> buffer = new ArrayDeque<>();
  private final Map<String, ActorRef<GuildReplica.Command>> guilds = new LinkedHashMap<>();
  // while assembling ready
  private final Map<String, String> readyGuilds = new HashMap<>();
  private int awaitingGuilds;
  private final List<Deliver> heldBack = new ArrayList<>();

  private GatewaySession(ActorContext<Command> ctx, TimerScheduler<Command> timers,
      String sessionId, ActorRef<Gateway.Command> gateway, ClusterSharding sharding,
      GatewaySettings settings) {
    super(ctx);
    this.timers = timers;
    this.sessionId = sessionId;
    this.gateway = gateway;
    this.sharding = sharding;
    this.settings = settings;
    CloisterMetrics.GATEWAY_SESSIONS.increment();
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Identify.class, this::onIdentify)
        .onMessage(ProfileLoaded.class, this::onProfile)
        .onMessage(ProfileFailed.class, m -> {
          if (connection != null) {
            connection.tell(new GatewayConnection.Kick(CloseCode.UNKNOWN_ERROR.code,
                "could not load the user: " + m.reason()));
          }
          return Behaviors.stopped();
        })
        .onMessage(GuildSnapshot.class, this::onSnapshot)
        .onMessage(GuildRefused.class, m -> {
          if (phase == Phase.READYING) {
            guildAnswered();
          }
          return this;
        })
        .onMessage(GuildRemoved.class, m -> {
          guilds.remove(m.guildId());
          return this;
        })
        .onMessage(GuildAdded.class, m -> {
          if (phase != Phase.NEW && !guilds.containsKey(m.guildId())) {
            gateway.tell(new Gateway.Watch(m.guildId(), userId, getContext().getSelf()));
          }
          return this;
        })
        .onMessage(Deliver.class, this::onDeliver)
        .onMessage(Resume.class, this::onResume)
        .onMessage(Detach.class, this::onDetach)
        .onMessage(Typing.class, m -> {
          ActorRef<GuildReplica.Command> replica = guilds.get(m.guildId());
          if (replica != null) {
            replica.tell(new GuildReplica.PublishTyping(userId, m.channelId()));
          }
          return this;
        })
        .onMessage(SetStatus.class, m -> {
          status = m.status();
          publishPresence(status);
          return this;
        })
        .onMessage(Expire.class, m -> {
          if (connection == null) {
            getContext().getLog().debug("Session {} expired without a resume", sessionId);
            return Behaviors.stopped();
          }
          return this;
        })
        .onSignal(PostStop.class, signal -> {
          CloisterMetrics.GATEWAY_SESSIONS.decrement();
          return this;
        })
        .build();
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
    if (phase == Phase.READYING) {
      readyGuilds.put(m.guildId(), m.json());
      guildAnswered();
    } else {
      // Joined while connected: the whole guild, as in ready.
      dispatch("GUILD_CREATE", m.json());
      m.replica().tell(new GuildReplica.PublishPresence(userId,
          connection == null ? "offline" : status, getContext().getSelf()));
    }
    return this;
  }

  private void guildAnswered() {
    if (--awaitingGuilds == 0) {
      sendReady();
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
    String frame = "{\"op\":\"ready\",\"s\":" + seq + ",\"d\":{\"sessionId\":\"" + sessionId
        + "\",\"user\":" + user + ",\"guilds\":" + guildsJson + "}}";
    buffer(frame);
    if (connection != null) {
      connection.tell(new GatewayConnection.Bound(getContext().getSelf()));
      connection.tell(new GatewayConnection.Send(frame));
    }
    publishPresence(status);
    List<Deliver> held = new ArrayList<>(heldBack);
    heldBack.clear();
    held.forEach(this::onDeliver);
  }

  // ---- dispatch and buffer ----

  private Behavior<Command> onDeliver(Deliver d) {
    if (phase == Phase.READYING) {
      heldBack.add(d);
    } else if (phase == Phase.LIVE && guilds.containsKey(d.guildId())) {
      dispatch(d.t(), d.payload());
    }
    return this;
  }

  private void dispatch(String t, String payload) {
    seq++;
    String frame = "{\"op\":\"dispatch\",\"t\":\"" + t + "\",\"s\":" + seq + ",\"d\":" + payload + "}";
    buffer(frame);
    if (connection != null) {
      connection.tell(new GatewayConnection.Send(frame));
    }
  }

  private void buffer(String frame) {
    long now = System.currentTimeMillis();
    buffer.addLast(new Buffered(seq, now, frame));
    long oldest = now - settings.resumeMaxAge().toMillis();
    while (buffer.size() > settings.resumeMaxEvents() || buffer.peekFirst().atMillis() < oldest) {
      buffer.removeFirst();
    }
  }

  // ---- connections come and go ----

  private Behavior<Command> onResume(Resume r) {
    if (phase == Phase.NEW) {
      // A new incarnation: whatever this session was, its buffer is gone.
      r.connection().tell(new GatewayConnection.InvalidSession());
      return Behaviors.stopped();
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
    long now = System.currentTimeMillis();
    long oldest = now - settings.resumeMaxAge().toMillis();
    while (!buffer.isEmpty() && buffer.peekFirst().atMillis() < oldest) {
      buffer.removeFirst();
    }
    long firstKept = buffer.isEmpty() ? seq + 1 : buffer.peekFirst().seq();
    if (r.seq() + 1 < firstKept) {
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
    for (Buffered b : buffer) {
      if (b.seq() > r.seq()) {
        connection.tell(new GatewayConnection.Send(b.frame()));
      }
    }
    connection.tell(new GatewayConnection.Send("{\"op\":\"resumed\"}"));
    timers.cancel("expire");
    if (wasDetached) {
      publishPresence(status);
    }
    return this;
  }

  private Behavior<Command> onDetach(Detach d) {
    if (connection == null || !connection.equals(d.connection())) {
      return this; // an old connection, already replaced
    }
    getContext().unwatch(connection);
    connection = null;
    if (phase != Phase.LIVE) {
      return Behaviors.stopped(); // never got ready: nothing to resume
    }
    publishPresence("offline");
    timers.startSingleTimer("expire", new Expire(), settings.resumeMaxAge());
    return this;
  }

  private void publishPresence(String s) {
    guilds.values().forEach(r ->
        r.tell(new GuildReplica.PublishPresence(userId, s, getContext().getSelf())));
  }
}
