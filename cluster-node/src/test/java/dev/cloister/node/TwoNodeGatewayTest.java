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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Test;

/**
 * Two cluster nodes in one JVM (two actor systems named "cloister" on their own loopback ports,
 * one seed, one shared embedded PostgreSQL): a login started on one node finishes on the other; a
 * post on one node reaches a session on the other, as does who is online there; a session
 * dropped on one node resumes on the other without loss or duplicates; a node with a member's id
 * is refused; and a graceful stop of node B hands its sessions over to A (last, as it stops B).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TwoNodeGatewayTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  /** Short, so the expiry of a started login is seen within the test. */
  private static final Duration LOGIN_TIMEOUT = Duration.ofSeconds(4);

  private static Path dirA;
  private static Path dirB;
  private static String tokenKey;
  /** Both nodes sign as one delivery service (a group's entity may live on either). */
  private static String dsKey;
  private static int artA;
  private static int httpA;
  private static int httpB;
  private static int managementB;
  private static Node a;
  private static Node b;

  @BeforeAll
  static void startTwoNodes() throws Exception {
    dirA = TestNodes.dataDir("cloister-node-a");
    dirB = Files.createTempDirectory("cloister-node-b");
    byte[] key = new byte[32];
    new java.security.SecureRandom().nextBytes(key);
    tokenKey = Base64.getEncoder().encodeToString(key);
    dsKey = Base64.getEncoder().encodeToString(
        dev.cloister.mls.ds.DeliveryServiceKey.generate("cloister").privateKey());
    artA = TestNodes.freePort();
    httpA = TestNodes.freePort();
    httpB = TestNodes.freePort();
    a = Node.start(node(dirA, httpA, artA, 1, tokenKey, Map.of()));
    managementB = TestNodes.freePort();
    b = Node.start(node(dirB, httpB, TestNodes.freePort(), 2, tokenKey, Map.of(
        "cloister.db.url", a.databaseUrl(),
        "cloister.cluster.seed-nodes", "pekko://cloister@127.0.0.1:" + artA,
        "pekko.management.http.port", managementB)));
  }

  @AfterAll
  static void stopTwoNodes() throws Exception {
    try {
      if (b != null) {
        b.stop();
      }
      if (a != null) {
        a.stop();
      }
    } finally {
      TestNodes.delete(dirA);
      TestNodes.delete(dirB);
    }
  }

  /**
   * No sticky routing for logins: a login started on one node finishes on the other (one of the
   * two legs reaches the username's desk on the other node, whichever node holds it). The id is
   * spent by its first finish on either node; an unknown, made-up or expired id is refused; the
   * failure back-off of a name is the same on both nodes.
   */
  @Test
  @Order(1)
  void aLoginStartedOnOneNodeFinishesOnTheOther() throws Exception {
    ApiClient apiA = new ApiClient("http://127.0.0.1:" + httpA);
    ApiClient apiB = new ApiClient("http://127.0.0.1:" + httpB);
    String name = "roamer" + System.nanoTime() % 100_000;
    assertThat(apiA.register(name, "pw").status()).isEqualTo(201);

    ApiClient.LateSaltClient srp = new ApiClient.LateSaltClient();
    srp.init(org.bouncycastle.crypto.agreement.srp.SRP6StandardGroups.rfc5054_2048,
        new org.bouncycastle.crypto.digests.SHA256Digest(), new java.security.SecureRandom());
    ApiClient.Response start = apiA.startLogin(name, srp, "pw");
    assertThat(start.status()).isEqualTo(200);
    java.util.List<String> fields = new ArrayList<>();
    start.body().fieldNames().forEachRemaining(fields::add);
    assertThat(fields).as("the answer carries B, never b").containsExactlyInAnyOrder("loginId",
        "salt", "B");
    srp.calculateSecret(new java.math.BigInteger(start.body().get("B").asText(), 16));
    Map<String, String> finish = Map.of("loginId", start.body().get("loginId").asText(),
        "M1", srp.calculateClientEvidenceMessage().toString(16));
    ApiClient.Response done = apiB.post("/api/v1/auth/login/finish", finish, null);
    assertThat(done.status()).as("%s", done.body()).isEqualTo(200);
    assertThat(srp.verifyServerEvidenceMessage(
        new java.math.BigInteger(done.body().get("M2").asText(), 16))).isTrue();
    String token = done.body().get("token").asText();
    assertThat(apiA.get("/api/v1/users/@me", token).status()).isEqualTo(200);

    // Spent: neither node takes it again.
    assertRefused(apiA.post("/api/v1/auth/login/finish", finish, null));
    assertRefused(apiB.post("/api/v1/auth/login/finish", finish, null));
    // Unknown: well-formed but never issued, or not a login id at all.
    String issued = start.body().get("loginId").asText();
    assertRefused(apiB.post("/api/v1/auth/login/finish", Map.of("loginId",
        issued.substring(0, 17) + "A".repeat(24), "M1", "abcd"), null));
    assertRefused(apiB.post("/api/v1/auth/login/finish", Map.of("loginId",
        "A".repeat(16) + "." + "B".repeat(24), "M1", "abcd"), null));
    assertRefused(apiA.post("/api/v1/auth/login/finish", Map.of("loginId", "made-up",
        "M1", "abcd"), null));

    // Expired: started on B, finished on A after the login timeout, with the right evidence.
    ApiClient.LateSaltClient late = new ApiClient.LateSaltClient();
    late.init(org.bouncycastle.crypto.agreement.srp.SRP6StandardGroups.rfc5054_2048,
        new org.bouncycastle.crypto.digests.SHA256Digest(), new java.security.SecureRandom());
    ApiClient.Response slow = apiB.startLogin(name, late, "pw");
    assertThat(slow.status()).isEqualTo(200);
    late.calculateSecret(new java.math.BigInteger(slow.body().get("B").asText(), 16));
    Thread.sleep(LOGIN_TIMEOUT.plusMillis(500).toMillis());
    assertRefused(apiA.post("/api/v1/auth/login/finish", Map.of("loginId",
        slow.body().get("loginId").asText(), "M1",
        late.calculateClientEvidenceMessage().toString(16)), null));

    // The back-off is one for the name (here one free failure, then 1, 2, 4 s): four wrong
    // passwords alternating between the nodes, each tried once the wait before it is over, then
    // the right one waits on either node.
    int failures = 0;
    for (int attempt = 0; failures < 4 && attempt < 20; attempt++) {
      ApiClient.Response r = (failures % 2 == 0 ? apiA : apiB).login(name, "wrong " + attempt);
      if (r.status() == 429) {
        Thread.sleep(1000L * Long.parseLong(r.raw().headers().firstValue("Retry-After")
            .orElseThrow()));
      } else {
        assertRefused(r);
        failures++;
      }
    }
    assertThat(failures).isEqualTo(4);
    for (ApiClient api : List.of(apiA, apiB)) {
      ApiClient.Response waiting = api.login(name, "pw");
      assertThat(waiting.status()).as("%s", waiting.body()).isEqualTo(429);
      assertThat(waiting.body().get("message").asText()).contains("failed logins");
    }
  }

  private static void assertRefused(ApiClient.Response r) {
    assertThat(r.status()).as("%s", r.body()).isEqualTo(401);
    assertThat(r.body().get("code").asText()).isEqualTo("unauthorized");
  }

  @Test
  @Order(2)
  void postsCrossNodesAndSessionsResumeOnTheOtherNode() throws Exception {
    {
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
        // Bob came online on B before A had a copy of the guild: A's copy asks B's who is
        // online, and alice learns bob is, in her ready or in a PRESENCE_UPDATE just after.
        Map<String, String> seen = GatewayEndToEndTest.presences(
            aliceOnA.ready().at("/d/guilds/0/presences"));
        if (!seen.containsKey(bob.id())) {
          seen.put(bob.id(), aliceOnA.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
              && f.at("/d/userId").asText().equals(bob.id()), WAIT).at("/d/status").asText());
        }
        assertThat(seen).containsEntry(bob.id(), "online");

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

    }
  }

  /**
   * One user, two devices whose sessions live on different nodes: the user's presence is the
   * highest of the two (online over idle over offline), not whichever node spoke last. Bob's
   * sessions on A end while his one on B stays: nobody is told he went offline; his session on B
   * goes idle: everyone is told idle, and a session that starts now finds him idle.
   */
  @Test
  @Order(3)
  void aUserOnTwoNodesIsAsPresentAsTheMostPresentOfThem() throws Exception {
    ApiClient apiA = new ApiClient("http://127.0.0.1:" + httpA);
    GatewayEndToEndTest.User alice = user(apiA, "alice");
    GatewayEndToEndTest.User bob = user(apiA, "bob");
    guild(apiA, alice, bob);
    List<GatewayClient> open = new ArrayList<>();
    try (GatewayClient aliceWatching = GatewayClient.identify(httpA, alice.token())) {
      aliceWatching.ready();
      // Sessions are sharded: connect until bob has one on each node.
      List<GatewayClient> bobsOnA = new ArrayList<>();
      GatewayClient bobsOnB = null;
      for (int i = 0; (bobsOnB == null || bobsOnA.isEmpty()) && i < 40; i++) {
        long before = gatewaySessionsOn(managementB);
        GatewayClient cl = GatewayClient.identify(httpA, bob.token());
        open.add(cl);
        cl.ready();
        if (gatewaySessionsOn(managementB) > before) {
          bobsOnB = bobsOnB == null ? cl : bobsOnB;
        } else {
          bobsOnA.add(cl);
        }
      }
      assertThat(bobsOnB).as("a session of bob's on B").isNotNull();
      assertThat(bobsOnA).as("a session of bob's on A").isNotEmpty();
      aliceWatching.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
          && f.at("/d/userId").asText().equals(bob.id())
          && f.at("/d/status").asText().equals("online"), WAIT);

      bobsOnA.forEach(GatewayClient::close);
      Thread.sleep(1000); // so that A's word (offline) comes first, as it would mislead
      bobsOnB.send("{\"op\":\"presence\",\"d\":{\"status\":\"idle\"}}");
      List<String> told = new ArrayList<>();
      aliceWatching.until(f -> {
        if ("PRESENCE_UPDATE".equals(f.path("t").asText())
            && f.at("/d/userId").asText().equals(bob.id())) {
          told.add(f.at("/d/status").asText());
        }
        return told.contains("idle");
      }, WAIT);
      assertThat(told).as("what alice was told of bob").containsExactly("idle");
      try (GatewayClient later = GatewayClient.identify(httpA, alice.token())) {
        assertThat(GatewayEndToEndTest.presences(later.ready().at("/d/guilds/0/presences")))
            .containsEntry(bob.id(), "idle");
      }
    } finally {
      open.forEach(GatewayClient::abort);
    }
  }

  /**
   * A node given a member's node id is refused: it would make the same message ids. (Last: the
   * refused node's brief membership must not disturb the other tests.)
   */
  @Test
  @Order(5)
  void aNodeWithTheIdOfAMemberIsRefused() throws Exception {
    ApiClient apiA = new ApiClient("http://127.0.0.1:" + httpA);
    GatewayEndToEndTest.User alice = user(apiA, "alice");
    String general = guild(apiA, alice).get("channels").get(0).get("id").asText();
    Path dirC = Files.createTempDirectory("cloister-node-c");
    String dbUrl = a.databaseUrl();
    try {
      assertThatThrownBy(() -> Node.start(node(dirC, TestNodes.freePort(),
          TestNodes.freePort(), 1, tokenKey, Map.of("cloister.db.url", dbUrl,
              "cloister.cluster.seed-nodes", "pekko://cloister@127.0.0.1:" + artA))))
          .hasMessageContaining("cloister.node-id 1 (CLOISTER_NODE_ID) is already the id of "
              + "cluster member pekko://cloister@127.0.0.1:");
    } finally {
      TestNodes.delete(dirC);
    }
    assertThat(post(apiA, general, "after the refused node", alice)).isNotEmpty();
  }

  /**
   * A graceful stop hands sessions over (last: it stops node B). Sessions of one user, three
   * connected to A but living on B and three connected to B, while posts go on through node A: B
   * is stopped (coordinated shutdown, as on SIGTERM). Sessions that lived on B move to A (their
   * connections on A follow), the clients connected to B get 1012 and resume on A; every
   * client then has every acknowledged post once, in order, with no break in its seq, and none
   * had to identify again.
   */
  @Test
  @Order(4)
  void aGracefulStopHandsSessionsOverToTheOtherNode() throws Exception {
    ApiClient apiA = new ApiClient("http://127.0.0.1:" + httpA);
    GatewayEndToEndTest.User alice = user(apiA, "alice");
    GatewayEndToEndTest.User bob = user(apiA, "bob");
    JsonNode g = guild(apiA, alice, bob);
    String general = g.get("channels").get(0).get("id").asText();
    java.util.concurrent.atomic.AtomicBoolean bUp = new java.util.concurrent.atomic.AtomicBoolean(
        true);
    int[] ports = {httpA, httpB};
    List<RoamingGatewayClient> clients = new ArrayList<>();
    List<String> acknowledged = java.util.Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.atomic.AtomicInteger refused = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean posting = new java.util.concurrent.atomic.AtomicBoolean(
        true);
    Thread poster = new Thread(() -> {
      int n = 0;
      while (posting.get()) {
        try {
          ApiClient.Response r = alice.device().post(apiA, general, "p" + n++);
          if (r.status() == 201) {
            acknowledged.add(r.body().get("id").asText());
          } else {
            refused.incrementAndGet();
          }
          Thread.sleep(50);
        } catch (InterruptedException e) {
          return;
        } catch (Exception e) {
          refused.incrementAndGet();
        }
      }
    }, "poster");
    try {
      // Three connected to A whose sessions live on B (they follow their session's move
      // without a word to the client), then three connected to B (they resume on A).
      int movedUnder = 0;
      for (int i = 0; movedUnder < 3 && i < 40; i++) {
        long onBBefore = gatewaySessionsOn(managementB);
        RoamingGatewayClient c = new RoamingGatewayClient("bob-a" + i, bob.token(), general,
            ports, 0, index -> index == 0 || bUp.get()).start();
        if (gatewaySessionsOn(managementB) > onBBefore) {
          clients.add(c);
          movedUnder++;
        } else {
          c.close();
        }
      }
      assertThat(movedUnder).as("sessions on B of clients on A").isEqualTo(3);
      for (int i = 0; i < 3; i++) {
        clients.add(new RoamingGatewayClient("bob-b" + i, bob.token(), general, ports, 1,
            index -> index == 0 || bUp.get()).start());
      }
      poster.start();
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (acknowledged.size() < 10 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      long onB = gatewaySessionsOn(managementB);
      assertThat(onB).as("sessions living on node B before it stops").isPositive();

      bUp.set(false);
      long stopping = System.nanoTime();
      b.stop();
      b = null;
      long stopMillis = (System.nanoTime() - stopping) / 1_000_000;
      int before = acknowledged.size();
      deadline = System.nanoTime() + WAIT.toNanos();
      while (acknowledged.size() < before + 10 && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      posting.set(false);
      poster.join(WAIT.toMillis());
      List<String> all = List.copyOf(acknowledged);
      for (RoamingGatewayClient c : clients) {
        assertThat(c.awaitSeen(all, WAIT)).as("%s saw every post", c).isTrue();
      }
      System.out.printf("handover: node B (%d sessions) stopped in %d ms; %d posts acknowledged, "
              + "%d refused; resumes on A answered after %s ms%n", onB, stopMillis, all.size(),
          refused.get(), clients.stream().flatMap(c -> c.resumeMillis.stream()).toList());
      for (RoamingGatewayClient c : clients) {
        assertThat(c.invalidSessions).as("%s identified again", c).isZero();
        assertThat(c.seqProblems).as("%s", c).isEmpty();
        assertThat(c.problems).as("%s", c).isEmpty();
        assertThat(c.seen).as("%s: every post once, in order", c).containsExactlyElementsOf(all);
      }
    } finally {
      posting.set(false);
      clients.forEach(RoamingGatewayClient::close);
    }
  }

  /** GatewaySession entities hosted by the node whose management listens on {@code port}. */
  private static long gatewaySessionsOn(int port) throws Exception {
    java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
        java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port
            + "/cluster/shards/GatewaySession")).timeout(Duration.ofSeconds(10)).build(),
        java.net.http.HttpResponse.BodyHandlers.ofString());
    long entities = 0;
    for (JsonNode region : ApiClient.JSON.readTree(r.body()).path("regions")) {
      entities += region.path("numEntities").asLong();
    }
    return entities;
  }

  private static Config node(Path dir, int http, int artery, int nodeId, String tokenKey,
      Map<String, Object> more) throws Exception {
    Map<String, Object> m = new java.util.HashMap<>(more);
    m.put("pekko.remote.artery.canonical.port", artery);
    m.put("cloister.node-id", nodeId);
    m.put("cloister.auth.token-key", tokenKey);
    m.put("cloister.mls.ds-key", dsKey);
    m.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
    m.put("cloister.auth.login-timeout", LOGIN_TIMEOUT.toMillis() + "ms");
    m.put("cloister.auth.free-failed-logins", 1);
    return ConfigFactory.parseMap(m).withFallback(TestNodes.config(dir, http, TestNodes.freePort()));
  }
}
