package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Per-IP limits: REST answers 429 with Retry-After, and so does the gateway's upgrade. */
class RateLimitTest {

  @Test
  void overTheLimitIs429WithRetryAfter() throws Exception {
    Path dir = Files.createTempDirectory("cloister-limits");
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
}
