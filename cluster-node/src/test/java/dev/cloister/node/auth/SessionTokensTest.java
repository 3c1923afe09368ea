package dev.cloister.node.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class SessionTokensTest {

  private static final byte[] KEY = "0123456789abcdef0123456789abcdef".getBytes();

  private static Clock at(Instant t) {
    return Clock.fixed(t, ZoneOffset.UTC);
  }

  @Test
  void aTokenNamesItsUserUntilItExpires() {
    Instant now = Instant.parse("2026-11-22T10:00:00Z");
    var issued = new SessionTokens(KEY, Duration.ofHours(1), at(now)).issue("42");
    assertThat(issued.expiresAt()).isEqualTo(now.plus(Duration.ofHours(1)));

    var later = new SessionTokens(KEY, Duration.ofHours(1), at(now.plusSeconds(3599)));
    assertThat(later.verify(issued.token())).hasValueSatisfying(s -> assertThat(s.userId()).isEqualTo("42"));
    var expired = new SessionTokens(KEY, Duration.ofHours(1), at(now.plusSeconds(3600)));
    assertThat(expired.verify(issued.token())).isEmpty();
  }

  @Test
  void tamperedOrForeignTokensAreRefused() {
    var tokens = new SessionTokens(KEY, Duration.ofHours(1), Clock.systemUTC());
    String token = tokens.issue("42").token();
    var otherKey = new SessionTokens("fedcba9876543210fedcba9876543210".getBytes(),
        Duration.ofHours(1), Clock.systemUTC());
    assertThat(otherKey.verify(token)).isEmpty();

    for (int i : new int[] {0, token.indexOf('.') + 5, token.length() - 1}) {
      // The last character also carries unused bits: a different spelling must fail too.
      char c = token.charAt(i);
      String flipped = token.substring(0, i) + (c == 'A' ? 'B' : 'A') + token.substring(i + 1);
      assertThat(tokens.verify(flipped)).as("flipped at %d", i).isEmpty();
    }
    String body = tokens.issue("43").token().split("\\.")[0];
    assertThat(tokens.verify(body + "." + token.split("\\.")[1])).as("signature of another body").isEmpty();
    assertThat(tokens.verify("")).isEmpty();
    assertThat(tokens.verify("a.b.c")).isEmpty();
    assertThat(tokens.verify("%%%.***")).isEmpty();
    assertThat(tokens.verify("x".repeat(10_000))).isEmpty();
  }
}
