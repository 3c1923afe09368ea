package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Per-IP limits: REST answers 429 with Retry-After, and so does the gateway's upgrade; one client
 * cannot hold the server's connections (a cap per client, and a deadline for the first request).
 */
class RateLimitTest {

  @Test
  void overTheLimitIs429WithRetryAfter() throws Exception {
    Path dir = TestNodes.dataDir("cloister-limits");
    int port = TestNodes.freePort();
    Node node = Node.start(ConfigFactory.parseMap(Map.of(
            "cloister.rate-limits.rest-per-ip.burst", 20,
            "cloister.rate-limits.rest-per-ip.per-second", 1,
            "cloister.rate-limits.gateway-connects-per-ip.burst", 3,
            "cloister.rate-limits.gateway-connects-per-ip.per-second", 0.1))
        .withFallback(TestNodes.config(dir, port, TestNodes.freePort())));
    try {
      ApiClient api = new ApiClient("http://127.0.0.1:" + port);
      int limited = 0;
      ApiClient.Response last = null;
      for (int i = 0; i < 40; i++) {
        var r = api.get("/api/v1/guilds/1", null);
        if (r.status() == 429) {
          limited++;
          last = r;
        } else {
          assertThat(r.status()).isEqualTo(401);
        }
      }
      assertThat(limited).isGreaterThanOrEqualTo(15);
      assertThat(last.body().get("code").asText()).isEqualTo("rate_limited");
      assertThat(Long.parseLong(last.raw().headers().firstValue("Retry-After").orElseThrow()))
          .isBetween(1L, 2L);
      assertThat(api.get("/health", null).status()).as("health is not limited").isEqualTo(200);

      HttpClient http = HttpClient.newHttpClient();
      int upgradesRefused = 0;
      for (int i = 0; i < 6; i++) {
        try (GatewayClient c = GatewayClient.connect(port)) {
          c.send("{\"op\":\"heartbeat\",\"d\":null}");
        } catch (Exception e) {
          upgradesRefused++;
        }
      }
      assertThat(upgradesRefused).isGreaterThanOrEqualTo(2);
      HttpResponse<String> refused = http.send(HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + port + "/gateway")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(refused.statusCode()).isEqualTo(429);
      assertThat(refused.headers().firstValue("Retry-After")).isPresent();
    } finally {
      node.stop();
      TestNodes.delete(dir);
    }
  }

  @Test
  void oneClientWithSlowHeadersCannotTakeTheServerFromOthers() throws Exception {
    Path dir = TestNodes.dataDir("cloister-conns");
    int port = TestNodes.freePort();
    Node node = Node.start(ConfigFactory.parseMap(Map.<String, Object>of(
            "cloister.http.max-connections-per-client", 5,
            "cloister.http.first-request-timeout", "1s"))
        .withFallback(TestNodes.config(dir, port, TestNodes.freePort())));
    List<Socket> slow = new ArrayList<>();
    try {
      // Five connections from 127.0.0.1 that send half a request and wait (slowloris).
      for (int i = 0; i < 5; i++) {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        slow.add(s);
      }
      // A sixth from the same address is refused with the API's JSON (once the node counted the
      // five: accepting is asynchronous).
      String sixth = "";
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (!sixth.startsWith("HTTP/1.1 429") && System.nanoTime() < deadline) {
        sixth = get("127.0.0.1", port);
      }
      assertThat(sixth).startsWith("HTTP/1.1 429").contains("\"code\":\"too_many_connections\"");
      // Another client is served meanwhile.
      assertThat(get("127.0.0.2", port)).startsWith("HTTP/1.1 200");
      // The slow ones are closed once their first request is overdue...
      for (Socket s : slow) {
        s.setSoTimeout(10_000);
        String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        // Closed with no request served (pekko-http writes an empty 500 for the unfinished one).
        assertThat(answer).as("what a slow connection gets before it is closed")
            .doesNotContain("200 OK");
      }
      // ...which frees their client's share.
      String again = "";
      deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (!again.startsWith("HTTP/1.1 200") && System.nanoTime() < deadline) {
        again = get("127.0.0.1", port);
      }
      assertThat(again).startsWith("HTTP/1.1 200");
    } finally {
      for (Socket s : slow) {
        s.close();
      }
      node.stop();
      TestNodes.delete(dir);
    }
  }

  /** {@code GET /health} over a raw socket from {@code localAddress}: the whole response. */
  private static String get(String localAddress, int port) throws Exception {
    try (Socket s = new Socket()) {
      s.bind(new InetSocketAddress(localAddress, 0));
      s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Connection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
