package dev.cloister.client.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;

/**
 * JSON over HTTP to one Cloister server: a bearer token when it has one, error bodies turned into
 * {@link ApiException}s, and 429/503 answers retried a bounded number of times, honouring
 * {@code Retry-After}. Immutable; {@link #authenticated} gives a copy that shares the connections.
 */
public final class RestClient {

  /** The mapper every client class shares: ISO-8601 times, unknown fields ignored (the API grows). */
  public static final ObjectMapper JSON = new ObjectMapper()
      .registerModule(new JavaTimeModule())
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

  /**
   * How often and how long to wait before giving up on a 429 or 503: at most {@code maxRetries}
   * more attempts, each after {@code Retry-After} or else {@code firstWait} doubled per attempt; a
   * server asking for more than {@code longestWait} gets its error passed on instead.
   */
  public record RetryPolicy(int maxRetries, Duration firstWait, Duration longestWait) {
    public static final RetryPolicy DEFAULT =
        new RetryPolicy(3, Duration.ofMillis(500), Duration.ofSeconds(10));
    public static final RetryPolicy NONE = new RetryPolicy(0, Duration.ZERO, Duration.ZERO);
  }

  private static final Set<String> IDEMPOTENT = Set.of("GET", "HEAD", "PUT", "DELETE");
  // 503s with these codes were refused before any work, so even a POST may be sent again.
  private static final Set<String> REFUSED_BEFORE_WORK = Set.of("starting", "busy");

  private final URI server;
  private final HttpClient http;
  private final String token;
  private final RetryPolicy retries;

  public RestClient(URI server) {
    this(server, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build(), null,
        RetryPolicy.DEFAULT);
  }

  private RestClient(URI server, HttpClient http, String token, RetryPolicy retries) {
    String s = server.toString();
    this.server = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
    this.http = http;
    this.token = token;
    this.retries = retries;
  }

  /** A client that sends {@code Authorization: Bearer <token>} on every call. */
  public RestClient authenticated(String token) {
    return new RestClient(server, http, token, retries);
  }

  public RestClient withRetryPolicy(RetryPolicy policy) {
    return new RestClient(server, http, token, policy);
  }

  public URI server() {
    return server;
  }

  /** The bearer token, or null before login. */
  public String token() {
    return token;
  }

  /** The shared HTTP client, so the gateway's WebSocket uses the same connection settings. */
  public HttpClient http() {
    return http;
  }

  public JsonNode get(String path) {
    return call("GET", path, null);
  }

  public JsonNode post(String path, Object body) {
    return call("POST", path, body);
  }

  public JsonNode put(String path, Object body) {
    return call("PUT", path, body);
  }

  public JsonNode patch(String path, Object body) {
    return call("PATCH", path, body);
  }

  public JsonNode delete(String path) {
    return call("DELETE", path, null);
  }

  public <T> T get(String path, Class<T> type) {
    return read(get(path), type);
  }

  public <T> T get(String path, TypeReference<T> type) {
    return read(get(path), type);
  }

  public <T> T post(String path, Object body, Class<T> type) {
    return read(post(path, body), type);
  }

  /**
   * Sends one request ({@code body} serialized as JSON, or no body when null) and returns the
   * answer's JSON, or null for an empty answer (204).
   *
   * @throws ApiException the server answered 4xx/5xx (after the retries the policy allows)
   * @throws ServerUnreachableException no answer at all
   */
  public JsonNode call(String method, String path, Object body) {
    String json = body == null ? null : write(body);
    for (int attempt = 0; ; attempt++) {
      HttpResponse<String> r = sendOnce(method, path, json);
      if (r.statusCode() < 400) {
        return parse(r, path);
      }
      ApiException error = error(r);
      Optional<Duration> retryAfter = retryAfter(r.headers().firstValue("Retry-After").orElse(null));
      Optional<Duration> wait = retryWait(method, r.statusCode(), error.code(), retryAfter, attempt,
          retries);
      if (wait.isEmpty()) {
        throw error;
      }
      sleep(wait.get());
    }
  }

