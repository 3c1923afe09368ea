package dev.cloister.node.auth;

import dev.cloister.guild.CborSerializable;
import java.math.BigInteger;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.bouncycastle.crypto.agreement.srp.SRP6StandardGroups;
import org.bouncycastle.crypto.params.SRP6GroupParameters;

/**
 * SRP-6a logins (RFC 5054 2048-bit group, SHA-256, as Bouncy Castle's {@code SRP6Server}
 * computes it) as one node serves them. A login is two round trips, and in a cluster they may
 * reach two nodes: the half-finished exchange lives in the username's {@link LoginDesk}, a
 * sharded entity any node reaches, and the login id names that desk.
 *
 * <p>This node admits the logins started through it: at most {@code perClient} unfinished ones
 * per client address and {@code maxPending} in all, counted until the login ends wherever it
 * ends (the desk tells this node) or its time runs out. A cluster of N nodes thus holds at most
 * N x {@code maxPending}. The per-username back-off lives in the desk, so it is the same on every
 * node.
 */
public final class SrpLogins {

  public static final SRP6GroupParameters GROUP = SRP6StandardGroups.rfc5054_2048;

  /** A started login: its id, the salt, and the server's public value B. */
  public record Started(String loginId, byte[] salt, BigInteger b) {}

  /** Who finished a login, and the server's evidence M2 to prove the server knew the verifier. */
  public record Finished(String userId, BigInteger m2) {}

  /** From a desk to the node that admitted the login: it ended (finished, expired or lost). */
  public record Ended(String loginId) implements CborSerializable {}

  public static final class LoginRefused extends Exception {
    public LoginRefused(String message) {
      super(message);
    }
  }

  /** Not now: too many logins from this client, or too many failures for this username. */
  public static final class LoginThrottled extends Exception {
    private final long retryAfterSeconds;

    public LoginThrottled(String message, long retryAfterSeconds) {
      super(message);
      this.retryAfterSeconds = retryAfterSeconds;
    }

    public long retryAfterSeconds() {
      return retryAfterSeconds;
    }
  }

  /** Too many logins in progress on this node, or its SRP pool is full: a 503. */
  public static final class LoginsBusy extends Exception {
    public LoginsBusy(String message) {
      super(message);
    }
  }

  /**
   * {@code maxPending}: unfinished logins this node admits at once; {@code perClient}: of those,
   * from one client address; {@code freeFailures}: wrong passwords a username may have in a row
   * before each further attempt must wait (doubling from 1 s up to {@code maxBackoff}).
   */
  public record Limits(int maxPending, int perClient, int freeFailures, Duration maxBackoff) {}

  private record Admitted(String client, Instant expires) {}

  /** A desk key: 12 bytes of a keyed hash of the username, base64url. */
  private static final Pattern LOGIN_ID = Pattern.compile("[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{24}");

  private final ConcurrentHashMap<String, Admitted> admitted = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Integer> pendingByClient = new ConcurrentHashMap<>();
  private final AtomicInteger pending = new AtomicInteger();
  private final SessionTokens keys;
  private final Duration timeout;
  private final Duration askTimeout;
  private final Limits limits;
  private final Clock clock;
  private final ClusterSharding sharding;
  private final ActorRef<Ended> origin;

  /**
   * Starts this node's desks (their SRP work runs on {@code srpWork}) and its end-of-login
   * listener; {@code askTimeout} bounds each round trip to a desk.
   */
  public SrpLogins(ActorSystem<?> system, SessionTokens keys, Duration timeout, Limits limits,
      Duration askTimeout, ExecutorService srpWork, Clock clock) {
    this.keys = keys;
    this.timeout = timeout;
    this.askTimeout = askTimeout;
    this.limits = limits;
    this.clock = clock;
    this.sharding = ClusterSharding.get(system);
    LoginDesk.init(system, new LoginDesk.Settings(timeout, limits, srpWork, clock));
    this.origin = system.systemActorOf(Behaviors.receiveMessage(e -> {
      release(e.loginId());
      return Behaviors.same();
    }), "login-origin", Props.empty());
  }

