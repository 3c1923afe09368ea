package dev.cloister.node.auth;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.crypto.CryptoException;
import org.bouncycastle.crypto.agreement.srp.SRP6Server;
import org.bouncycastle.crypto.agreement.srp.SRP6StandardGroups;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.params.SRP6GroupParameters;

/**
 * The server half of SRP-6a logins (RFC 5054 2048-bit group, SHA-256), as Bouncy Castle's
 * {@link SRP6Server} computes it. A login is two round trips; between them the server keeps the
 * half-finished exchange here, in memory, for a bounded time.
 */
public final class SrpLogins {

  public static final SRP6GroupParameters GROUP = SRP6StandardGroups.rfc5054_2048;

  public record Started(String loginId, byte[] salt, BigInteger b) {}

  /** Who finished a login, and the server's evidence M2 to prove the server knew the verifier. */
  public record Finished(String userId, BigInteger m2) {}

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

  /**
   * {@code perClient}: logins one client address may hold unfinished at once, so one client cannot
   * fill the node's table; {@code freeFailures}: wrong passwords a username may have in a row
   * before each further attempt must wait (doubling from 1 s up to {@code maxBackoff}).
   */
  public record Limits(int maxPending, int perClient, int freeFailures, Duration maxBackoff) {}

  private record Pending(String userId, String username, String client, SRP6Server server,
      Instant expires) {}

  private record Failures(int count, Instant notBefore) {}

  private static final int MAX_TRACKED_USERNAMES = 100_000;

  private final ConcurrentHashMap<String, Pending> pending = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Integer> pendingByClient = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Failures> failures = new ConcurrentHashMap<>();
  private final SecureRandom random = new SecureRandom();
  private final SessionTokens keys;
  private final Duration timeout;
  private final Limits limits;
  private final Clock clock;

  public SrpLogins(SessionTokens keys, Duration timeout, int maxPending, Clock clock) {
    this(keys, timeout, new Limits(maxPending, 32, 5, Duration.ofMinutes(5)), clock);
  }

  public SrpLogins(SessionTokens keys, Duration timeout, Limits limits, Clock clock) {
    this.keys = keys;
    this.timeout = timeout;
    this.limits = limits;
    this.clock = clock;
  }

  /**
   * Refuses a login that may not start now; the caller checks before spending CPU on
   * {@link #start}. {@code client} is the client's rate-limit key (its address).
   */
  public void admit(String client, String username) throws LoginThrottled {
    Failures f = failures.get(username);
    Instant now = clock.instant();
    if (f != null && now.isBefore(f.notBefore())) {
      long wait = Math.max(1, Duration.between(now, f.notBefore()).toSeconds() + 1);
      throw new LoginThrottled("too many failed logins for this username; try again in " + wait
          + " s", wait);
    }
    if (pendingByClient.getOrDefault(client, 0) >= limits.perClient()) {
      throw new LoginThrottled("too many unfinished logins from your address", 5);
    }
  }

  /** True if {@code 0 < v < N}: anything else is not a verifier of this group. */
  public static boolean isValidVerifier(BigInteger v) {
    return v.signum() > 0 && v.compareTo(GROUP.getN()) < 0;
  }

  /**
   * Starts a login. {@code userId}, {@code salt} and {@code verifier} are null for an unknown
   * username: the answer then looks the same (a stable fake salt, a random B), so the API does not
   * tell which usernames exist, and the finish fails like a wrong password.
   */
  public Started start(String username, BigInteger a, String userId, byte[] salt, BigInteger verifier)
      throws LoginRefused {
    try {
      return start("unknown", username, a, userId, salt, verifier);
    } catch (LoginThrottled e) {
      throw new LoginRefused(e.getMessage());
    }
  }

  public Started start(String client, String username, BigInteger a, String userId, byte[] salt,
      BigInteger verifier) throws LoginRefused, LoginThrottled {
    admit(client, username);
    if (a.signum() <= 0 || a.mod(GROUP.getN()).signum() == 0 || a.compareTo(GROUP.getN()) >= 0) {
      throw new LoginRefused("A must be within 1..N-1");
    }
    if (pending.size() >= limits.maxPending() && expireStale() == 0) {
      throw new IllegalStateException("too many logins in progress");
    }
    boolean known = userId != null;
    byte[] answerSalt = known ? salt : keys.derive("salt", username, 16);
    BigInteger v = known ? verifier : new BigInteger(GROUP.getN().bitLength() - 2, random);
    SRP6Server server = new SRP6Server();
    server.init(GROUP, v, new SHA256Digest(), random);
    BigInteger b = server.generateServerCredentials();
    try {
      server.calculateSecret(a);
    } catch (CryptoException e) {
      throw new LoginRefused("A is not a valid public value: " + e.getMessage());
    }
    byte[] idBytes = new byte[18];
    random.nextBytes(idBytes);
    String loginId = Base64.getUrlEncoder().withoutPadding().encodeToString(idBytes);
    pendingByClient.merge(client, 1, Integer::sum);
    pending.put(loginId, new Pending(known ? userId : null, username, client, server,
        clock.instant().plus(timeout)));
    return new Started(loginId, answerSalt, b);
  }

  private void forget(Pending p) {
    pendingByClient.computeIfPresent(p.client(), (k, n) -> n <= 1 ? null : n - 1);
  }

  private void failed(String username) {
    if (failures.size() >= MAX_TRACKED_USERNAMES) {
      Instant now = clock.instant();
      failures.values().removeIf(f -> !now.isBefore(f.notBefore()));
    }
    failures.compute(username, (k, f) -> {
      int count = f == null ? 1 : f.count() + 1;
      int over = count - limits.freeFailures();
      Duration wait = over <= 0 ? Duration.ZERO
          : Duration.ofSeconds(1L << Math.min(20, over - 1));
      if (wait.compareTo(limits.maxBackoff()) > 0) {
        wait = limits.maxBackoff();
      }
      return new Failures(count, clock.instant().plus(wait));
    });
  }

  /** Finishes a login once: a login id can be tried a single time, right or wrong. */
  public Optional<Finished> finish(String loginId, BigInteger m1) {
    Pending p = pending.remove(loginId);
    if (p == null) {
      return Optional.empty();
    }
    forget(p);
    if (!clock.instant().isBefore(p.expires())) {
      return Optional.empty();
    }
    try {
      // Unknown usernames fail like wrong passwords, and count like them: the back-off does not
      // tell which names exist.
      if (p.userId() == null || !p.server().verifyClientEvidenceMessage(m1)) {
        failed(p.username());
        return Optional.empty();
      }
      failures.remove(p.username());
      return Optional.of(new Finished(p.userId(), p.server().calculateServerEvidenceMessage()));
    } catch (CryptoException e) {
      failed(p.username());
      return Optional.empty();
    }
  }

  public int pendingCount() {
    return pending.size();
  }

  /** Drops logins whose time ran out; the node calls it periodically. Returns how many. */
  public int expireStale() {
    Instant now = clock.instant();
    int removed = 0;
    for (var e : pending.entrySet()) {
      Pending p = e.getValue();
      // Removed here or by a finish at the same time, never both: only the remover forgets it.
      if (!now.isBefore(p.expires()) && pending.remove(e.getKey(), p)) {
        forget(p);
        removed++;
      }
    }
    return removed;
  }
}
