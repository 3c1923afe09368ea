package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A session's replay buffer keeps at most {@code resume.max-bytes}, newest first: a resume from a
 * seq whose dispatches still fit replays them; one from a seq whose dispatches were dropped to stay
 * within the budget gets {@code invalid_session}, and identify works again on that connection.
 */
class ResumeBudgetTest {

  private static final Duration WAIT = Duration.ofSeconds(20);

  @Test
  void aResumeIsServedFromWhatFitsInTheByteBudgetAndRefusedBeyondIt() throws Exception {
    Path dir = TestNodes.dataDir("cloister-resume-budget");
    int port = TestNodes.freePort();
    Node node = Node.start(ConfigFactory.parseMap(Map.of(
            "cloister.gateway.resume.max-bytes", "100 KiB"))
        .withFallback(TestNodes.config(dir, port, TestNodes.freePort())));
    try {
      ApiClient api = new ApiClient("http://127.0.0.1:" + port);
      GatewayEndToEndTest.User alice = GatewayEndToEndTest.user(api, "budgetalice");
      GatewayEndToEndTest.User bob = GatewayEndToEndTest.user(api, "budgetbob");
      JsonNode g = GatewayEndToEndTest.guild(api, alice, bob);
      String channel = g.get("channels").get(0).get("id").asText();

      GatewayClient b = GatewayClient.identify(port, bob.token());
      String sessionId = b.ready().at("/d/sessionId").asText();
      String small = GatewayEndToEndTest.post(api, channel, "small", alice);
      b.until(f -> small.equals(f.at("/d/id").asText()), WAIT);
      long afterSmall = b.lastSeq();
      b.abort();

      // Three messages of about 55 KB of JSON each: only the newest one fits in 100 KiB.
      String text = "z".repeat(40 * 1024);
      GatewayEndToEndTest.post(api, channel, text, alice);
      GatewayEndToEndTest.post(api, channel, text, alice);
      String third = GatewayEndToEndTest.post(api, channel, text, alice);
      Thread.sleep(500); // the dispatches reach the session

      try (GatewayClient r = GatewayClient.connect(port)) {
        r.send("{\"op\":\"resume\",\"d\":{\"token\":\"" + bob.token() + "\",\"sessionId\":\""
            + sessionId + "\",\"seq\":" + afterSmall + "}}");
        r.until(f -> "invalid_session".equals(f.path("op").asText()), WAIT);
        // The session is still there for a seq that fits: the oldest one the buffer can serve
        // replays the newest post alone.
        List<JsonNode> replayed = null;
        for (long seq = afterSmall + 1; seq <= afterSmall + 6 && replayed == null; seq++) {
          try (GatewayClient again = GatewayClient.connect(port)) {
            again.send("{\"op\":\"resume\",\"d\":{\"token\":\"" + bob.token()
                + "\",\"sessionId\":\"" + sessionId + "\",\"seq\":" + seq + "}}");
            JsonNode f = again.until(x -> "invalid_session".equals(x.path("op").asText())
                || "dispatch".equals(x.path("op").asText())
                || "resumed".equals(x.path("op").asText()), WAIT);
            if (!"invalid_session".equals(f.path("op").asText())) {
              List<JsonNode> frames = new java.util.ArrayList<>();
              while (!"resumed".equals(f.path("op").asText())) {
                frames.add(f);
                f = again.next(WAIT);
              }
              replayed = frames;
            }
          }
        }
        assertThat(replayed).as("a resume from some seq after the small post").isNotNull();
        assertThat(GatewayClient.createdMessageIds(replayed)).containsExactly(third);
        // And the refused connection may identify afresh.
        r.send("{\"op\":\"identify\",\"d\":{\"token\":\"" + bob.token() + "\",\"deviceId\":\"b2\"}}");
        assertThat(r.ready().at("/d/sessionId").asText()).isNotEqualTo(sessionId);
      }
    } finally {
      node.stop();
      TestNodes.delete(dir);
    }
  }
}
