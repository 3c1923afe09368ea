package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Voice signalling against one real node with its own SFU: {@code voice_state_update} over real
 * WebSockets, voice states to those who can see the channel, moderation over REST, and every bad
 * request answered with an error that names it.
 */
class VoiceGatewayTest {

  private static final Duration WAIT = Duration.ofSeconds(15);
  private static final AtomicInteger USERS = new AtomicInteger();

  private static Path dataDir;
  private static Node node;
  private static int port;
  private static ApiClient api;

  @BeforeAll
  static void start() throws Exception {
    dataDir = TestNodes.dataDir("cloister-voice-test");
    port = TestNodes.freePort();
    node = Node.start(ConfigFactory.parseMap(Map.of("cloister.voice.leave-grace", "1s"))
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

  record User(String id, String token) {}

  private static User user(String prefix) throws Exception {
    String name = prefix + USERS.incrementAndGet();
    var r = api.register(name, "pw " + name);
    assertThat(r.status()).isEqualTo(201);
    return new User(r.body().get("userId").asText(), api.token(name, "pw " + name));
  }

  /** A guild of {@code owner} that the others joined, with a voice channel; [guild, voice, text]. */
  private static String[] guild(User owner, User... others) throws Exception {
    var g = api.post("/api/v1/guilds", Map.of("name", "Voice Club"), owner.token());
    String guildId = g.body().get("id").asText();
    String text = g.body().get("channels").get(0).get("id").asText();
    var voice = api.post("/api/v1/guilds/" + guildId + "/channels",
        Map.of("name", "Lounge", "type", "voice"), owner.token());
    assertThat(voice.status()).as("%s", voice.body()).isEqualTo(201);
    var invite = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), owner.token());
    for (User u : others) {
      api.post("/api/v1/invites/" + invite.body().get("code").asText(), Map.of(), u.token());
    }
    return new String[] {guildId, voice.body().get("id").asText(), text};
  }

  private static String update(String guildId, String channelId, String nonce) {
    return "{\"op\":\"voice_state_update\",\"d\":{\"guildId\":\"" + guildId + "\",\"channelId\":"
        + (channelId == null ? "null" : "\"" + channelId + "\"")
        + ",\"selfMute\":false,\"selfDeaf\":false,\"nonce\":\"" + nonce + "\"}}";
  }

  private static JsonNode error(GatewayClient c, String nonce) throws InterruptedException {
    return c.until(f -> "error".equals(f.path("op").asText())
        && nonce.equals(f.at("/d/nonce").asText()), WAIT).get("d");
  }

  private static JsonNode voiceState(GatewayClient c, String userId, boolean in)
      throws InterruptedException {
    return c.until(f -> "VOICE_STATE_UPDATE".equals(f.path("t").asText())
        && userId.equals(f.at("/d/userId").asText())
        && f.at("/d/channelId").isNull() != in, WAIT).get("d");
  }

  @Test
  void joinTellsTheJoinerWhereToSendAndTheOthersWhoIsInAndReadyListsIt() throws Exception {
    User alice = user("alice");
    User bob = user("bob");
    String[] g = guild(alice, bob);
    try (GatewayClient a = GatewayClient.identify(port, alice.token());
        GatewayClient b = GatewayClient.identify(port, bob.token())) {
      a.ready();
      b.ready();
      a.send(update(g[0], g[1], "j1"));
      JsonNode server = a.dispatch("VOICE_SERVER_UPDATE", WAIT).get("d");
      assertThat(server.get("nonce").asText()).isEqualTo("j1");
      assertThat(server.get("channelId").asText()).isEqualTo(g[1]);
      assertThat(server.get("groupId").asText()).isEqualTo("v" + g[1] + ".1");
      assertThat(server.get("udpHost").asText()).isEqualTo("127.0.0.1");
      assertThat(server.get("udpPort").asInt()).isPositive();
      assertThat(server.get("ssrc").asLong()).isBetween(1L, 0xFFFF_FFFFL);
      assertThat(server.get("iceUfrag").asText()).isNotEmpty();
      assertThat(server.get("icePwd").asText()).isNotEmpty();
      assertThat(server.get("rekeyIntervalMs").asLong()).isEqualTo(30_000);

      JsonNode seen = voiceState(b, alice.id(), true);
      assertThat(seen.get("channelId").asText()).isEqualTo(g[1]);
      assertThat(seen.has("icePwd")).isFalse(); // nobody else learns the joiner's credentials

      try (GatewayClient late = GatewayClient.identify(port, bob.token())) {
        JsonNode states = late.ready().at("/d/guilds/0/voiceStates");
        assertThat(states).hasSize(1);
        assertThat(states.get(0).get("userId").asText()).isEqualTo(alice.id());
      }
      var rest = api.get("/api/v1/channels/" + g[1] + "/voice", bob.token());
      assertThat(rest.status()).isEqualTo(200);
      assertThat(rest.body().get("voiceStates")).hasSize(1);

      a.send(update(g[0], null, "l1"));
      JsonNode left = voiceState(b, alice.id(), false);
      assertThat(left.get("fromChannelId").asText()).isEqualTo(g[1]);
      assertThat(left.get("reason").asText()).isEqualTo("left");
    }
  }

