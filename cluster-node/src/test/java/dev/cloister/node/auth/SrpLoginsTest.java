package dev.cloister.node.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import org.bouncycastle.crypto.agreement.srp.SRP6Client;
import org.bouncycastle.crypto.agreement.srp.SRP6VerifierGenerator;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.junit.jupiter.api.Test;

/** Logins cannot be used to fill the node's table or to guess a password at full speed. */
class SrpLoginsTest {

  private static final byte[] SALT = {1, 2, 3, 4};

  /** A clock the test moves. */
  private static final class MovableClock extends Clock {
    Instant now = Instant.parse("2026-12-01T00:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneId.of("UTC");
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  private final MovableClock clock = new MovableClock();
  private final SrpLogins logins = new SrpLogins(
      new SessionTokens(new byte[32], Duration.ofHours(1), clock), Duration.ofSeconds(60),
      new SrpLogins.Limits(1_000, 4, 3, Duration.ofSeconds(30)), clock);

  private static BigInteger verifier(String password) {
    SRP6VerifierGenerator g = new SRP6VerifierGenerator();
    g.init(SrpLogins.GROUP, new SHA256Digest());
    return g.generateVerifier(SALT, "alice".getBytes(StandardCharsets.UTF_8),
        password.getBytes(StandardCharsets.UTF_8));
  }

  /** One whole login with {@code password} against the account whose verifier is "right". */
  private boolean login(String client, String password) throws Exception {
    SRP6Client c = new SRP6Client();
    c.init(SrpLogins.GROUP, new SHA256Digest(), new SecureRandom());
    BigInteger a = c.generateClientCredentials(SALT, "alice".getBytes(StandardCharsets.UTF_8),
        password.getBytes(StandardCharsets.UTF_8));
    SrpLogins.Started s = logins.start(client, "alice", a, "42", SALT, verifier("right"));
    c.calculateSecret(s.b());
    return logins.finish(s.loginId(), c.calculateClientEvidenceMessage()).isPresent();
  }

  @Test
  void oneClientHoldsOnlyAFewUnfinishedLogins() throws Exception {
    BigInteger a = BigInteger.valueOf(12345);
    String first = null;
    for (int i = 0; i < 4; i++) {
      String id = logins.start("203.0.113.7", "bob", a, null, null, null).loginId();
      first = first == null ? id : first;
    }
    assertThatThrownBy(() -> logins.start("203.0.113.7", "bob", a, null, null, null))
        .isInstanceOf(SrpLogins.LoginThrottled.class).hasMessageContaining("your address");
    assertThat(logins.start("198.51.100.1", "bob", a, null, null, null)).as("others go on")
        .isNotNull();
    logins.finish(first, BigInteger.ONE); // finished (wrongly): its slot is free again
    assertThat(logins.start("203.0.113.7", "carol", a, null, null, null)).isNotNull();

    clock.now = clock.now.plusSeconds(61);
    assertThat(logins.expireStale()).isEqualTo(5);
    assertThat(logins.pendingCount()).isZero();
    for (int i = 0; i < 4; i++) {
      logins.start("203.0.113.7", "dave", a, null, null, null);
    }
  }

  @Test
  void wrongPasswordsMakeTheNextAttemptsWaitLongerAndARightOneResets() throws Exception {
    assertThat(login("a", "right")).isTrue();
    for (int i = 0; i < 3; i++) {
      assertThat(login("a", "guess" + i)).isFalse(); // free failures
    }
    assertThat(login("b", "guess3")).isFalse(); // the 4th: from now on each attempt waits
    assertThatThrownBy(() -> login("c", "right"))
        .isInstanceOf(SrpLogins.LoginThrottled.class).hasMessageContaining("failed logins")
        .satisfies(e -> assertThat(((SrpLogins.LoginThrottled) e).retryAfterSeconds())
            .isBetween(1L, 2L));
    clock.now = clock.now.plusSeconds(2);
    assertThat(login("a", "guess4")).isFalse();
    clock.now = clock.now.plusSeconds(1);
    assertThatThrownBy(() -> login("a", "right")).as("doubled: 2 s now")
        .isInstanceOf(SrpLogins.LoginThrottled.class);
    clock.now = clock.now.plusSeconds(2);
    assertThat(login("a", "right")).isTrue();
    assertThat(login("a", "guess5")).as("a success starts the count again").isFalse();
    assertThat(login("a", "right")).isTrue();
  }

  @Test
  void theBackOffIsCappedAndCountsUnknownUsernamesAlike() throws Exception {
    BigInteger a = BigInteger.valueOf(777);
    for (int i = 0; i < 30; i++) {
      clock.now = clock.now.plusSeconds(31);
      var s = logins.start("a", "nobody", a, null, null, null);
      logins.finish(s.loginId(), BigInteger.TEN);
    }
    assertThatThrownBy(() -> logins.admit("a", "nobody"))
        .isInstanceOf(SrpLogins.LoginThrottled.class)
        .satisfies(e -> assertThat(((SrpLogins.LoginThrottled) e).retryAfterSeconds())
            .isLessThanOrEqualTo(31));
  }
}
