package dev.cloister.node;

import static dev.cloister.node.GatewayEndToEndTest.guild;
import static dev.cloister.node.GatewayEndToEndTest.post;
import static dev.cloister.node.GatewayEndToEndTest.user;
import static dev.cloister.node.NodeEndToEndTest.b64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Two cluster nodes in one JVM (two actor systems named "cloister" on their own loopback ports,
 * one seed, one shared embedded PostgreSQL): a post on one node reaches a session on the other,
 * and a session dropped on one node resumes on the other without loss or duplicates.
 */
class TwoNodeGatewayTest {

  private static final Duration WAIT = Duration.ofSeconds(20);

  @Test
  void postsCrossNodesAndSessionsResumeOnTheOtherNode() throws Exception {
    Path dirA = Files.createTempDirectory("cloister-node-a");
    Path dirB = Files.createTempDirectory("cloister-node-b");
    byte[] key = new byte[32];
    new java.security.SecureRandom().nextBytes(key);
    String tokenKey = Base64.getEncoder().encodeToString(key);
    int artA = TestNodes.freePort();
    int httpA = TestNodes.freePort();
    int httpB = TestNodes.freePort();
    Node a = null;
    Node b = null;
    try {
      a = Node.start(node(dirA, httpA, artA, 1, tokenKey, Map.of()));
      b = Node.start(node(dirB, httpB, TestNodes.freePort(), 2, tokenKey, Map.of(
          "cloister.db.url", a.databaseUrl(),
          "cloister.cluster.seed-nodes", "pekko://cloister@127.0.0.1:" + artA)));
      ApiClient apiA = new ApiClient("http://127.0.0.1:" + httpA);
      ApiClient apiB = new ApiClient("http://127.0.0.1:" + httpB);

      GatewayEndToEndTest.User alice = user(apiA, "alice");
      GatewayEndToEndTest.User bob = user(apiA, "bob");
      JsonNode g = guild(apiA, alice, bob);
      String general = g.get("channels").get(0).get("id").asText();

      // bob on node B, alice on node A
      GatewayClient bobOnB = GatewayClient.identify(httpB, bob.token());
      String sessionId = bobOnB.ready().at("/d/sessionId").asText();
      String bobsId;
      try (GatewayClient aliceOnA = GatewayClient.identify(httpA, alice.token())) {
        aliceOnA.ready();

        String id = post(apiA, general, "from node A", alice);
        assertThat(bobOnB.dispatch("MESSAGE_CREATE", WAIT).at("/d/id").asText()).isEqualTo(id);

        bobOnB.send("{\"op\":\"send\",\"d\":{\"channelId\":\"" + general + "\",\"ciphertext\":\""
            + GatewayEndToEndTest.sealed(bob, general, "from node B") + "\"}}");
        // The echo of bob's own message may come before or after the ack: note it either way.
        java.util.Set<String> echoed = new java.util.HashSet<>();
        bobsId = bobOnB.until(f -> {
          if ("MESSAGE_CREATE".equals(f.path("t").asText())) {
            echoed.add(f.at("/d/id").asText());
          }
          return "send_ack".equals(f.path("op").asText());
        }, WAIT).at("/d/message/id").asText();
        if (!echoed.contains(bobsId)) {
          bobOnB.until(f -> "MESSAGE_CREATE".equals(f.path("t").asText())
              && f.at("/d/id").asText().equals(bobsId), WAIT);
        }
        aliceOnA.until(f -> "MESSAGE_CREATE".equals(f.path("t").asText())
            && f.at("/d/id").asText().equals(bobsId), WAIT);
      }

      // Bob has seen his own message come back before his connection to B drops (otherwise the
      // resume rightly replays it too); posts go on (through B); bob resumes on A.
      long seq = bobOnB.lastSeq();
      bobOnB.abort();
      List<String> missed = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        missed.add(post(apiB, general, "missed " + i, alice));
      }
      try (GatewayClient bobOnA = GatewayClient.connect(httpA)) {
        List<JsonNode> replayed = bobOnA.resume(bob.token(), sessionId, seq, WAIT);
        assertThat(GatewayClient.createdMessageIds(replayed)).containsExactlyElementsOf(missed);
        String after = post(apiA, general, "after the resume", alice);
        // live again, numbered on from the replay without a gap
        long expected = replayed.get(replayed.size() - 1).get("s").asLong() + 1;
        JsonNode live;
        do {
          live = bobOnA.until(x -> "dispatch".equals(x.path("op").asText()), WAIT);
          assertThat(live.get("s").asLong()).isEqualTo(expected++);
        } while (!live.at("/d/id").asText().equals(after));
      }

      // A third node given B's node id is refused: it would make the same message ids as B.
      Path dirC = Files.createTempDirectory("cloister-node-c");
      String dbUrl = a.databaseUrl();
      try {
        assertThatThrownBy(() -> Node.start(node(dirC, TestNodes.freePort(),
            TestNodes.freePort(), 2, tokenKey, Map.of("cloister.db.url", dbUrl,
                "cloister.cluster.seed-nodes", "pekko://cloister@127.0.0.1:" + artA))))
            .hasMessageContaining("cloister.node-id 2 (CLOISTER_NODE_ID) is already the id of "
                + "cluster member pekko://cloister@127.0.0.1:");
      } finally {
        TestNodes.delete(dirC);
      }
      assertThat(post(apiA, general, "after the refused node", alice)).isNotEmpty();
    } finally {
      if (b != null) {
        b.stop();
      }
      if (a != null) {
        a.stop();
      }
      TestNodes.delete(dirA);
      TestNodes.delete(dirB);
    }
  }

  private static Config node(Path dir, int http, int artery, int nodeId, String tokenKey,
      Map<String, Object> more) throws Exception {
    Map<String, Object> m = new java.util.HashMap<>(more);
    m.put("pekko.remote.artery.canonical.port", artery);
    m.put("cloister.node-id", nodeId);
    m.put("cloister.auth.token-key", tokenKey);
    m.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
    return ConfigFactory.parseMap(m).withFallback(TestNodes.config(dir, http, TestNodes.freePort()));
  }
}