  @Test
  void badVoiceRequestsGetAClearErrorAndTheSessionStaysUp() throws Exception {
    User alice = user("alice");
    User bob = user("bob");
    User stranger = user("stranger");
    String[] g = guild(alice, bob);
    try (GatewayClient b = GatewayClient.identify(port, bob.token());
        GatewayClient s = GatewayClient.identify(port, stranger.token())) {
      b.ready();
      s.ready();
      b.send(update(g[0], g[2], "text"));
      assertThat(error(b, "text").get("message").asText()).contains("not a voice channel");
      b.send(update(g[0], "999999999999", "unknown"));
      assertThat(error(b, "unknown").get("status").asInt()).isEqualTo(404);
      b.send(update("123", g[1], "guild"));
      assertThat(error(b, "guild").get("message").asText()).contains("unknown guild");
      s.send(update(g[0], g[1], "stranger"));
      assertThat(error(s, "stranger").get("status").asInt()).isEqualTo(404);

      // Without CONNECT: refused by name.
      assertThat(api.call("PUT", "/api/v1/channels/" + g[1] + "/overwrites/" + bob.id(),
          "{\"type\":\"member\",\"deny\":[\"CONNECT\"]}", alice.token()).status()).isEqualTo(204);
      Thread.sleep(300); // the node's copy of the guild hears of the overwrite
      b.send(update(g[0], g[1], "denied"));
      JsonNode denied = error(b, "denied");
      assertThat(denied.get("status").asInt()).isEqualTo(403);
      assertThat(denied.get("message").asText()).contains("CONNECT");

      // The session is still there for a good request.
      b.send("{\"op\":\"heartbeat\",\"d\":null}");
      b.until(f -> "heartbeat_ack".equals(f.path("op").asText()), WAIT);
      assertThat(api.get("/api/v1/channels/" + g[1] + "/voice", alice.token()).body()
          .get("voiceStates")).isEmpty();
    }
    // A malformed op is a protocol error: the connection closes with DECODE_ERROR.
    try (GatewayClient b = GatewayClient.identify(port, bob.token())) {
      b.ready();
      b.send("{\"op\":\"voice_state_update\",\"d\":{\"guildId\":\"" + g[0]
          + "\",\"channelId\":\"" + g[1] + "\",\"selfMute\":\"yes\"}}");
      assertThat(b.awaitClose(WAIT)).isEqualTo(4002);
    }
  }

