package dev.cloister.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.http.RestClient.RetryPolicy;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The retry rules and Retry-After parsing, offline; the real 429 path is in RateLimitRetryTest. */
class RestClientRulesTest {

  private static final RetryPolicy POLICY =
      new RetryPolicy(3, Duration.ofMillis(100), Duration.ofSeconds(5));

  @Test
  void rateLimitedCallsAreRetriedAfterTheServersWait() {
    assertThat(RestClient.retryWait("POST", 429, "rate_limited", Optional.of(Duration.ofSeconds(2)),
        0, POLICY)).contains(Duration.ofSeconds(2));
    assertThat(RestClient.retryWait("GET", 429, "rate_limited", Optional.empty(), 2, POLICY))
        .contains(Duration.ofMillis(400));
  }

  @Test
  void retriesAreBoundedInCountAndWait() {
    assertThat(RestClient.retryWait("GET", 429, "rate_limited", Optional.empty(), 3, POLICY)).isEmpty();
    assertThat(RestClient.retryWait("GET", 429, "rate_limited", Optional.of(Duration.ofSeconds(60)),
        0, POLICY)).isEmpty();
    assertThat(RestClient.retryWait("GET", 429, "rate_limited", Optional.empty(), 0,
        RetryPolicy.NONE)).isEmpty();
  }

  @Test
  void unavailableRetriesOnlyWhatCannotHappenTwice() {
    assertThat(RestClient.retryWait("GET", 503, "unavailable", Optional.empty(), 0, POLICY)).isPresent();
    assertThat(RestClient.retryWait("DELETE", 503, "unavailable", Optional.empty(), 0, POLICY)).isPresent();
    assertThat(RestClient.retryWait("POST", 503, "starting", Optional.empty(), 0, POLICY)).isPresent();
    assertThat(RestClient.retryWait("POST", 503, "busy", Optional.empty(), 0, POLICY)).isPresent();
    // A timed-out POST may have taken effect: posting again could post twice.
    assertThat(RestClient.retryWait("POST", 503, "unavailable", Optional.empty(), 0, POLICY)).isEmpty();
    assertThat(RestClient.retryWait("GET", 500, "internal", Optional.empty(), 0, POLICY)).isEmpty();
    assertThat(RestClient.retryWait("GET", 404, "not_found", Optional.empty(), 0, POLICY)).isEmpty();
  }

  @Test
  void retryAfterIsSecondsOrAnHttpDate() {
    assertThat(RestClient.retryAfter("3")).contains(Duration.ofSeconds(3));
    assertThat(RestClient.retryAfter(" 0 ")).contains(Duration.ZERO);
    assertThat(RestClient.retryAfter(null)).isEmpty();
    assertThat(RestClient.retryAfter("soon")).isEmpty();
    String date = DateTimeFormatter.RFC_1123_DATE_TIME.format(
        ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(30));
    assertThat(RestClient.retryAfter(date).orElseThrow())
        .isBetween(Duration.ofSeconds(25), Duration.ofSeconds(31));
    String past = DateTimeFormatter.RFC_1123_DATE_TIME.format(
        ZonedDateTime.now(ZoneOffset.UTC).minusSeconds(30));
    assertThat(RestClient.retryAfter(past)).contains(Duration.ZERO);
  }

  @Test
  void pathSegmentsCannotClimb() {
    assertThat(RestClient.segment("123")).isEqualTo("123");
    assertThat(RestClient.segment("../auth")).isEqualTo("%2E%2E%2Fauth");
    assertThat(RestClient.segment("a b?c")).isEqualTo("a%20b%3Fc");
    assertThat(RestClient.segment("é")).isEqualTo("%C3%A9");
  }
}
