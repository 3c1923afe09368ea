package dev.cloister.load;

import static io.gatling.javaapi.core.CoreDsl.doIf;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.pause;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.Session;
import io.gatling.javaapi.core.Simulation;
import java.time.Duration;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.IntPredicate;

/**
 * What every Cloister simulation shares: its settings, the prepared population (made in the
 * constructor, before Gatling injects anyone, so it is not measured), a worker pool for the SDK's
 * blocking calls, the ledger of sent messages, and steps for logging in, connecting and closing.
 * {@code after()} closes every client and deletes the run's homes.
 */
public abstract class CloisterSimulation extends Simulation {

  static final String MEMBER = "member";
  /** How long a session's ready may take before the user counts as failed to connect. */
  static final Duration READY_WAIT = Duration.ofSeconds(60);
  /** After the last post, how long receivers wait for deliveries still on their way. */
  static final Duration GRACE = Duration.ofSeconds(3);
  /** After the last post, how long a decrypting member may take to read what it was delivered. */
  static final Duration DECRYPT_DRAIN = Duration.ofSeconds(30);

  protected final LoadSettings settings;
  protected final ExecutorService pool;
  protected final Ledger ledger = new Ledger();
  protected final Recorder recorder;
  protected final Population population;
  private final Queue<Member> members = new ConcurrentLinkedQueue<>();
  private CallWatch calls;
  private final AtomicInteger logins = new AtomicInteger();

  protected CloisterSimulation(String name, int memberCount, int newcomerCount, boolean group) {
    this(name, memberCount, newcomerCount, group, false);
  }

  /** {@code voice}: the guild gets a voice channel ({@link Population#voiceChannelId()}). */
  protected CloisterSimulation(String name, int memberCount, int newcomerCount, boolean group,
      boolean voice) {
    this.settings = LoadSettings.fromSystemProperties();
    this.recorder = new Recorder(name);
    this.pool = Executors.newFixedThreadPool(settings.threads(), r -> {
      Thread t = new Thread(r, "cloister-load-worker");
      t.setDaemon(true);
      return t;
    });
    try {
      this.population = Population.prepare(settings, name, memberCount, newcomerCount, group,
          voice);
    } catch (Exception e) {
      pool.shutdownNow();
      throw new IllegalStateException("could not prepare the accounts on " + settings.url()
          + ": " + ClientCall.describe(e), e);
    }
  }

  /**
   * SRP login from the feeder's account; the user's {@link Member} and its arrival order
   * ({@code index}, from 0) go into the session. {@code decrypts}: which arrivals decrypt.
   */
  protected ChainBuilder login(IntPredicate decrypts) {
    return exec(ClientCall.timed("login", recorder, pool, s -> {
      int index = logins.getAndIncrement();
      Member m = Member.login(Map.of("username", s.getString("username"),
          "password", s.getString("password"), "home", s.getString("home")), settings.url(),
          ledger, recorder, decrypts.test(index));
      members.add(m);
      return s.set(MEMBER, m).set("index", index);
    }));
  }

  /** Connects the gateway and waits for ready (measured from the WebSocket upgrade). */
  protected ChainBuilder connect() {
    return exec(ClientCall.timed("connect-to-ready", recorder, pool, s -> {
      loggedIn(s).connect(READY_WAIT);
      ledger.online();
      return s;
    }));
  }

  /** Waits (without a thread) until {@code done} holds or {@code limit} has passed. */
  protected static ChainBuilder waitUntil(BooleanSupplier done, Duration limit) {
    return exec(s -> s.set("waitUntil", System.nanoTime() + limit.toNanos()))
        .asLongAs(s -> !done.getAsBoolean() && System.nanoTime() < s.getLong("waitUntil"))
        .on(pause(Duration.ofMillis(100)));
  }

  /**
   * Lets the member's decrypting thread catch up, at most {@link #DECRYPT_DRAIN}; what is left is
   * recorded as not decrypted when it closes.
   */
  protected static ChainBuilder drainDecryptions() {
    return exec(s -> s.set("waitUntil", System.nanoTime() + DECRYPT_DRAIN.toNanos()))
        .asLongAs(s -> s.contains(MEMBER) && !member(s).decryptionsDone()
            && System.nanoTime() < s.getLong("waitUntil"))
        .on(pause(Duration.ofMillis(100)));
  }

