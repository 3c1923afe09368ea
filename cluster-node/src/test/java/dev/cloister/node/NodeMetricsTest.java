package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.cloister.node.metrics.ScrapedMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live node's /metrics after real traffic: Cloister's own series, Kamon's Pekko
 * instrumentation (actor groups per entity type, sharding), and never an id in a label.
 */
class NodeMetricsTest {

  @TempDir
  Path dataDir;

  @Test
  void aLiveNodeExportsItsMetricsWithoutIdsInLabels() throws Exception {
    int port = TestNodes.freePort();
    TestNodes.seedDatabase(dataDir);
    Node node = Node.start(TestNodes.config(dataDir, port, TestNodes.freePort()));
    try {
      ApiClient api = new ApiClient("http://127.0.0.1:" + port);
      GatewayEndToEndTest.User owner = GatewayEndToEndTest.user(api, "metrics");
      var guild = GatewayEndToEndTest.guild(api, owner);
      String guildId = guild.get("id").asText();
      String channel = guild.get("channels").get(0).get("id").asText();
      String message;
      try (GatewayClient gw = GatewayClient.identify(port, owner.token())) {
        // Ready first: a post before it may reach the guild before the session does, and then
        // no dispatch is delivered and its delay never measured (1 run in 3 here failed so).
        gw.ready();
        message = owner.device().send(channel, "hello metrics");
        await().atMost(Duration.ofSeconds(20)).until(() -> ScrapedMetrics.scrape(node.metricsUri())
            .sum("cloister_gateway_dispatch_delay_seconds_count", Map.of()) >= 1);
        ScrapedMetrics live = ScrapedMetrics.scrape(node.metricsUri());
        assertThat(live.sum("cloister_gateway_sessions", Map.of())).isGreaterThanOrEqualTo(1);
        assertThat(live.sum("cloister_gateway_connections", Map.of())).isGreaterThanOrEqualTo(1);
      }
      assertThat(api.get("/api/v1/nowhere/" + guildId, owner.token()).status()).isEqualTo(404);
      await().atMost(Duration.ofSeconds(20)).until(() -> ScrapedMetrics.scrape(node.metricsUri())
          .sum("cloister_http_server_requests_seconds_count", Map.of("status", "404")) >= 1);

      // The JVM and sharding collectors report on their own schedule, which a busy machine
      // delays past the first ticks: wait for them as for the others.
      await().atMost(Duration.ofSeconds(20)).until(() -> {
        ScrapedMetrics now = ScrapedMetrics.scrape(node.metricsUri());
        return now.has("jvm_memory_used_bytes_count")
            && now.has("pekko_cluster_sharding_region_hosted_entities_count");
      });
      ScrapedMetrics m = ScrapedMetrics.scrape(node.metricsUri());
      assertThat(m.status()).isEqualTo(200);
      assertThat(m.contentType()).startsWith("text/plain; version=0.0.4");
      assertThat(m.sum("cloister_messages_posted_total", Map.of())).isGreaterThanOrEqualTo(1);
      assertThat(m.sum("cloister_http_server_requests_seconds_count", Map.of(
          "route", "/api/v1/channels/{id}/messages", "method", "POST", "status", "201")))
          .isGreaterThanOrEqualTo(1);
      assertThat(m.sum("cloister_journal_events_written_total", Map.of())).isPositive();
      assertThat(m.sum("cloister_database_up", Map.of())).isEqualTo(1);
      // Kamon's Pekko instrumentation: entities grouped per type, sharding per region.
      assertThat(m.sum("pekko_group_processing_time_seconds_count",
          Map.of("group", "shardRegion/TextChannel"))).isPositive();
      assertThat(m.has("pekko_cluster_sharding_region_hosted_entities_count")).isTrue();
      assertThat(m.has("jvm_memory_used_bytes_count")).isTrue();

      List<String> ids = List.of(owner.id(), guildId, channel, message);
      for (ScrapedMetrics.Sample s : m.samples()) {
        for (String value : s.labels().values()) {
          for (String id : ids) {
            assertThat(value).as("label of %s", s.name()).doesNotContain(id);
          }
        }
      }

      HttpClient http = HttpClient.newHttpClient();
      String base = node.metricsUri().replace("/metrics", "");
      assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/other")).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
      assertThat(http.send(HttpRequest.newBuilder(URI.create(node.metricsUri()))
              .POST(HttpRequest.BodyPublishers.ofString("x")).build(),
          HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(405);
    } finally {
      node.stop();
    }
  }
}
