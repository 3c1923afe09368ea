package dev.cloister.node.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import org.bouncycastle.crypto.agreement.srp.SRP6Client;
import org.bouncycastle.crypto.agreement.srp.SRP6VerifierGenerator;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.junit.jupiter.api.Test;

/**
 * One username's logins: a login is spent by its first finish, and wrong passwords make the next
 * attempts wait. (The per-client caps and the cluster routing are tested through real nodes:
 * ApiBadInputTest, LoginAnywhereTest.)
 */
class UsernameLoginsTest {

  private static final byte[] SALT = {1, 2, 3, 4};
  private final SecureRandom random = new SecureRandom();
  private Instant now = Instant.parse("2026-12-01T00:00:00Z");
  private final UsernameLogins<String> logins = new UsernameLogins<>("alice",
      Duration.ofSeconds(60), new SrpLogins.Limits(1_000, 4, 3, Duration.ofSeconds(30)));

  private static BigInteger verifier(String password) {
    SRP6VerifierGenerator g = new SRP6VerifierGenerator();
    g.init(SrpLogins.GROUP, new SHA256Digest());
    return g.generateVerifier(SALT, "alice".getBytes(StandardCharsets.UTF_8),
        password.getBytes(StandardCharsets.UTF_8));
  }

  /** A started login and the client's evidence for {@code password}. */
  private record Attempt(String loginId, BigInteger m1) {}

  private Attempt start(String password) throws Exception {
    SRP6Client c = new SRP6Client();
    c.init(SrpLogins.GROUP, new SHA256Digest(), random);
    BigInteger a = c.generateClientCredentials(SALT, "alice".getBytes(StandardCharsets.UTF_8),
        password.getBytes(StandardCharsets.UTF_8));
    UsernameLogins.Prepared p = UsernameLogins.prepare(a, verifier("right"), random);
    String id = UsernameLogins.newLoginId("k".repeat(16), random);
    logins.keep(id, "42", "node-a", p, now);
    c.calculateSecret(p.serverPublic());
    return new Attempt(id, c.calculateClientEvidenceMessage());
  }

  /** One whole login with {@code password}; throws if the back-off says wait. */
  private boolean login(String password) throws Exception {
    long wait = logins.waitSeconds(now);
    if (wait > 0) {
      throw new SrpLogins.LoginThrottled("wait " + wait, wait);
    }
    Attempt a = start(password);
    return logins.finish(a.loginId(), a.m1(), now).isPresent();
  }

  @Test
  void aLoginIsSpentByItsFirstFinishRightOrWrong() throws Exception {
    Attempt a = start("right");
    assertThat(logins.originOf(a.loginId())).contains("node-a");
    var done = logins.finish(a.loginId(), a.m1(), now);
    assertThat(done).isPresent();
    assertThat(done.get().userId()).isEqualTo("42");
    assertThat(logins.finish(a.loginId(), a.m1(), now)).as("reused").isEmpty();
    assertThat(logins.originOf(a.loginId())).isEmpty();

    Attempt b = start("right");
    assertThat(logins.finish(b.loginId(), BigInteger.ONE, now)).isEmpty();
    assertThat(logins.finish(b.loginId(), b.m1(), now)).as("spent by the wrong try").isEmpty();
  }

  @Test
  void anExpiredLoginIsRefusedAndSwept() throws Exception {
    Attempt a = start("right");
    Attempt b = start("right");
    now = now.plusSeconds(61);
    assertThat(logins.finish(a.loginId(), a.m1(), now)).isEmpty();
    assertThat(logins.expire(now)).containsOnlyKeys(b.loginId());
    assertThat(logins.pendingCount()).isZero();
  }

  @Test
  void aPublicValueOutsideTheGroupIsRefused() {
    assertThatThrownBy(() -> UsernameLogins.prepare(BigInteger.ZERO, verifier("right"), random))
        .isInstanceOf(SrpLogins.LoginRefused.class).hasMessageContaining("1..N-1");
    assertThatThrownBy(() -> UsernameLogins.prepare(SrpLogins.GROUP.getN(), verifier("right"),
        random)).isInstanceOf(SrpLogins.LoginRefused.class);
  }

  @Test
  void wrongPasswordsMakeTheNextAttemptsWaitLongerAndARightOneResets() throws Exception {
    assertThat(login("right")).isTrue();
    for (int i = 0; i < 3; i++) {
      assertThat(login("guess" + i)).isFalse(); // free failures
    }
    assertThat(login("guess3")).isFalse(); // the 4th: from now on each attempt waits
    assertThatThrownBy(() -> login("right"))
        .isInstanceOf(SrpLogins.LoginThrottled.class)
        .satisfies(e -> assertThat(((SrpLogins.LoginThrottled) e).retryAfterSeconds())
            .isBetween(1L, 2L));
    now = now.plusSeconds(2);
    assertThat(login("guess4")).isFalse();
    now = now.plusSeconds(1);
    assertThatThrownBy(() -> login("right")).as("doubled: 2 s now")
        .isInstanceOf(SrpLogins.LoginThrottled.class);
    now = now.plusSeconds(2);
    assertThat(login("right")).isTrue();
    assertThat(login("guess5")).as("a success starts the count again").isFalse();
    assertThat(login("right")).isTrue();
  }

  @Test
  void theBackOffIsCapped() throws Exception {
    for (int i = 0; i < 30; i++) {
      now = now.plusSeconds(31);
      assertThat(login("guess" + i)).isFalse();
    }
    assertThat(logins.waitSeconds(now)).isBetween(1L, 31L);
  }
}