  /**
   * Every member that was online through the run records each acknowledged message it lost,
   * after its decryptions have caught up.
   */
  protected ChainBuilder recordLost() {
    return drainDecryptions()
        .exec(ClientCall.timed("deliveries checked", recorder, pool, s -> {
      int lost = loggedIn(s).recordLost(0, Long.MAX_VALUE);
      if (lost > 0) {
        throw new IllegalStateException(lost + " messages lost by " + member(s).username());
      }
      return s;
    }));
  }

  /** The watch over this run's voice participants (started on first use). */
  protected synchronized CallWatch calls() {
    if (calls == null) {
      calls = new CallWatch(recorder);
    }
    return calls;
  }

  /**
   * Joins the population's voice channel; the step ends when the member hears its first frame
   * ({@code firstAudio}: recorded as "join-to-first-audio" from the moment it asked) or, for a
   * speaker who may be the first in the call, sends its first. {@code toneHz}: the tone this
   * member sends, 0 to listen muted. A failure is recorded as {@code failureName}.
   */
  protected ChainBuilder joinCall(String failureName,
      java.util.function.ToDoubleFunction<Session> toneHz, boolean firstAudio) {
    CallWatch watch = calls();
    return exec(ClientCall.untimedAsync(failureName, recorder, pool, s -> {
      Participant p = Participant.join(loggedIn(s), population.guildId(),
          population.voiceChannelId(), toneHz.applyAsDouble(s), firstAudio, watch);
      return p.ready().thenApply(t -> s);
    }));
  }

  /**
   * For a member in a call: "frames checked", KO when it could not decrypt a frame after it
   * settled, heard audio for long without settling, or was to speak and sent nothing.
   */
  protected ChainBuilder checkCall() {
    return doIf(s -> s.contains(MEMBER) && member(s).call() != null).then(
        exec(ClientCall.timed("frames checked", recorder, pool, s -> {
          Participant.Tally t = calls().finish(member(s).call());
          if (t.problem() != null) {
            throw new IllegalStateException(t.problem());
          }
          return s;
        })));
  }

  /** Leaves the call this member is in, if any (a leave is a commit for those who stay). */
  protected ChainBuilder leaveCall() {
    return doIf(s -> s.contains(MEMBER) && member(s).call() != null).then(
        exec(ClientCall.untimed("leave call", recorder, pool, s -> {
          Participant p = member(s).call();
          if (p != null) {
            p.leave();
          }
          return s;
        })));
  }

  protected ChainBuilder close() {
    return exec(s -> {
      if (s.contains(MEMBER)) {
        member(s).close();
      }
      return s;
    });
  }

  /**
   * The run's assertions: {@code always}, plus the ones that need a clock when this run keeps
   * them (see {@link LoadSettings}). One list, since a second {@code assertions(...)} call on a
   * Gatling set-up replaces the first.
   */
  protected java.util.List<io.gatling.javaapi.core.Assertion> withLatencyLimits(
      java.util.List<io.gatling.javaapi.core.Assertion> always,
      io.gatling.javaapi.core.Assertion... limits) {
    java.util.List<io.gatling.javaapi.core.Assertion> all = new java.util.ArrayList<>(always);
    if (settings.latencyLimits()) {
      all.addAll(java.util.List.of(limits));
    }
    return all;
  }

  /** The user's arrival order from its login (from 0), or -1 when its login failed. */
  static int index(Session s) {
    return s.contains("index") ? s.getInt("index") : -1;
  }

  static Member member(Session s) {
    return (Member) s.get(MEMBER);
  }

  /** The user's member, for a step that needs a session: says so when its login failed. */
  static Member loggedIn(Session s) {
    Member m = member(s);
    if (m == null) {
      throw new IllegalStateException("not logged in (its login failed, see \"login\")");
    }
    return m;
  }

  protected static ChainBuilder pauseFor(Duration d) {
    return d.isZero() ? exec(s -> s) : exec(pause(d));
  }

  @Override
  public void after() {
    CallWatch watch;
    synchronized (this) {
      watch = calls;
    }
    if (watch != null) {
      Population.say("%s", watch.summary());
      watch.close();
    }
    int disconnects = 0;
    for (Member m : members) {
      disconnects += m.disconnects();
      m.close();
    }
    pool.shutdownNow();
    Population.say("%d sessions closed (%d disconnects seen during the run); %d messages "
        + "acknowledged", members.size(), disconnects, ledger.acknowledged());
    if (!Boolean.getBoolean("load.keep-homes")) {
      try {
        population.delete();
      } catch (java.io.IOException e) {
        Population.say("could not delete %s: %s", population.dir(), e.getMessage());
      }
    } else {
      Population.say("accounts kept in %s", population.dir());
    }
  }
}