  private HttpResponse<String> sendOnce(String method, String path, String json) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + path))
        .timeout(Duration.ofSeconds(30))
        .method(method, json == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8))
        .header("Accept", "application/json");
    if (json != null) {
      b.header("Content-Type", "application/json");
    }
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new ServerUnreachableException("cannot reach " + server + ": " + describe(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while calling " + server);
    }
  }

  /** Says what failed in words, since the JDK's exceptions often carry no message. */
  static String describe(IOException e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    if (e instanceof java.net.http.HttpConnectTimeoutException) {
      return "connecting timed out";
    }
    if (e instanceof java.net.http.HttpTimeoutException) {
      return "no answer in time";
    }
    if (e instanceof java.net.ConnectException || root instanceof java.net.ConnectException) {
      return "connection refused";
    }
    if (root instanceof java.nio.channels.UnresolvedAddressException
        || root instanceof java.net.UnknownHostException) {
      return "unknown host";
    }
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
  }

  private static JsonNode parse(HttpResponse<String> r, String path) {
    if (r.body() == null || r.body().isEmpty()) {
      return null;
    }
    try {
      return JSON.readTree(r.body());
    } catch (JsonProcessingException e) {
      throw new ApiException(r.statusCode(), "malformed_answer",
          "the server's answer to " + path + " is not JSON");
    }
  }

  /** The API's {@code {code, message}}, or a stand-in when a proxy or a crash answered instead. */
  static ApiException error(HttpResponse<String> r) {
    String body = r.body() == null ? "" : r.body();
    try {
      JsonNode e = JSON.readTree(body);
      if (e != null && e.path("code").isTextual()) {
        return new ApiException(r.statusCode(), e.get("code").asText(),
            e.path("message").asText(e.get("code").asText()));
      }
    } catch (JsonProcessingException ignored) {
      // not the API's error shape: described below
    }
    String text = body.length() > 200 ? body.substring(0, 200) + "…" : body;
    return new ApiException(r.statusCode(), "http_" + r.statusCode(),
        text.isBlank() ? "HTTP " + r.statusCode() : text.strip());
  }

  /**
   * How long to wait before sending again, or empty to give up: 429s are refused before any work
   * and always retried; 503s only where repeating cannot do a thing twice.
   */
  static Optional<Duration> retryWait(String method, int status, String code,
      Optional<Duration> retryAfter, int attempt, RetryPolicy policy) {
    if (attempt >= policy.maxRetries()) {
      return Optional.empty();
    }
    boolean retryable = status == 429
        || (status == 503 && (IDEMPOTENT.contains(method) || REFUSED_BEFORE_WORK.contains(code)));
    if (!retryable) {
      return Optional.empty();
    }
    Duration wait = retryAfter.orElse(policy.firstWait().multipliedBy(1L << Math.min(attempt, 16)));
    return wait.compareTo(policy.longestWait()) > 0 ? Optional.empty() : Optional.of(wait);
  }

  /** {@code Retry-After} as delta-seconds or an HTTP date (RFC 9110 section 10.2.3). */
  static Optional<Duration> retryAfter(String header) {
    if (header == null || header.isBlank()) {
      return Optional.empty();
    }
    String v = header.strip();
    try {
      return Optional.of(Duration.ofSeconds(Math.max(0, Long.parseLong(v))));
    } catch (NumberFormatException notSeconds) {
      try {
        ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
        Duration d = Duration.between(ZonedDateTime.now(at.getZone()), at);
        return Optional.of(d.isNegative() ? Duration.ZERO : d);
      } catch (DateTimeParseException notADate) {
        return Optional.empty();
      }
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while waiting to retry");
    }
  }

  private static String write(Object body) {
    try {
      return JSON.writeValueAsString(body);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot serialize " + body.getClass().getName(), e);
    }
  }

  public static <T> T read(JsonNode node, Class<T> type) {
    try {
      return JSON.treeToValue(node, type);
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new ApiException(200, "malformed_answer",
          "the server's answer is not a " + type.getSimpleName() + ": " + e.getMessage());
    }
  }

  public static <T> T read(JsonNode node, TypeReference<T> type) {
    try {
      return JSON.readerFor(type).readValue(node);
    } catch (IOException | IllegalArgumentException e) {
      throw new ApiException(200, "malformed_answer", "the server's answer has an unexpected shape: "
          + e.getMessage());
    }
  }

  /**
   * Percent-encodes one path segment, dots included, so that an id or code typed by a person can
   * never climb to another path.
   */
  public static String segment(String s) {
    StringBuilder out = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '~') {
        out.append(c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
            .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
      }
    }
    return out.toString();
  }
}
