package dev.cloister.client.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.TestServer;
import dev.cloister.client.http.RestClient.RetryPolicy;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A real node with a small per-IP REST limit: the client waits out Retry-After and gets through. */
class RateLimitRetryTest {

  @Test
  void waitsOutRetryAfterAndGivesUpWhenToldNotToRetry() throws Exception {
    try (TestServer server = TestServer.start(Map.of(
        "cloister.rate-limits.rest-per-ip.burst", 3,
        "cloister.rate-limits.rest-per-ip.per-second", 2))) {
      RestClient patient = server.rest();
      RestClient impatient = server.rest().withRetryPolicy(RetryPolicy.NONE);
      // Unauthenticated calls are answered 401 after the limit: what counts here is 429 or not.
      int got429 = 0;
      for (int i = 0; i < 6; i++) {
        try {
          impatient.get("/api/v1/guilds/1");
        } catch (ApiException e) {
          if (e.status() == 429) {
            got429++;
            assertThat(e.code()).isEqualTo("rate_limited");
          } else {
            assertThat(e.status()).isEqualTo(401);
          }
        }
      }
      assertThat(got429).isPositive();

      long t0 = System.nanoTime();
      for (int i = 0; i < 4; i++) {
        assertThatThrownBy(() -> patient.get("/api/v1/guilds/1"))
            .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(401));
      }
      // Each 429 said "retry in 1 s"; the patient client waited rather than failing.
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(900));
    }
  }
}
