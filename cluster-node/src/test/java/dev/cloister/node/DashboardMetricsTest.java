package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.ConfigFactory;
import dev.cloister.node.metrics.DashboardQueries;
import dev.cloister.node.metrics.ScrapedMetrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every metric a Grafana dashboard queries is exported by a live node after a scripted session:
 * two members chat in an encrypted guild over the gateway (published to the embedded Kafka), a
 * client trips a rate limit, and the node restarts (so entities recover). Fails naming each dashboard panel whose metric is missing.
 */
class DashboardMetricsTest {

  @TempDir
  Path dataDir;

  @Test
  void everyMetricTheDashboardsQueryIsExported() throws Exception {
    int port = TestNodes.freePort();
    int management = TestNodes.freePort();
    // A gateway-connect bucket a client can empty, so that a refusal is counted.
    // The event stream on, on an embedded broker, for its panel.
    var config = ConfigFactory.parseMap(Map.of(
            "cloister.rate-limits.gateway-connects-per-ip.burst", 3,
            "cloister.rate-limits.gateway-connects-per-ip.per-second", 0.01,
            "cloister.kafka.enabled", true,
            "cloister.kafka.embedded-port", 0))
        .withFallback(TestNodes.config(TestNodes.seedDatabase(dataDir), port, management));
    Node first = Node.start(config);
    String guildId;
    ApiClient api = new ApiClient("http://127.0.0.1:" + port);
    GatewayEndToEndTest.User alice;
    try {
      alice = GatewayEndToEndTest.user(api, "dash");
      GatewayEndToEndTest.User bob = GatewayEndToEndTest.user(api, "dash");
      var guild = GatewayEndToEndTest.guild(api, alice, bob); // bob's Add: a commit
      guildId = guild.get("id").asText();
      String channel = guild.get("channels").get(0).get("id").asText();
      try (GatewayClient gw = GatewayClient.identify(port, bob.token())) {
        alice.device().send(channel, "hello dashboards");
        bob.device().send(channel, "hello back");
        await().atMost(Duration.ofSeconds(20)).until(() -> ScrapedMetrics.scrape(first.metricsUri())
            .sum("cloister_gateway_dispatch_delay_seconds_count", Map.of()) >= 1);
      }
      HttpClient http = HttpClient.newHttpClient();
      int refused = 0;
      for (int i = 0; i < 10 && refused == 0; i++) {
        refused += http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/gateway")).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode() == 429 ? 1 : 0;
      }
      assertThat(refused).isEqualTo(1);
    } finally {
      first.stop();
    }
    Node node = Node.start(config);
    try {
      // Loading the guild replays its events: entity recovery.
      var loaded = api.get("/api/v1/guilds/" + guildId, alice.token());
      assertThat(loaded.status()).isEqualTo(200);
      // A voice join (the guild's default voice channel), and media from a bound endpoint, for
      // the voice dashboard.
      String voice = null;
      for (var c : loaded.body().get("channels")) {
        if (c.get("type").asText().equals("voice")) {
          voice = c.get("id").asText();
        }
      }
      GatewayClient speaker = GatewayClient.identify(port, alice.token());
      speaker.ready();
      speaker.send("{\"op\":\"voice_state_update\",\"d\":{\"guildId\":\"" + guildId
          + "\",\"channelId\":\"" + voice + "\"}}");
      var server = speaker.dispatch("VOICE_SERVER_UPDATE", Duration.ofSeconds(20)).get("d");
      try (var media = MediaClient.bind(server)) {
        for (int i = 0; i < 50; i++) {
          media.sendRtp(i);
          Thread.sleep(20);
        }
      Node live = node;
      try {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1))
            .until(() -> missing(live).isEmpty());
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        assertThat(missing(live))
            .as("dashboard panels querying metrics the node does not export").isEmpty();
      }
      }
      speaker.close();
    } finally {
      node.stop();
    }
  }

  /** Dashboard panel to the metrics it queries that the node does not export. */
  private static Map<String, Set<String>> missing(Node node) throws Exception {
    Set<String> exported = ScrapedMetrics.scrape(node.metricsUri()).names();
    Map<String, Set<String>> missing = new TreeMap<>();
    for (var entry : DashboardQueries.queries(DashboardQueries.DASHBOARDS).entrySet()) {
      Set<String> absent = new TreeSet<>();
      for (String e : entry.getValue()) {
        for (String m : DashboardQueries.metrics(e)) {
          if (!exported.contains(m)) {
            absent.add(m);
          }
        }
      }
      if (!absent.isEmpty()) {
        missing.put(entry.getKey(), absent);
      }
    }
    return missing;
  }
}
