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

  private record Pending(String userId, SRP6Server server, Instant expires) {}

  private final ConcurrentHashMap<String, Pending> pending = new ConcurrentHashMap<>();
  private final SecureRandom random = new SecureRandom();
  private final SessionTokens keys;
  private final Duration timeout;
  private final int maxPending;
  private final Clock clock;

  public SrpLogins(SessionTokens keys, Duration timeout, int maxPending, Clock clock) {
    this.keys = keys;
    this.timeout = timeout;
    this.maxPending = maxPending;
    this.clock = clock;
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
    if (a.signum() <= 0 || a.mod(GROUP.getN()).signum() == 0 || a.compareTo(GROUP.getN()) >= 0) {
      throw new LoginRefused("A must be within 1..N-1");
    }
    if (pending.size() >= maxPending && expireStale() == 0) {
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
    pending.put(loginId, new Pending(known ? userId : null, server, clock.instant().plus(timeout)));
    return new Started(loginId, answerSalt, b);
  }

  /** Finishes a login once: a login id can be tried a single time, right or wrong. */
  public Optional<Finished> finish(String loginId, BigInteger m1) {
    Pending p = pending.remove(loginId);
    if (p == null || p.userId() == null || !clock.instant().isBefore(p.expires())) {
      return Optional.empty();
    }
    try {
      if (!p.server().verifyClientEvidenceMessage(m1)) {
        return Optional.empty();
      }
      return Optional.of(new Finished(p.userId(), p.server().calculateServerEvidenceMessage()));
    } catch (CryptoException e) {
      return Optional.empty();
    }
  }

  public int pendingCount() {
    return pending.size();
  }

  /** Drops logins whose time ran out; the node calls it periodically. Returns how many. */
  public int expireStale() {
    Instant now = clock.instant();
    int before = pending.size();
    pending.values().removeIf(p -> !now.isBefore(p.expires()));
    return before - pending.size();
  }
}