  @Test
  void moderatorsMuteAndDisconnectOthersAndNobodyElseCan() throws Exception {
    User alice = user("alice");
    User bob = user("bob");
    String[] g = guild(alice, bob);
    try (GatewayClient a = GatewayClient.identify(port, alice.token());
        GatewayClient b = GatewayClient.identify(port, bob.token())) {
      a.ready();
      b.ready();
      a.send(update(g[0], g[1], "a"));
      a.dispatch("VOICE_SERVER_UPDATE", WAIT);
      b.send(update(g[0], g[1], "b"));
      b.dispatch("VOICE_SERVER_UPDATE", WAIT);
      String member = "/api/v1/channels/" + g[1] + "/voice/members/";

      var refused = api.call("PATCH", member + alice.id(), "{\"mute\":true}", bob.token());
      assertThat(refused.status()).isEqualTo(403);
      assertThat(refused.body().get("message").asText()).contains("MUTE_MEMBERS");
      assertThat(api.call("DELETE", member + alice.id(), null, bob.token()).status())
          .isEqualTo(403);
      assertThat(api.call("PATCH", member + bob.id(), "{\"mute\":\"loud\"}", alice.token())
          .status()).isEqualTo(400);
      assertThat(api.call("PATCH", "/api/v1/channels/" + g[1] + "/voice", "{\"userLimit\":5}",
          bob.token()).status()).isEqualTo(403);

      var muted = api.call("PATCH", member + bob.id(), "{\"mute\":true}", alice.token());
      assertThat(muted.status()).as("%s", muted.body()).isEqualTo(200);
      JsonNode state = a.until(f -> "VOICE_STATE_UPDATE".equals(f.path("t").asText())
          && bob.id().equals(f.at("/d/userId").asText()) && f.at("/d/mute").asBoolean(), WAIT);
      assertThat(state.at("/d/channelId").asText()).isEqualTo(g[1]);

      assertThat(api.call("PATCH", "/api/v1/channels/" + g[1] + "/voice", "{\"userLimit\":2}",
          alice.token()).body().get("userLimit").asInt()).isEqualTo(2);

      assertThat(api.call("DELETE", member + bob.id(), null, alice.token()).status())
          .isEqualTo(204);
      JsonNode gone = voiceState(a, bob.id(), false);
      assertThat(gone.get("reason").asText()).isEqualTo("disconnected");
    }
  }

