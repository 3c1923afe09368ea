package dev.cloister.node;

import static dev.cloister.node.NodeEndToEndTest.b64;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Real WebSocket clients against one real node: the protocol as the README describes it. */
class GatewayEndToEndTest {

  private static final Duration WAIT = Duration.ofSeconds(15);
  private static final AtomicInteger USERS = new AtomicInteger();

  private static Path dataDir;
  private static Node node;
  private static int port;
  private static ApiClient api;

  @BeforeAll
  static void start() throws Exception {
    dataDir = TestNodes.dataDir("cloister-gateway-test");
    port = TestNodes.freePort();
    node = Node.start(TestNodes.config(dataDir, port, TestNodes.freePort()));
    api = new ApiClient("http://127.0.0.1:" + port);
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.stop();
    }
    TestNodes.delete(dataDir);
  }

  /** A signed-up user's id and token, and their MLS device. */
  record User(String id, String token, MlsTestDevice device) {}

  static User user(ApiClient api, String prefix) throws Exception {
    String name = prefix + USERS.incrementAndGet();
    var r = api.register(name, "pw " + name);
    assertThat(r.status()).isEqualTo(201);
    String id = r.body().get("userId").asText();
    String token = api.token(name, "pw " + name);
    return new User(id, token, MlsTestDevice.enroll(api, token, id));
  }

  /** A guild owned by {@code owner} that {@code others} joined; returns its body. */
  /** A ready's or a PRESENCE_BATCH's {@code presences}: status by user. */
  static Map<String, String> presences(JsonNode presences) {
    Map<String, String> m = new java.util.HashMap<>();
    presences.forEach(p -> m.put(p.path("userId").asText(), p.path("status").asText()));
    return m;
  }

  static JsonNode guild(ApiClient api, User owner, User... others) throws Exception {
    var g = api.post("/api/v1/guilds", Map.of("name", "Gateway Club"), owner.token());
    assertThat(g.status()).isEqualTo(201);
    String guildId = g.body().get("id").asText();
    var invite = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), owner.token());
    for (User u : others) {
      assertThat(api.post("/api/v1/invites/" + invite.body().get("code").asText(), Map.of(),
          u.token()).status()).isEqualTo(200);
    }
    // Everyone's device in the guild's encryption group, so that anyone can post and read.
    MlsTestDevice[] devices = new MlsTestDevice[others.length + 1];
    devices[0] = owner.device();
    for (int i = 0; i < others.length; i++) {
      devices[i + 1] = others[i].device();
    }
    MlsTestDevice.converge("g" + guildId, devices);
    return g.body();
  }

  /** Posts {@code text} as an MLS message of {@code author}'s device, through {@code api}. */
  static String post(ApiClient api, String channelId, String text, User author) throws Exception {
    return author.device().send(api, channelId, text);
  }

  /** An MLS message of the author's device, base64, for the gateway's send op. */
  static String sealed(User author, String channelId, String text) throws Exception {
    return MlsTestDevice.b64(author.device().encrypt(channelId, text));
  }

  /**
   * Pub-sub may lose a guild event; the gateway's copy reloads on the next gap. A member kicked in
   * an event the copy missed must lose the guild on that reload, not keep hearing it. (The missed
   * event is made here by publishing a fake event into the guild's topic first, so that the
   * copy takes the real kick's sequence number as already seen.)
   */
  @Test
  void aMemberKickedInAnEventTheGatewayMissedLosesTheGuildOnItsNextReload() throws Exception {
    User alice = user(api, "alice");
    User bob = user(api, "bob");
    JsonNode g = guild(api, alice, bob);
    String guildId = g.get("id").asText();
    var sharding = org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding.get(
        node.system());
    try (GatewayClient b = GatewayClient.identify(port, bob.token())) {
      b.ready();
      // A small guild's state comes in one part.
      var part = sharding.entityRefFor(dev.cloister.guild.Guild.ENTITY_KEY, guildId)
          .<dev.cloister.guild.Parts.Part>ask(r -> new dev.cloister.guild.Guild.GetReplica(
              1, 1 << 20, r), WAIT).toCompletableFuture().get();
      var parts = new dev.cloister.guild.Parts.Assembler(1);
      assertThat(parts.add(part)).isTrue();
      long seq = parts.message(node.system(), dev.cloister.guild.Guild.Replica.class).seqNr();
      var topic = node.system().systemActorOf(org.apache.pekko.actor.typed.pubsub.Topic.create(
          dev.cloister.guild.GuildFeed.Item.class, dev.cloister.guild.GuildFeed.topicName(guildId)),
          "test-feed-" + guildId, org.apache.pekko.actor.typed.Props.empty());
      // The copy takes a fake event as seq + 1 (retried until the topics have found each other).
      JsonNode update = null;
      for (int i = 0; i < 50 && update == null; i++) {
        topic.tell(org.apache.pekko.actor.typed.pubsub.Topic.publish(
            new dev.cloister.guild.GuildFeed.GuildChanged(guildId, seq + 1,
                new dev.cloister.guild.Guild.NicknameChanged(alice.id(), "fake"))));
        try {
          update = b.until(f -> "GUILD_MEMBER_UPDATE".equals(f.path("t").asText()),
              Duration.ofMillis(200));
        } catch (AssertionError notYet) {
          // published before the test's topic knew the node's
        }
      }
      assertThat(update).as("the copy took the fake event").isNotNull();
      // The real kick is seq + 1 too: the copy has "seen" it and passes it over.
      assertThat(api.call("DELETE", "/api/v1/guilds/" + guildId + "/members/" + bob.id(), null,
          alice.token()).status()).isEqualTo(204);
      // A later event with a gap makes the copy reload; the real state no longer has bob.
      topic.tell(org.apache.pekko.actor.typed.pubsub.Topic.publish(
          new dev.cloister.guild.GuildFeed.GuildChanged(guildId, seq + 3,
              new dev.cloister.guild.Guild.NicknameChanged(alice.id(), "fake 2"))));
      JsonNode deleted = b.dispatch("GUILD_DELETE", WAIT);
      assertThat(deleted.at("/d/id").asText()).isEqualTo(guildId);
      // A real event (seq + 2) lets the copy catch up with the gap it was shown.
      assertThat(api.call("PATCH", "/api/v1/guilds/" + guildId, "{\"name\":\"Renamed\"}",
          alice.token()).status()).isEqualTo(200);
    }
  }

  @Test
  void twoUsersSeeEachOthersMessagesTypingAndPresence() throws Exception {
    User alice = user(api, "alice");
    User bob = user(api, "bob");
    JsonNode g = guild(api, alice, bob);
    String guildId = g.get("id").asText();
    String general = g.get("channels").get(0).get("id").asText();

    try (GatewayClient a = GatewayClient.identify(port, alice.token())) {
      JsonNode ready = a.ready();
      assertThat(ready.get("s").asLong()).isEqualTo(1);
      assertThat(ready.at("/d/user/id").asText()).isEqualTo(alice.id());
      assertThat(ready.at("/d/sessionId").asText()).isNotBlank();
      JsonNode readyGuild = ready.at("/d/guilds/0");
      assertThat(readyGuild.get("id").asText()).isEqualTo(guildId);
      assertThat(readyGuild.get("channels")).hasSize(2);
      assertThat(readyGuild.get("members")).hasSize(2);
      assertThat(readyGuild.get("presences")).as("nobody was online before alice").isEmpty();

      try (GatewayClient b = GatewayClient.identify(port, bob.token())) {
        b.ready();
        JsonNode online = a.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
            && f.at("/d/userId").asText().equals(bob.id()), WAIT);
        assertThat(online.at("/d/userId").asText()).isEqualTo(bob.id());
        assertThat(online.at("/d/status").asText()).isEqualTo("online");

        // alice posts over REST, bob sees it
        String id = post(api, general, "hello bob", alice);
        JsonNode created = b.dispatch("MESSAGE_CREATE", WAIT);
        assertThat(created.at("/d/id").asText()).isEqualTo(id);
        assertThat(created.at("/d/authorId").asText()).isEqualTo(alice.id());
        assertThat(created.at("/d/channelId").asText()).isEqualTo(general);
        assertThat(bob.device().decrypt(general, created.at("/d/ciphertext").asText()))
            .isEqualTo("hello bob");

        // bob sends over the gateway, alice sees it; bob gets an ack with the message
        b.send("{\"op\":\"send\",\"d\":{\"channelId\":\"" + general + "\",\"ciphertext\":\""
            + sealed(bob, general, "hi alice") + "\",\"nonce\":\"n1\"}}");
        JsonNode ack = b.until(f -> "send_ack".equals(f.path("op").asText()), WAIT);
        assertThat(ack.at("/d/nonce").asText()).isEqualTo("n1");
        String bobsId = ack.at("/d/message/id").asText();
        JsonNode seen = a.until(f -> "MESSAGE_CREATE".equals(f.path("t").asText())
            && f.at("/d/id").asText().equals(bobsId), WAIT);
        assertThat(seen.at("/d/authorId").asText()).isEqualTo(bob.id());

        // sending follows REST's rules: a refusal comes back as an error with the nonce
        b.send("{\"op\":\"send\",\"d\":{\"channelId\":\"" + g.get("channels").get(1).get("id").asText()
            + "\",\"ciphertext\":\"" + b64("x") + "\",\"nonce\":\"n2\"}}");
        JsonNode error = b.until(f -> "error".equals(f.path("op").asText()), WAIT);
        assertThat(error.at("/d/nonce").asText()).isEqualTo("n2");
        assertThat(error.at("/d/code").asText()).isEqualTo("invalid");

        // typing
        a.send("{\"op\":\"typing\",\"d\":{\"channelId\":\"" + general + "\"}}");
        JsonNode typing = b.dispatch("TYPING_START", WAIT);
        assertThat(typing.at("/d/userId").asText()).isEqualTo(alice.id());
        assertThat(typing.at("/d/channelId").asText()).isEqualTo(general);

        // presence: idle, then offline when bob leaves
        b.send("{\"op\":\"presence\",\"d\":{\"status\":\"idle\"}}");
        JsonNode idle = a.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
            && f.at("/d/userId").asText().equals(bob.id()), WAIT);
        assertThat(idle.at("/d/status").asText()).isEqualTo("idle");

        // A session that starts now finds out who is online from its ready, not from changes.
        try (GatewayClient later = GatewayClient.identify(port, alice.token())) {
          assertThat(presences(later.ready().at("/d/guilds/0/presences")))
              .containsExactlyInAnyOrderEntriesOf(Map.of(alice.id(), "online", bob.id(), "idle"));
        }

        b.send("{\"op\":\"heartbeat\",\"d\":" + b.lastSeq() + "}");
        b.until(f -> "heartbeat_ack".equals(f.path("op").asText()), WAIT);
      }
      JsonNode offline = a.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
          && f.at("/d/userId").asText().equals(bob.id()), WAIT);
      assertThat(offline.at("/d/userId").asText()).isEqualTo(bob.id());
      assertThat(offline.at("/d/status").asText()).isEqualTo("offline");
    }
  }

  @Test
  void aResumedSessionGetsExactlyTheMissedEvents() throws Exception {
    User alice = user(api, "alice");
    User bob = user(api, "bob");
    JsonNode g = guild(api, alice, bob);
    String general = g.get("channels").get(0).get("id").asText();

    GatewayClient b = GatewayClient.identify(port, bob.token());
    String sessionId = b.ready().at("/d/sessionId").asText();
    String before = post(api, general, "before", alice);
    b.until(f -> f.at("/d/id").asText().equals(before), WAIT);
    long seq = b.lastSeq();
    b.abort();

    List<String> missed = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      missed.add(post(api, general, "missed " + i, alice));
    }
    try (GatewayClient again = GatewayClient.connect(port)) {
      // Contiguous sequence numbers right after seq: nothing lost, nothing twice.
      List<JsonNode> replayed = again.resume(bob.token(), sessionId, seq, WAIT);
      assertThat(GatewayClient.createdMessageIds(replayed)).containsExactlyElementsOf(missed);
      long last = replayed.get(replayed.size() - 1).get("s").asLong();

      // and the session carries on live from there
      String after = post(api, general, "after", alice);
      long expected = last + 1;
      JsonNode live;
      do {
        live = again.until(x -> "dispatch".equals(x.path("op").asText()), WAIT);
        assertThat(live.get("s").asLong()).isEqualTo(expected++);
      } while (!live.at("/d/id").asText().equals(after));
    }

    // a session nobody has is not resumable
    try (GatewayClient stranger = GatewayClient.connect(port)) {
      stranger.send("{\"op\":\"resume\",\"d\":{\"token\":\"" + bob.token()
          + "\",\"sessionId\":\"123456789\",\"seq\":1}}");
      stranger.until(f -> "invalid_session".equals(f.path("op").asText()), WAIT);
    }
  }

  @Test
  void aPermissionChangeHidesAChannelsEventsAtOnce() throws Exception {
    User alice = user(api, "alice");
    User bob = user(api, "bob");
    JsonNode g = guild(api, alice, bob);
    String guildId = g.get("id").asText();
    String general = g.get("channels").get(0).get("id").asText();
    var secret = api.post("/api/v1/guilds/" + guildId + "/channels",
        Map.of("name", "secret", "type", "text"), alice.token());
    String secretId = secret.body().get("id").asText();

    try (GatewayClient b = GatewayClient.identify(port, bob.token())) {
      b.ready();
      String visible = post(api, secretId, "still visible", alice);
      b.until(f -> f.at("/d/id").asText().equals(visible), WAIT);

      var hide = api.call("PUT", "/api/v1/channels/" + secretId + "/overwrites/" + bob.id(),
          "{\"type\":\"member\",\"deny\":[\"VIEW_CHANNEL\"]}", alice.token());
      assertThat(hide.status()).isEqualTo(204);
      String hidden = post(api, secretId, "hidden", alice);
      String marker = post(api, general, "marker", alice);

      List<JsonNode> seen = new ArrayList<>();
      JsonNode f;
      do {
        f = b.next(WAIT);
        seen.add(f);
      } while (!f.at("/d/id").asText().equals(marker));
      assertThat(seen).anySatisfy(x -> {
        assertThat(x.path("t").asText()).isEqualTo("CHANNEL_DELETE");
        assertThat(x.at("/d/id").asText()).isEqualTo(secretId);
      });
      assertThat(seen).noneSatisfy(x -> assertThat(x.at("/d/id").asText()).isEqualTo(hidden));
      assertThat(seen).noneSatisfy(x -> assertThat(x.at("/d/channelId").asText()).isEqualTo(secretId));
    }
  }

  @Test
  void membersSeeChannelsCreatedAndRenamed() throws Exception {
    User alice = user(api, "alice");
    User bob = user(api, "bob");
    String guildId = guild(api, alice, bob).get("id").asText();
    try (GatewayClient b = GatewayClient.identify(port, bob.token())) {
      b.ready();
      String id = api.post("/api/v1/guilds/" + guildId + "/channels",
          Map.of("name", "news", "type", "text"), alice.token()).body().get("id").asText();
      JsonNode created = b.dispatch("CHANNEL_CREATE", WAIT);
      assertThat(created.at("/d/id").asText()).isEqualTo(id);
      assertThat(created.at("/d/name").asText()).isEqualTo("news");
      assertThat(api.call("PATCH", "/api/v1/channels/" + id, "{\"name\":\"announcements\"}",
          alice.token()).status()).isEqualTo(200);
      JsonNode updated = b.dispatch("CHANNEL_UPDATE", WAIT);
      assertThat(updated.at("/d/id").asText()).isEqualTo(id);
      assertThat(updated.at("/d/name").asText()).isEqualTo("announcements");
    }
  }

  @Test
  void badFramesGetTheirCloseCodesAndHarmNoOneElse() throws Exception {
    User alice = user(api, "alice");
    User bob = user(api, "bob");
    JsonNode g = guild(api, alice, bob);
    String general = g.get("channels").get(0).get("id").asText();

    try (GatewayClient a = GatewayClient.identify(port, alice.token())) {
      a.ready();
      assertThat(closeCodeFor("not json")).isEqualTo(4002);
      assertThat(closeCodeFor("[1,2]")).isEqualTo(4002);
      assertThat(closeCodeFor("{\"d\":1}")).isEqualTo(4002);
      assertThat(closeCodeFor("{\"op\":\"dance\"}")).isEqualTo(4001);
      assertThat(closeCodeFor("{\"op\":\"typing\",\"d\":{\"channelId\":\"" + general + "\"}}"))
          .isEqualTo(4003);
      assertThat(closeCodeFor("{\"op\":\"identify\",\"d\":{\"token\":\"forged.token\",\"deviceId\":\"x\"}}"))
          .isEqualTo(4004);
      assertThat(closeCodeFor("{\"op\":\"identify\",\"d\":{\"deviceId\":\"x\"}}")).isEqualTo(4002);
      assertThat(closeCodeFor("{\"op\":\"heartbeat\",\"d\":\"soon\"}")).isEqualTo(4002);
      assertThat(closeCodeFor("{\"op\":\"send\",\"d\":" + "[".repeat(100) + "]".repeat(100) + "}"))
          .isEqualTo(4002);

      try (GatewayClient c = GatewayClient.identify(port, bob.token())) {
        c.ready();
        c.send("{\"op\":\"identify\",\"d\":{\"token\":\"" + bob.token() + "\",\"deviceId\":\"x\"}}");
        assertThat(c.awaitClose(WAIT)).isEqualTo(4005);
      }
      try (GatewayClient c = GatewayClient.identify(port, bob.token())) {
        String sessionId = c.ready().at("/d/sessionId").asText();
        c.abort();
        try (GatewayClient r = GatewayClient.connect(port)) {
          r.send("{\"op\":\"resume\",\"d\":{\"token\":\"" + bob.token() + "\",\"sessionId\":\""
              + sessionId + "\",\"seq\":999999}}");
          assertThat(r.awaitClose(WAIT)).isEqualTo(4007);
        }
      }
      try (GatewayClient c = GatewayClient.connect(port)) {
        c.send("{\"op\":\"heartbeat\",\"d\":\"" + "x".repeat(70_000) + "\"}");
        assertThat(c.awaitClose(WAIT)).isEqualTo(4010);
      }
      try (GatewayClient c = GatewayClient.connect(port)) {
        c.sendBinary(new byte[] {1, 2, 3});
        assertThat(c.awaitClose(WAIT)).isEqualTo(4002);
      }
      try (GatewayClient c = GatewayClient.connect(port)) {
        for (int i = 0; i < 200 && !c.closed.isDone(); i++) {
          c.sendQuietly("{\"op\":\"heartbeat\",\"d\":null}");
        }
        assertThat(c.awaitClose(WAIT)).isEqualTo(4008);
      }
      // A session that stops heartbeating is closed, and its presence goes offline.
      try (GatewayClient silent = GatewayClient.connect(port, false)) {
        silent.send("{\"op\":\"identify\",\"d\":{\"token\":\"" + bob.token() + "\",\"deviceId\":\"x\"}}");
        silent.ready();
        a.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
            && "online".equals(f.at("/d/status").asText()), WAIT);
        assertThat(silent.awaitClose(WAIT)).isEqualTo(4009);
        a.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
            && "offline".equals(f.at("/d/status").asText()), WAIT);
      }
      // alice was never disturbed
      String id = post(api, general, "still here", bob);
      assertThat(a.until(f -> f.at("/d/id").asText().equals(id), WAIT).path("t").asText())
          .isEqualTo("MESSAGE_CREATE");
      a.send("{\"op\":\"heartbeat\",\"d\":" + a.lastSeq() + "}");
      a.until(f -> "heartbeat_ack".equals(f.path("op").asText()), WAIT);
    }
  }

  private static int closeCodeFor(String frame) throws Exception {
    try (GatewayClient c = GatewayClient.connect(port)) {
      c.send(frame);
      return c.awaitClose(WAIT);
    }
  }
}
