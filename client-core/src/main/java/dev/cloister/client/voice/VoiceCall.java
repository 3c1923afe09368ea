package dev.cloister.client.voice;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.mls.GroupApi;
import dev.cloister.client.mls.GroupSession;
import dev.cloister.client.mls.GroupSync;
import dev.cloister.client.profile.HomeLock;
import dev.cloister.client.voice.audio.AudioSink;
import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.mls.group.MlsGroupException;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * This device in one voice call: it joins through the gateway ({@code voice_state_update}), runs
 * a {@link VoiceEngine} against the SFU the server named, and keeps the call's MLS group in step
 * on a thread of its own (so that neither the media thread nor the gateway's wait on a commit):
 * joining the group, following its log on each MLS dispatch, and handing every epoch it reaches to
 * the engine. The member with the lowest leaf commits an empty commit when the epoch is older
 * than the server's rekey interval, so that the call's keys rotate even when nobody comes or goes.
 *
 * <p>When a moderator moves the member into another voice channel, the same object becomes that
 * channel's call: the engine switches to the new conference and the device joins the new group
 * (it is taken out of the old one by the server).
 *
 * <p>The application forwards the gateway's dispatches to {@link #onDispatch}.
 */
public final class VoiceCall implements AutoCloseable {

  /** What happens in the call, for a UI or the CLI's JSON lines. */
  public interface Listener {
    /** This device reached {@code epoch} of the call's group, with {@code members} devices. */
    default void epoch(long epoch, int members) {}

    /** Something the person should know (a failed sync, a refused commit). */
    default void notice(String text) {}

    /** The call moved to another voice server (its SFU failed); media resumes there. */
    default void moved(VoiceServer server) {}

    /**
     * A moderator ({@code byUserId}) moved this member into voice channel {@code channelId}: the
     * call is that channel's now, with its own group; media resumes once its keys are here.
     */
    default void channelChanged(String channelId, String byUserId) {}
  }

  private static final Set<String> GROUP_EVENTS =
      Set.of("MLS_PROPOSALS", "MLS_COMMIT", "MLS_WELCOME", "MLS_GROUP_CREATE",
          "MLS_PROPOSALS_REVOKED");
  /** A safety net under the dispatches (a lost one, a reconnect): sync this often regardless. */
  private static final Duration RESYNC = Duration.ofSeconds(5);
  private static final Duration SOON = Duration.ofMillis(200);
  /**
   * How long media may stay without a binding before this device asks the gateway again where
   * to send (a missed "moved" dispatch, or a gateway session that is new after a node died).
   */
  private static final Duration REJOIN_AFTER = Duration.ofSeconds(6);
  /**
   * How long after hearing of a commit this device goes on sending under the epoch before it
   * ({@code -Dcloister.voice.switch-delay-ms=300}; 0 switches as soon as the commit is processed):
   * the call's members hear of a commit at about the same moment (its dispatch reaches them all
   * at once) and switch together at that moment plus this delay, so that those who take longer to
   * process the commit already hold the new epoch's key when the first frames under it arrive. A
   * device that processes the commit after that moment switches at once.
   */
  static final Duration SWITCH_DELAY = Duration.ofMillis(Long.getLong(
      "cloister.voice.switch-delay-ms", 300));
  private static final Duration WATCH = Duration.ofSeconds(2);

  private final CloisterClient client;
  private final GatewayClient gateway;
  private final String guildId;
  /** The channel and group of the call: another channel's after a moderator's move. */
  private volatile String channelId;
  private volatile String groupId;
  private final Duration rekeyInterval;
  /** The self mute and deafen others are told of (what a rejoin asks for again). */
  private volatile boolean selfMute;
  private volatile boolean selfDeaf;
  private final VoiceEngine engine;
  private final GroupSync sync;
  private final Listener listener;
  private final ScheduledExecutorService worker;
  // worker thread only
  private boolean syncQueued;
  private String lastWait;
  private long installedEpoch = -1;
  private long epochSinceNanos;
  private long unboundSince;
  private boolean wasBound;
  private boolean rejoining;
  private volatile boolean closed;
  /** When this device heard of the commit that leads to each epoch ({@code nanoTime}). */
  private final Map<Long, Long> commitHeard = new ConcurrentHashMap<>();

  private VoiceCall(CloisterClient client, GatewayClient gateway, String guildId, String channelId,
      JsonNode server, boolean selfMute, VoiceEngine engine, Listener listener) {
    this.client = client;
    this.selfMute = selfMute;
    this.gateway = gateway;
    this.guildId = guildId;
    this.channelId = channelId;
    this.groupId = server.path("groupId").asText();
    this.rekeyInterval = Duration.ofMillis(Math.max(1_000,
        server.path("rekeyIntervalMs").asLong(30_000)));
    this.engine = engine;
    this.listener = listener;
    this.sync = new GroupSync(new GroupApi(client.rest()), client.profile(), client.identity(),
        listener::notice);
    ScheduledThreadPoolExecutor w = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, "cloister-voice-mls");
      t.setDaemon(true);
      return t;
    });
    // A closed call runs none of its later syncs: Executors' own would run each (a rekey's is
    // the rekey interval away) and hold close() in awaitTermination for its whole 5 s.
    w.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    this.worker = w;
  }

  /**
   * Joins {@code channelId} of {@code guildId} and starts sending {@code source} and playing
   * what others send into {@code sink}.
   *
   * @throws dev.cloister.client.http.ApiException the server refused (no CONNECT, channel full)
   */
  public static VoiceCall join(CloisterClient client, GatewayClient gateway, String guildId,
      String channelId, boolean selfMute, VoiceConfig config, AudioSource source, AudioSink sink,
      Listener listener, Duration timeout) throws IOException, InterruptedException,
      TimeoutException {
    JsonNode server;
    try {
      server = gateway.joinVoice(guildId, channelId, selfMute, false)
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IOException(e.getCause());
    }
    VoiceEngine engine = VoiceEngine.start(config, VoiceServer.fromJson(server), source, sink);
    engine.setMuted(selfMute);
    VoiceCall call = new VoiceCall(client, gateway, guildId, channelId, server, selfMute, engine,
        listener);
    call.worker.scheduleWithFixedDelay(call::requestSync, 0, RESYNC.toMillis(),
        TimeUnit.MILLISECONDS);
    call.worker.scheduleWithFixedDelay(call::watchMedia, WATCH.toMillis(), WATCH.toMillis(),
        TimeUnit.MILLISECONDS);
    return call;
  }

  public String groupId() {
    return groupId;
  }

  public String channelId() {
    return channelId;
  }

  public VoiceEngine engine() {
    return engine;
  }

  /**
   * Feed every gateway dispatch here: the call's group events make it sync, and a
   * {@code VOICE_SERVER_UPDATE} for this call naming another endpoint moves the media there.
   */
  public void onDispatch(Dispatch d) {
    if (GROUP_EVENTS.contains(d.type()) && groupId.equals(d.data().path("groupId").asText())) {
      if (d.type().equals("MLS_COMMIT") && d.data().path("epoch").canConvertToLong()) {
        // the commit made in epoch n leads to epoch n + 1
        commitHeard.putIfAbsent(d.data().path("epoch").asLong() + 1, System.nanoTime());
      }
      later(this::requestSync, 0);
    } else if (d.type().equals("VOICE_SERVER_UPDATE")
        && channelId.equals(d.data().path("channelId").asText())
        && groupId.equals(d.data().path("groupId").asText())) {
      serverNamed(d.data());
    } else if (d.type().equals("VOICE_SERVER_UPDATE")
        && guildId.equals(d.data().path("guildId").asText())
        && channelId.equals(d.data().path("movedFrom").asText())) {
      JsonNode data = d.data();
      later(() -> switchCall(data), 0);
    }
  }

  /**
   * Worker thread: a moderator moved this member into another channel. The engine switches to
   * that call's endpoint and drops the old call's keys; the group sync joins the new call's group,
   * whose epochs the engine then takes from the first.
   */
  private void switchCall(JsonNode data) {
    String next = data.path("channelId").asText();
    String nextGroup = data.path("groupId").asText();
    if (closed || next.isEmpty() || nextGroup.isEmpty() || next.equals(channelId)) {
      return;
    }
    try {
      engine.switchCall(VoiceServer.fromJson(data));
    } catch (IOException | IllegalArgumentException e) {
      listener.notice("moved to another channel, but its voice server is unusable: "
          + e.getMessage());
      return;
    }
    channelId = next;
    groupId = nextGroup;
    commitHeard.clear(); // the old group's
    installedEpoch = -1;
    epochSinceNanos = 0;
    lastWait = null;
    wasBound = false;
    unboundSince = 0;
    listener.channelChanged(next, data.path("movedBy").asText(null));
    requestSync();
  }

  /** Where the server says to send media now; nothing changes if it is where media goes. */
  private void serverNamed(JsonNode data) {
    try {
      VoiceServer next = VoiceServer.fromJson(data);
      if (!next.equals(engine.server())) {
        engine.moveTo(next);
        listener.moved(next);
      }
    } catch (IOException | IllegalArgumentException e) {
      listener.notice("the voice server named is unusable: " + e.getMessage());
    }
  }

  /**
   * Worker thread: when media has had no binding for {@link #REJOIN_AFTER}, asks the gateway for
   * this call again. The same session gets the call's current endpoint (so a "moved" dispatch lost
   * on the way is made good); a new session (the gateway reconnected to another node) takes the
   * call over, with this same device in the same group.
   */
  private void watchMedia() {
    if (closed || rejoining) {
      return;
    }
    long now = System.nanoTime();
    if (engine.stats().bound()) {
      wasBound = true;
      unboundSince = 0;
      return;
    }
    if (!wasBound) {
      return; // still binding for the first time
    }
    if (unboundSince == 0) {
      unboundSince = now;
      return;
    }
    if (now - unboundSince < REJOIN_AFTER.toNanos()) {
      return;
    }
    rejoining = true;
    unboundSince = now; // the next ask no sooner than REJOIN_AFTER from now
    listener.notice("no media from the voice server; asking the server where the call is");
    gateway.joinVoice(guildId, channelId, selfMute, selfDeaf).orTimeout(15, TimeUnit.SECONDS)
        .whenComplete((server, failure) -> {
      if (failure == null) {
        serverNamed(server);
      } else {
        listener.notice("could not rejoin the call: " + failure.getMessage());
      }
      later(() -> rejoining = false, 0);
    });
  }

  public void setMuted(boolean muted) {
    engine.setMuted(muted);
  }

  public void setDeafened(boolean deafened) {
    engine.setDeafened(deafened);
  }

  /**
   * Tells the others this device's self mute and deafen (their VOICE_STATE_UPDATE), apart from
   * what it sends or plays: push-to-talk mutes the engine between presses without announcing it.
   */
  public void announce(boolean selfMute, boolean selfDeaf) {
    this.selfMute = selfMute;
    this.selfDeaf = selfDeaf;
    gateway.joinVoice(guildId, channelId, selfMute, selfDeaf).orTimeout(15, TimeUnit.SECONDS)
        .whenComplete((server, failure) -> {
          if (failure != null) {
            listener.notice("could not tell the call your mute and deafen: "
                + failure.getMessage());
          }
        });
  }

  /** The epoch whose keys this device sends with (-1 before it joined the group). */
  public long epoch() {
    return engine.stats().epoch();
  }

  // ---- the group (worker thread) ----

  private void requestSync() {
    if (syncQueued || closed) {
      return;
    }
    syncQueued = true;
    later(this::syncNow, 0);
  }

  private void syncNow() {
    syncQueued = false;
    if (closed) {
      return;
    }
    try (HomeLock lock = client.profile().lock()) {
      GroupSync.Result r = sync.sync(groupId, epochs);
      if (r.member()) {
        install(r.session());
        if (rekeyDue(r.session()) && sync.commitNow(r.session())) {
          install(r.session());
        }
      } else {
        if (r.detail() != null && !r.detail().equals(lastWait)) {
          listener.notice("not in the call's keys yet: " + r.detail());
        }
        lastWait = r.detail();
        if (r.soon()) {
          later(this::requestSync, SOON.toMillis());
        }
      }
    } catch (IOException | MlsGroupException | RuntimeException e) {
      listener.notice("could not sync the call's group " + groupId + ": " + e.getMessage());
      later(this::requestSync, SOON.toMillis() * 5);
    }
  }

  private void later(Runnable task, long millis) {
    if (closed) {
      return;
    }
    try {
      worker.schedule(task, millis, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closed meanwhile
    }
  }

  private void install(GroupSession s) throws MlsGroupException {
    if (s.epoch() == installedEpoch) {
      return;
    }
    long now = System.nanoTime();
    Long heard = commitHeard.remove(s.epoch());
    commitHeard.keySet().removeIf(e -> e < s.epoch());
    // Heard of it before (its dispatch): switch at that moment plus the delay, as the others do.
    // Not heard of (this device's own commit, or a dispatch that has not come): from now.
    long sendFrom = (heard != null && heard - now < 0 ? heard : now) + SWITCH_DELAY.toNanos();
    engine.installEpoch(s.voiceEpoch(), sendFrom);
    installedEpoch = s.epoch();
    epochSinceNanos = System.nanoTime();
    listener.epoch(s.epoch(), s.members().size());
    later(this::requestSync, rekeyInterval.toMillis() + 50);
  }

  /** The lowest leaf rotates the keys once the epoch is older than the rekey interval. */
  private boolean rekeyDue(GroupSession s) throws MlsGroupException {
    if (System.nanoTime() - epochSinceNanos < rekeyInterval.toNanos()) {
      return false;
    }
    int me = s.leafIndex();
    return s.members().keySet().stream().allMatch(leaf -> leaf >= me);
  }

  /**
   * A call's group carries no chat messages; what the sync tells it is each epoch it passes
   * through ({@code openHeld} comes before each commit is applied). Every one is installed, not
   * only the last: in a burst of commits a slower member may still send under one in the middle,
   * and its key must be here for the grace period.
   */
  private final GroupSync.Messages epochs = new GroupSync.Messages() {
    @Override
    public void beforeCommits(GroupSession session) {
      // no messages to fetch
    }

    @Override
    public void openHeld(GroupSession session) {
      if (session.joined()) {
        try {
          install(session);
        } catch (MlsGroupException e) {
          listener.notice("could not take the call's keys of epoch " + session.epoch() + ": "
              + e.getMessage());
        }
      }
    }
  };

  /** Leaves the call: the server frees the endpoint and removes this device from the group. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    gateway.leaveVoice(guildId);
    worker.shutdown();
    try {
      worker.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    engine.close();
  }
}
