package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.GatewayEndToEndTest.User;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Presence in a large guild: changes reach the sessions gathered, one PRESENCE_BATCH per interval
 * with each changed member's newest status, never a PRESENCE_UPDATE each (which, when a large
 * guild's members come online together, is one frame per member per member); a session that
 * starts asks about the members it shows ({@code request_presences}).
 */
class LargeGuildPresenceTest {

  private static final Duration WAIT = Duration.ofSeconds(15);
  private static final Duration INTERVAL = Duration.ofSeconds(2);

  private static Path dataDir;
  private static Node node;
  private static int port;
  private static ApiClient api;

  @BeforeAll
  static void start() throws Exception {
    dataDir = TestNodes.dataDir("cloister-large-presence-test");
    port = TestNodes.freePort();
    node = Node.start(ConfigFactory.parseMap(Map.of(
            "cloister.gateway.large-threshold", 2,
            "cloister.gateway.presence-batch-interval", INTERVAL.toMillis() + "ms"))
        .withFallback(TestNodes.config(dataDir, port, TestNodes.freePort())));
    api = new ApiClient("http://127.0.0.1:" + port);
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.stop();
    }
    TestNodes.delete(dataDir);
  }

  @Test
  void aLargeGuildsPresenceChangesArriveGatheredWithEachMembersNewestStatus() throws Exception {
    User alice = GatewayEndToEndTest.user(api, "alice");
    User bob = GatewayEndToEndTest.user(api, "bob");
    User carol = GatewayEndToEndTest.user(api, "carol");
    JsonNode g = GatewayEndToEndTest.guild(api, alice, bob, carol);
    String guildId = g.get("id").asText();

    try (GatewayClient a = GatewayClient.identify(port, alice.token())) {
      JsonNode readyGuild = a.ready().at("/d/guilds/0");
      assertThat(readyGuild.get("large").asBoolean()).isTrue();

      GatewayClient b = GatewayClient.identify(port, bob.token());
      b.ready();
      try (GatewayClient c = GatewayClient.identify(port, carol.token())) {
        c.ready();
        // Bob and carol came online: alice learns it from batches (one, or two if the interval
        // ended between them), never from a PRESENCE_UPDATE.
        Map<String, String> seen = new HashMap<>();
        List<JsonNode> frames = new ArrayList<>();
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!(seen.containsKey(bob.id()) && seen.containsKey(carol.id()))
            && System.nanoTime() < deadline) {
          JsonNode f = a.next(WAIT);
          frames.add(f);
          if ("PRESENCE_BATCH".equals(f.path("t").asText())) {
            assertThat(f.at("/d/guildId").asText()).isEqualTo(guildId);
            f.at("/d/presences").forEach(p ->
                seen.put(p.path("userId").asText(), p.path("status").asText()));
          }
        }
        assertThat(seen).containsEntry(bob.id(), "online").containsEntry(carol.id(), "online");
        assertThat(frames).noneMatch(f -> "PRESENCE_UPDATE".equals(f.path("t").asText()));

        // A session that starts now: a large guild's ready has no presences (thousands for
        // each of thousands of sessions); it asks about the members it shows. Those not members
        // are left out; an unknown guild is an error with the nonce; more than a page closes.
        try (GatewayClient later = GatewayClient.identify(port, alice.token())) {
          assertThat(later.ready().at("/d/guilds/0").has("presences")).isFalse();
          later.send("{\"op\":\"request_presences\",\"d\":{\"guildId\":\"" + guildId
              + "\",\"userIds\":[\"" + alice.id() + "\",\"" + bob.id() + "\",\"" + carol.id()
              + "\",\"404\"],\"nonce\":\"p1\"}}");
          JsonNode answer = later.until(f -> "presences".equals(f.path("op").asText()), WAIT);
          assertThat(answer.at("/d/nonce").asText()).isEqualTo("p1");
          assertThat(answer.at("/d/guildId").asText()).isEqualTo(guildId);
          assertThat(GatewayEndToEndTest.presences(answer.at("/d/presences")))
              .containsExactlyInAnyOrderEntriesOf(Map.of(alice.id(), "online", bob.id(), "online",
                  carol.id(), "online"));

          later.send("{\"op\":\"request_presences\",\"d\":{\"guildId\":\"1\",\"userIds\":[\""
              + bob.id() + "\"],\"nonce\":\"p2\"}}");
          JsonNode error = later.until(f -> "error".equals(f.path("op").asText()), WAIT);
          assertThat(error.at("/d/nonce").asText()).isEqualTo("p2");
          assertThat(error.at("/d/status").asInt()).isEqualTo(404);

          StringBuilder page = new StringBuilder();
          for (int i = 0; i <= 1000; i++) {
            page.append(i == 0 ? "\"" : ",\"").append(i).append('"');
          }
          later.send("{\"op\":\"request_presences\",\"d\":{\"guildId\":\"" + guildId
              + "\",\"userIds\":[" + page + "]}}");
          assertThat(later.awaitClose(WAIT)).isEqualTo(4002);
        }

        // Bob goes idle, then leaves, within one interval: the next batch carries him once,
        // offline.
        b.send("{\"op\":\"presence\",\"d\":{\"status\":\"idle\"}}");
        Thread.sleep(100);
        b.close();
        JsonNode batch = a.dispatch("PRESENCE_BATCH", WAIT);
        List<String> bobs = new ArrayList<>();
        batch.at("/d/presences").forEach(p -> {
          if (p.path("userId").asText().equals(bob.id())) {
            bobs.add(p.path("status").asText());
          }
        });
        assertThat(bobs).containsExactly("offline");

        // Carol, online throughout, gets the same batch (every member's sessions do).
        JsonNode carolsBatch = c.until(f -> "PRESENCE_BATCH".equals(f.path("t").asText())
            && f.at("/d/presences").toString().contains("\"offline\""), WAIT);
        assertThat(carolsBatch.at("/d/presences")).isEqualTo(batch.at("/d/presences"));

        // Posts are not held back by the batching.
        String id = GatewayEndToEndTest.post(api, g.get("channels").get(0).get("id").asText(),
            "still here", carol);
        assertThat(a.until(f -> f.at("/d/id").asText().equals(id), WAIT).path("t").asText())
            .isEqualTo("MESSAGE_CREATE");
      }
    }
  }
}