  /**
   * SRP's modular exponentiations (about 10 ms of CPU per login start) run on a pool like this
   * one, not on the dispatcher that serves everything else: a few threads and a short queue, so
   * that a login flood costs at most these threads (a full pool answers 503).
   */
  public static ExecutorService workPool() {
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    var pool = new java.util.concurrent.ThreadPoolExecutor(threads, threads, 30,
        java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(64),
        r -> {
          Thread t = new Thread(r, "cloister-srp");
          t.setDaemon(true);
          return t;
        });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  /**
   * Refuses a login this client may not start now; the caller checks before any other work.
   * {@code client} is the client's rate-limit key (its address).
   */
  public void admit(String client) throws LoginThrottled, LoginsBusy {
    if (pendingByClient.getOrDefault(client, 0) >= limits.perClient()) {
      throw new LoginThrottled("too many unfinished logins from your address", 5);
    }
    if (pending.get() >= limits.maxPending() && expireStale() == 0) {
      throw new LoginsBusy("too many logins in progress; try again shortly");
    }
  }

  /** True if {@code 0 < v < N}: anything else is not a verifier of this group. */
  public static boolean isValidVerifier(BigInteger v) {
    return v.signum() > 0 && v.compareTo(GROUP.getN()) < 0;
  }

  /**
   * Starts a login at the username's desk. {@code userId}, {@code salt} and {@code verifier} are
   * null for an unknown username: the answer then looks the same (a stable fake salt, a random
   * B), so the API does not tell which usernames exist, and the finish fails like a wrong
   * password. Fails with {@link LoginRefused}, {@link LoginThrottled} or {@link LoginsBusy}.
   */
  public CompletionStage<Started> start(String client, String username, BigInteger a,
      String userId, byte[] salt, BigInteger verifier) {
    try {
      admit(client);
    } catch (LoginThrottled | LoginsBusy e) {
      return CompletableFuture.failedFuture(e);
    }
    if (a.signum() <= 0 || a.compareTo(GROUP.getN()) >= 0) {
      return CompletableFuture.failedFuture(new LoginRefused("A must be within 1..N-1"));
    }
    boolean known = userId != null;
    byte[] answerSalt = known ? salt : keys.derive("salt", username, 16);
    byte[] v = known ? verifier.toByteArray() : null;
    // Held from now, so that logins under way count against the caps too.
    pendingByClient.merge(client, 1, Integer::sum);
    pending.incrementAndGet();
    return sharding.entityRefFor(LoginDesk.ENTITY_KEY, deskKey(username))
        .<LoginDesk.StartAnswer>ask(r -> new LoginDesk.Start(username, a, known ? userId : null,
            answerSalt, v, origin, r), askTimeout)
        .handle((answer, failure) -> {
          if (answer == null || answer.loginId() == null) {
            unhold(client);
          }
          if (failure != null) {
            throw new java.util.concurrent.CompletionException(failure);
          }
          if (answer.loginId() != null) {
            admitted.put(answer.loginId(), new Admitted(client, clock.instant().plus(timeout)));
            return new Started(answer.loginId(), answer.salt(), answer.serverPublic());
          }
          Exception refusal = answer.throttled() != null
              ? new LoginThrottled(answer.throttled(), answer.retryAfterSeconds())
              : answer.refused() != null ? new LoginRefused(answer.refused())
              : new LoginsBusy("the node is busy with other logins; try again shortly");
          throw new java.util.concurrent.CompletionException(refusal);
        });
  }

  /**
   * Finishes a login once, on whichever node: a login id can be tried a single time, right or
   * wrong. Empty for an unknown, expired or spent id, or wrong evidence.
   */
  public CompletionStage<Optional<Finished>> finish(String loginId, BigInteger m1) {
    if (!LOGIN_ID.matcher(loginId).matches()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return sharding.entityRefFor(LoginDesk.ENTITY_KEY, loginId.substring(0, 16))
        .<LoginDesk.FinishAnswer>ask(r -> new LoginDesk.Finish(loginId, m1, r), askTimeout)
        .thenApply(answer -> {
          release(loginId); // at once if it was admitted here (the desk's word follows)
          return answer;
        })
        .thenApply(answer -> answer.userId() == null ? Optional.<Finished>empty()
            : Optional.of(new Finished(answer.userId(), answer.m2())));
  }

  private String deskKey(String username) {
    return Base64.getUrlEncoder().withoutPadding()
        .encodeToString(keys.derive("login-desk", username, 12));
  }

  private void unhold(String client) {
    pendingByClient.computeIfPresent(client, (k, n) -> n <= 1 ? null : n - 1);
    pending.decrementAndGet();
  }

  /** A login admitted here ended; called once per login, by whichever comes first. */
  private void release(String loginId) {
    Admitted a = admitted.remove(loginId);
    if (a != null) {
      unhold(a.client());
    }
  }

  /** Logins admitted here and not ended yet (those under way at a desk included). */
  public int pendingCount() {
    return pending.get();
  }

  /**
   * Forgets admitted logins whose time ran out without word from their desk (its node died);
   * the node calls it periodically. Returns how many.
   */
  public int expireStale() {
    Instant now = clock.instant();
    int removed = 0;
    for (var e : admitted.entrySet()) {
      if (!now.isBefore(e.getValue().expires()) && admitted.remove(e.getKey(), e.getValue())) {
        unhold(e.getValue().client());
        removed++;
      }
    }
    return removed;
  }
}
