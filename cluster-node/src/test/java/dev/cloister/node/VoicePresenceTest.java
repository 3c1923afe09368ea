package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.cloister.guild.Permission;
import dev.cloister.guild.voice.VoiceChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.ShardRegion;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingQuery;
import org.apache.pekko.cluster.sharding.typed.GetShardRegionState;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A voice channel that comes back (here: passivated after 5 s idle, then woken by a request; in
 * production also a restart of its node or a move to another node) holds only participants whose
 * gateway sessions still live: it asks them over the guild's feed, the live one answers through
 * its node's guild copy, and the one whose session is gone is taken out with reason
 * {@code session_ended}.
 */
class VoicePresenceTest {

  private static final Duration WAIT = Duration.ofSeconds(30);

  private static Path dataDir;
  private static Node node;
  private static int port;
  private static ApiClient api;

  @BeforeAll
  static void start() throws Exception {
    dataDir = TestNodes.dataDir("cloister-voice-presence");
    port = TestNodes.freePort();
    node = Node.start(ConfigFactory.parseMap(Map.of(
            "cloister.voice.leave-grace", "1s",
            "pekko.cluster.sharding.passivation.default-idle-strategy.idle-entity.timeout", "5s"))
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
  void aChannelThatComesBackKeepsLiveSessionsAndDropsOnesThatDiedWithTheirNode()
      throws Exception {
    var reg = api.register("alicepresence", "pw alice");
    String alice = reg.body().get("userId").asText();
    String aliceToken = api.token("alicepresence", "pw alice");
    String bob = api.register("bobpresence", "pw bob").body().get("userId").asText();
    String bobToken = api.token("bobpresence", "pw bob");
    var g = api.post("/api/v1/guilds", Map.of("name", "Presence"), aliceToken);
    String guildId = g.body().get("id").asText();
    String lounge = api.post("/api/v1/guilds/" + guildId + "/channels",
        Map.of("name", "Lounge", "type", "voice"), aliceToken).body().get("id").asText();
    String code = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), aliceToken).body()
        .get("code").asText();
    assertThat(api.post("/api/v1/invites/" + code, Map.of(), bobToken).status()).isLessThan(300);

    try (GatewayClient a = GatewayClient.identify(port, aliceToken)) {
      a.ready();
      a.send("{\"op\":\"voice_state_update\",\"d\":{\"guildId\":\"" + guildId
          + "\",\"channelId\":\"" + lounge + "\",\"selfMute\":false,\"selfDeaf\":false,"
          + "\"nonce\":\"a\"}}");
      a.dispatch("VOICE_SERVER_UPDATE", WAIT);
      // Bob's place as a node that died would leave it: held by a session nothing runs any more.
      long member = Permission.mask(List.of(Permission.VIEW_CHANNEL, Permission.CONNECT,
          Permission.SPEAK));
      StatusReply<VoiceChannel.Joined> ghost = ClusterSharding.get(node.system())
          .entityRefFor(VoiceChannel.ENTITY_KEY, lounge)
          .<StatusReply<VoiceChannel.Joined>>ask(r -> new VoiceChannel.Join(guildId, bob,
              "bobs-laptop", "a-session-that-died-with-its-node", false, false, member, r),
              Duration.ofSeconds(10))
          .toCompletableFuture().get();
      assertThat(ghost.isSuccess()).as("%s", ghost).isTrue();
      assertThat(participants(lounge, aliceToken)).containsExactlyInAnyOrder(alice, bob);

      // Idle past the passivation timeout; a request wakes the channel, which then asks.
      awaitPassivated(lounge);
      assertThat(participants(lounge, aliceToken)).containsExactlyInAnyOrder(alice, bob);
      JsonNode left = a.until(f -> "VOICE_STATE_UPDATE".equals(f.path("t").asText())
          && bob.equals(f.at("/d/userId").asText()) && f.at("/d/channelId").isNull(), WAIT)
          .get("d");
      assertThat(left.get("reason").asText()).isEqualTo("session_ended");
      assertThat(participants(lounge, aliceToken)).as("alice's session answered")
          .containsExactly(alice);
    }
  }

  /** Waits until the channel's entity has passivated: its shard no longer holds it. */
  private static void awaitPassivated(String channelId) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (entityRuns(channelId)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("voice channel " + channelId + " still runs after " + WAIT);
      }
      Thread.sleep(100);
    }
  }

  /** Asks the region (not the entity, whose idle time this leaves alone). */
  private static boolean entityRuns(String channelId) throws Exception {
    ShardRegion.CurrentShardRegionState state = AskPattern.<ClusterShardingQuery,
            ShardRegion.CurrentShardRegionState>ask(
            ClusterSharding.get(node.system()).shardState(),
            replyTo -> new GetShardRegionState(VoiceChannel.ENTITY_KEY, replyTo),
            Duration.ofSeconds(10), node.system().scheduler())
        .toCompletableFuture().get();
    return state.getShards().stream().anyMatch(s -> s.getEntityIds().contains(channelId));
  }

  private static List<String> participants(String channelId, String token) throws Exception {
    return api.get("/api/v1/channels/" + channelId + "/voice", token).body().path("voiceStates")
        .findValuesAsText("userId");
  }
}
