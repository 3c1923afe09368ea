package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.ConfigFactory;
import dev.cloister.guild.channel.MessageHistoryProjection;
import dev.cloister.guild.channel.TextChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.projection.ProjectionId;
import org.apache.pekko.projection.javadsl.ProjectionManagement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A history read when the read model cannot be shown current within the wait (its projection
 * stalled): 503 with Retry-After, never a 200 that silently lacks the reader's own post.
 */
class ReadYourWritesTest {

  @TempDir
  Path dataDir;

  @Test
  void aReadModelBehindTheChannelAnswers503ThenThePostOnceCaughtUp() throws Exception {
    int port = TestNodes.freePort();
    TestNodes.seedDatabase(dataDir);
    Node node = Node.start(ConfigFactory.parseMap(
            Map.of("cloister.history.read-your-writes-wait", "500ms"))
        .withFallback(TestNodes.config(dataDir, port, TestNodes.freePort())));
    try {
      ApiClient api = new ApiClient("http://127.0.0.1:" + port);
      api.register("reader", "pw");
      String token = api.token("reader", "pw");
      var guild = api.post("/api/v1/guilds", Map.of("name", "Lag"), token).body();
      String channel = guild.get("channels").get(0).get("id").asText();
      String history = "/api/v1/channels/" + channel + "/messages";
      MlsTestDevice device = MlsTestDevice.enroll(api, token, guild.get("ownerId").asText());
      String first = device.send(channel, "first");
      // The projections may still be starting: 503 until they have caught up, then the post.
      await().atMost(Duration.ofSeconds(30)).until(() -> api.get(history, token).status() == 200);
      assertThat(NodeEndToEndTest.ids(api.get(history, token).body())).containsExactly(first);

      ProjectionManagement projections = ProjectionManagement.get(node.system());
      for (int i = 0; i < TextChannel.TAG_COUNT; i++) {
        projections.pause(ProjectionId.of(MessageHistoryProjection.NAME, "channel-" + i))
            .toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      String second = device.send(channel, "second");

      ApiClient.Response behind = api.get(history, token);
      assertThat(behind.status()).isEqualTo(503);
      assertThat(behind.body().get("code").asText()).isEqualTo("unavailable");
      assertThat(behind.raw().headers().firstValue("Retry-After")).isPresent();

      for (int i = 0; i < TextChannel.TAG_COUNT; i++) {
        projections.resume(ProjectionId.of(MessageHistoryProjection.NAME, "channel-" + i))
            .toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      await().atMost(Duration.ofSeconds(30)).until(() -> api.get(history, token).status() == 200);
      assertThat(NodeEndToEndTest.ids(api.get(history, token).body()))
          .containsExactly(second, first);
    } finally {
      node.stop();
    }
  }
}