  @Test
  void moderatorsMoveAMemberIntoAnotherVoiceChannelAndTheSessionFollows() throws Exception {
    User alice = user("alice");
    User bob = user("bob");
    User carol = user("carol");
    String[] g = guild(alice, bob, carol);
    String stage = api.post("/api/v1/guilds/" + g[0] + "/channels",
        Map.of("name", "Stage", "type", "voice"), alice.token()).body().get("id").asText();
    String closed = api.post("/api/v1/guilds/" + g[0] + "/channels",
        Map.of("name", "Closed", "type", "voice"), alice.token()).body().get("id").asText();
    assertThat(api.call("PUT", "/api/v1/channels/" + closed + "/overwrites/" + bob.id(),
        "{\"type\":\"member\",\"deny\":[\"CONNECT\"]}", alice.token()).status())
        .isEqualTo(204);
    String other = guild(alice)[1];
    try (GatewayClient a = GatewayClient.identify(port, alice.token());
        GatewayClient b = GatewayClient.identify(port, bob.token());
        GatewayClient c = GatewayClient.identify(port, carol.token())) {
      a.ready();
      b.ready();
      c.ready();
      b.send(update(g[0], g[1], "b"));
      String bobGroup = b.dispatch("VOICE_SERVER_UPDATE", WAIT).at("/d/groupId").asText();
      c.send(update(g[0], stage, "c"));
      c.dispatch("VOICE_SERVER_UPDATE", WAIT);
      assertThat(api.call("PATCH", "/api/v1/channels/" + stage + "/voice", "{\"userLimit\":1}",
          alice.token()).status()).isEqualTo(200);
      String bobInLounge = "/api/v1/channels/" + g[1] + "/voice/members/" + bob.id();
      String move = "{\"channelId\":\"" + stage + "\"}";

      var refused = api.call("PATCH", "/api/v1/channels/" + stage + "/voice/members/" + carol.id(),
          "{\"channelId\":\"" + g[1] + "\"}", bob.token());
      assertThat(refused.status()).isEqualTo(403);
      assertThat(refused.body().get("message").asText()).contains("MOVE_MEMBERS");
      assertThat(api.call("PATCH", bobInLounge, "{\"channelId\":\"" + g[2] + "\"}",
          alice.token()).body().get("message").asText()).contains("not a voice channel");
      assertThat(api.call("PATCH", bobInLounge, "{\"channelId\":\"" + g[1] + "\"}",
          alice.token()).status()).isEqualTo(400);
      assertThat(api.call("PATCH", bobInLounge, "{\"channelId\":\"nope\"}", alice.token())
          .status()).isEqualTo(400);
      assertThat(api.call("PATCH", bobInLounge, "{\"channelId\":\"" + other + "\"}",
          alice.token()).body().get("message").asText()).contains("another guild");
      assertThat(api.call("PATCH", bobInLounge, "{\"channelId\":\"" + stage
          + "\",\"mute\":true}", alice.token()).status()).isEqualTo(400);
      var notThere = api.call("PATCH", "/api/v1/channels/" + g[1] + "/voice/members/"
          + carol.id(), "{\"channelId\":\"" + closed + "\"}", alice.token());
      assertThat(notThere.status()).as("%s", notThere.body()).isEqualTo(404);
      var noConnect = api.call("PATCH", bobInLounge, "{\"channelId\":\"" + closed + "\"}",
          alice.token());
      assertThat(noConnect.status()).isEqualTo(403);
      assertThat(noConnect.body().get("message").asText()).contains("may not connect");
      assertThat(api.get("/api/v1/channels/" + g[1] + "/voice", alice.token()).body()
          .get("voiceStates")).hasSize(1); // every refused move left bob where he was

      // Server-muted in the lounge, moved into the full stage: the mute goes along.
      assertThat(api.call("PATCH", bobInLounge, "{\"mute\":true}", alice.token()).status())
          .isEqualTo(200);
      var moved = api.call("PATCH", bobInLounge, move, alice.token());
      assertThat(moved.status()).as("%s", moved.body()).isEqualTo(200);
      assertThat(moved.body().get("channelId").asText()).isEqualTo(stage);
      assertThat(moved.body().get("voiceStates")).hasSize(2);

      JsonNode server = b.until(f -> "VOICE_SERVER_UPDATE".equals(f.path("t").asText())
          && stage.equals(f.at("/d/channelId").asText()), WAIT).get("d");
      assertThat(server.get("movedFrom").asText()).isEqualTo(g[1]);
      assertThat(server.get("movedBy").asText()).isEqualTo(alice.id());
      assertThat(server.get("moved").asBoolean()).isFalse();
      assertThat(server.get("groupId").asText()).isEqualTo("v" + stage + ".1")
          .isNotEqualTo(bobGroup);
      assertThat(server.get("icePwd").asText()).isNotEmpty();
      assertThat(server.has("nonce")).isFalse();

      // Others see bob leave the lounge and arrive on the stage, in either order.
      JsonNode left = null;
      JsonNode arrived = null;
      while (left == null || arrived == null) {
        JsonNode f = a.until(x -> "VOICE_STATE_UPDATE".equals(x.path("t").asText())
            && bob.id().equals(x.at("/d/userId").asText()), WAIT).get("d");
        if (g[1].equals(f.path("fromChannelId").asText())) {
          left = f;
        } else if (stage.equals(f.path("channelId").asText()) && f.path("mute").asBoolean()) {
          arrived = f;
        }
      }
      assertThat(left.get("reason").asText()).isEqualTo("moved");
      assertThat(arrived.get("sessionId").asText()).isNotEmpty();
      assertThat(api.get("/api/v1/channels/" + g[1] + "/voice", alice.token()).body()
          .get("voiceStates")).isEmpty();

      // The session knows where it is now: leaving takes bob out of the stage.
      b.send(update(g[0], null, "leave"));
      a.until(f -> "VOICE_STATE_UPDATE".equals(f.path("t").asText())
          && bob.id().equals(f.at("/d/userId").asText())
          && stage.equals(f.at("/d/fromChannelId").asText()), WAIT);
      JsonNode stageNow = api.get("/api/v1/channels/" + stage + "/voice", alice.token()).body();
      assertThat(stageNow.get("voiceStates")).hasSize(1);
      assertThat(stageNow.at("/voiceStates/0/userId").asText()).isEqualTo(carol.id());
    }
  }

  @Test
  void aMemberWhoseConnectionDropsLeavesAfterTheGraceUnlessTheyResume() throws Exception {
    User alice = user("alice");
    User bob = user("bob");
    String[] g = guild(alice, bob);
    try (GatewayClient a = GatewayClient.identify(port, alice.token())) {
      a.ready();
      GatewayClient b = GatewayClient.identify(port, bob.token());
      b.ready();
      b.send(update(g[0], g[1], "b"));
      b.dispatch("VOICE_SERVER_UPDATE", WAIT);
      voiceState(a, bob.id(), true);
      b.abort();
      JsonNode gone = voiceState(a, bob.id(), false);
      assertThat(gone.get("reason").asText()).isEqualTo("left");
    }
  }
}
