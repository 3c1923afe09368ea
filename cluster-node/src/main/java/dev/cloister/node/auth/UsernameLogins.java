package dev.cloister.node.auth;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.bouncycastle.crypto.CryptoException;
import org.bouncycastle.crypto.agreement.srp.SRP6Server;
import org.bouncycastle.crypto.digests.SHA256Digest;

/**
 * The SRP-6a logins of one username, with no Pekko in it: the half-finished exchanges (each
 * {@link SRP6Server} holds the private ephemeral b, which never leaves this object) and the
 * failure back-off. One {@link LoginDesk} entity holds one of these, so in a cluster every node
 * sees the same back-off for a name and a login can be finished once, wherever it is finished.
 */
final class UsernameLogins<O> {

  /** What a started login answers: its id, the salt and the server's public value B. */
  record Started(String loginId, byte[] salt, BigInteger serverPublic) {}

  /** Who finished a login, and the server's evidence M2. */
  record Finished(String userId, BigInteger m2) {}

  /** The exchange computed off the actor (modular exponentiations), ready to be kept. */
  record Prepared(SRP6Server server, BigInteger serverPublic) {}

  private record Pending<O>(String userId, O origin, SRP6Server server, Instant expires) {}

  private final Map<String, Pending<O>> pending = new HashMap<>();
  private int failures;
  private Instant notBefore = Instant.MIN;
  private final String username;
  private final Duration timeout;
  private final SrpLogins.Limits limits;

  UsernameLogins(String username, Duration timeout, SrpLogins.Limits limits) {
    this.username = username;
    this.timeout = timeout;
    this.limits = limits;
  }

  /** Seconds to wait before another attempt, or 0 if one may start now. */
  long waitSeconds(Instant now) {
    if (!now.isBefore(notBefore)) {
      return 0;
    }
    return Math.max(1, Duration.between(now, notBefore).toSeconds() + 1);
  }

  /**
   * The server half for {@code a} against {@code verifier} (the costly part: run it off the
   * actor). Throws {@link SrpLogins.LoginRefused} for an A that is not a valid public value.
   */
  static Prepared prepare(BigInteger a, BigInteger verifier, SecureRandom random)
      throws SrpLogins.LoginRefused {
    if (a.signum() <= 0 || a.compareTo(SrpLogins.GROUP.getN()) >= 0) {
      throw new SrpLogins.LoginRefused("A must be within 1..N-1");
    }
    SRP6Server server = new SRP6Server();
    server.init(SrpLogins.GROUP, verifier, new SHA256Digest(), random);
    BigInteger b = server.generateServerCredentials();
    try {
      server.calculateSecret(a);
    } catch (CryptoException e) {
      throw new SrpLogins.LoginRefused("A is not a valid public value: " + e.getMessage());
    }
    return new Prepared(server, b);
  }

  /**
   * Keeps a prepared exchange under {@code loginId}. {@code userId} null: an unknown username,
   * whose finish fails like a wrong password. {@code origin} names the node that admitted it.
   */
  void keep(String loginId, String userId, O origin, Prepared p, Instant now) {
    pending.put(loginId, new Pending<>(userId, origin, p.server(), now.plus(timeout)));
  }

  /**
   * Finishes a login once: the id is spent whether M1 is right or wrong. Empty for an unknown,
   * expired or spent id, or wrong evidence.
   */
  Optional<Finished> finish(String loginId, BigInteger m1, Instant now) {
    Pending<O> p = pending.remove(loginId);
    if (p == null || !now.isBefore(p.expires())) {
      return Optional.empty();
    }
    try {
      // Unknown usernames fail like wrong passwords, and count like them: the back-off does not
      // tell which names exist.
      if (p.userId() == null || !p.server().verifyClientEvidenceMessage(m1)) {
        failed(now);
        return Optional.empty();
      }
      failures = 0;
      notBefore = Instant.MIN;
      return Optional.of(new Finished(p.userId(), p.server().calculateServerEvidenceMessage()));
    } catch (CryptoException e) {
      failed(now);
      return Optional.empty();
    }
  }

  /** The origin of {@code loginId}, while it is pending. */
  Optional<O> originOf(String loginId) {
    return Optional.ofNullable(pending.get(loginId)).map(Pending::origin);
  }

  private void failed(Instant now) {
    failures++;
    int over = failures - limits.freeFailures();
    Duration wait = over <= 0 ? Duration.ZERO : Duration.ofSeconds(1L << Math.min(20, over - 1));
    if (wait.compareTo(limits.maxBackoff()) > 0) {
      wait = limits.maxBackoff();
    }
    notBefore = now.plus(wait);
  }

  /** Drops the logins whose time ran out; returns their ids and origins. */
  Map<String, O> expire(Instant now) {
    Map<String, O> gone = new HashMap<>();
    pending.entrySet().removeIf(e -> {
      boolean over = !now.isBefore(e.getValue().expires());
      if (over) {
        gone.put(e.getKey(), e.getValue().origin());
      }
      return over;
    });
    return gone;
  }

  /** Every pending login's id and origin (when the entity stops, they all end). */
  Map<String, O> pendingOrigins() {
    Map<String, O> all = new HashMap<>();
    pending.forEach((id, p) -> all.put(id, p.origin()));
    return all;
  }

  int pendingCount() {
    return pending.size();
  }

  String username() {
    return username;
  }

  /** A fresh login id: the desk's key, a dot, 18 random bytes (base64url). */
  static String newLoginId(String deskKey, SecureRandom random) {
    byte[] idBytes = new byte[18];
    random.nextBytes(idBytes);
    return deskKey + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(idBytes);
  }
}
