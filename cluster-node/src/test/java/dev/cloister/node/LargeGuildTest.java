package dev.cloister.node;

import static dev.cloister.node.GatewayEndToEndTest.guild;
import static dev.cloister.node.GatewayEndToEndTest.post;
import static dev.cloister.node.GatewayEndToEndTest.user;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.cloister.guild.Guild;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.junit.jupiter.api.Test;

/**
 * A guild larger than one Artery frame, on two nodes: the guild's entity lives on one of them,
 * so one node's gateway copy of the guild and one node's REST answers cross the network. Both
 * nodes run with a 32 KiB frame (an eighth of Pekko's default), so that 800 members (about
 * 92 bytes each in the guild's state) are well past it; before the guild's state travelled in
 * parts and its views left members out, the session on the far node never got ready and REST
 * through it timed out.
 *
 * <p>{@code -Dcloister.large-guild.members=20000} runs it with 20,000 members (a few minutes).
 */
class LargeGuildTest {

  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final int MEMBERS = Integer.getInteger("cloister.large-guild.members", 800);

  @Test
  void aGuildLargerThanAFrameIsServedThroughEitherNode() throws Exception {
    Path dirA = TestNodes.dataDir("cloister-large-a");
    Path dirB = Files.createTempDirectory("cloister-large-b");
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
      String guildId = g.get("id").asText();
      String general = g.get("channels").get(0).get("id").asText();
      String code = apiA.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), alice.token())
          .body().get("code").asText();

      ClusterSharding sharding = ClusterSharding.get(a.system());
      // 600 invites, before the members (each guild event makes the roster driver ask every
      // member's devices): a view or list of them is bounded but larger than a frame.
      List<CompletableFuture<Guild.GuildView>> invites = new ArrayList<>();
      for (int i = 0; i < 600; i++) {
        String invite = "many" + i;
        invites.add(sharding.entityRefFor(Guild.ENTITY_KEY, guildId)
            .<Guild.GuildView>askWithStatus(r -> new Guild.Act(alice.id(),
                new Guild.CreateInvite(invite, 0, 0), System.currentTimeMillis(), r), WAIT)
            .toCompletableFuture());
      }
      CompletableFuture.allOf(invites.toArray(CompletableFuture[]::new)).get();
      // Members without accounts, joined straight through the guild entity (registering
      // thousands of accounts over SRP would take minutes and prove nothing more here).
      long t0 = System.nanoTime();
      List<String> joined = new ArrayList<>();
      for (int from = 0; from < MEMBERS; from += 500) {
        List<CompletableFuture<Guild.GuildView>> joins = new ArrayList<>();
        for (int i = from; i < Math.min(MEMBERS, from + 500); i++) {
          String userId = Long.toString(900_000_000_000L + i);
          joined.add(userId);
          joins.add(sharding.entityRefFor(Guild.ENTITY_KEY, guildId)
              .<Guild.GuildView>askWithStatus(r -> new Guild.Act(userId,
                  new Guild.AcceptInvite(code), System.currentTimeMillis(), r), WAIT)
              .toCompletableFuture());
        }
        CompletableFuture.allOf(joins.toArray(CompletableFuture[]::new)).get();
      }
      System.out.printf("LargeGuildTest: %d members joined in %.1f s%n", MEMBERS,
          (System.nanoTime() - t0) / 1e9);
      int total = MEMBERS + 2;
      // The guild's state is larger than a frame: the test means something.
      assertThat(MEMBERS * 92).isGreaterThan(32 * 1024 * 2);

      // A session on each node: one of the two copies of the guild came across the network.
      long t1 = System.nanoTime();
      try (GatewayClient aliceOnA = GatewayClient.identify(httpA, alice.token());
          GatewayClient bobOnB = GatewayClient.identify(httpB, bob.token())) {
        for (var pair : List.of(Map.entry(aliceOnA, alice), Map.entry(bobOnB, bob))) {
          JsonNode ready = pair.getKey().until(f -> "ready".equals(f.path("op").asText()), WAIT);
          JsonNode rg = ready.at("/d/guilds").get(0);
          assertThat(rg.get("id").asText()).isEqualTo(guildId);
          assertThat(rg.get("memberCount").asInt()).isEqualTo(total);
          assertThat(rg.get("large").asBoolean()).isTrue();
          // a large guild's ready carries only your own member
          assertThat(rg.get("members")).hasSize(1);
          assertThat(rg.get("members").get(0).get("userId").asText())
              .isEqualTo(pair.getValue().id());
        }

        System.out.printf("LargeGuildTest: both sessions ready %.1f s after identify%n",
            (System.nanoTime() - t1) / 1e9);
        // REST through either node: the view carries the count, the members come in pages.
        for (ApiClient api : List.of(apiA, apiB)) {
          long t2 = System.nanoTime();
          var view = api.get("/api/v1/guilds/" + guildId, bob.token());
          assertThat(view.status()).isEqualTo(200);
          assertThat(view.body().get("memberCount").asInt()).isEqualTo(total);
          assertThat(view.body().has("memberIds")).isFalse();
          List<String> ids = allMembers(api, guildId, bob.token());
          System.out.printf("LargeGuildTest: %d members paged in %.2f s%n", ids.size(),
              (System.nanoTime() - t2) / 1e9);
          assertThat(ids).hasSize(total).doesNotHaveDuplicates()
              .contains(alice.id(), bob.id()).containsAll(joined);
          for (int i = 1; i < ids.size(); i++) {
            assertThat(new java.math.BigInteger(ids.get(i)))
                .isGreaterThan(new java.math.BigInteger(ids.get(i - 1)));
          }
        }

        // Both copies follow the guild: a post and a member's new nickname reach both sessions.
        String posted = post(apiB, general, "to a large guild", alice);
        assertThat(aliceOnA.dispatch("MESSAGE_CREATE", WAIT).at("/d/id").asText()).isEqualTo(posted);
        assertThat(bobOnB.dispatch("MESSAGE_CREATE", WAIT).at("/d/id").asText()).isEqualTo(posted);
        String renamed = joined.get(MEMBERS / 2);
        var nick = apiB.call("PATCH", "/api/v1/guilds/" + guildId + "/members/" + renamed,
            "{\"nickname\":\"Middle\"}", alice.token());
        assertThat(nick.status()).isEqualTo(200);
        assertThat(nick.body().get("userId").asText()).isEqualTo(renamed);
        assertThat(nick.body().get("nickname").asText()).isEqualTo("Middle");
        for (GatewayClient c : List.of(aliceOnA, bobOnB)) {
          JsonNode update = c.dispatch("GUILD_MEMBER_UPDATE", WAIT);
          assertThat(update.at("/d/userId").asText()).isEqualTo(renamed);
          assertThat(update.at("/d/nickname").asText()).isEqualTo("Middle");
        }
      }

      // The guild's audience (every member, for the encryption groups' rosters) comes whole to
      // either node: from one of them it crosses the network, in parts of a quarter frame (at
      // 800 members, 3 of them; above about 1,500 members it is larger than a frame).
      for (Node n : List.of(a, b)) {
        var entity = ClusterSharding.get(n.system()).entityRefFor(Guild.ENTITY_KEY, guildId);
        var plan = dev.cloister.guild.Parts.ask(n.system(),
                r -> entity.tell(new Guild.GetAudience(r)),
                dev.cloister.guild.group.Audience.Plan.class, WAIT)
            .toCompletableFuture().get();
        assertThat(plan.groups().get(0).userIds()).hasSize(total).containsAll(joined);
      }

      // An answer larger than a frame but bounded (600 invites, about 40 KB) comes over Artery's
      // large-message stream, through either node.
      for (ApiClient api : List.of(apiA, apiB)) {
        var listed = api.get("/api/v1/guilds/" + guildId + "/invites", alice.token());
        assertThat(listed.status()).isEqualTo(200);
        assertThat(listed.body()).hasSize(602);
      }

      // Bans come in pages too, and only to BAN_MEMBERS. (Banned through the entity: REST's ban
      // also takes the guild out of the user's account, which these members do not have.)
      for (int i = 0; i < 3; i++) {
        String banned = joined.get(i);
        sharding.entityRefFor(Guild.ENTITY_KEY, guildId)
            .<Guild.GuildView>askWithStatus(r -> new Guild.Act(alice.id(),
                new Guild.BanMember(banned), System.currentTimeMillis(), r), WAIT)
            .toCompletableFuture().get();
      }
      var firstTwo = apiB.get("/api/v1/guilds/" + guildId + "/bans?limit=2", alice.token());
      assertThat(firstTwo.status()).isEqualTo(200);
      assertThat(firstTwo.body()).hasSize(2);
      var rest = apiB.get("/api/v1/guilds/" + guildId + "/bans?limit=2&after="
          + firstTwo.body().get(1).get("userId").asText(), alice.token());
      assertThat(rest.body()).hasSize(1);
      assertThat(rest.body().get(0).get("userId").asText()).isEqualTo(joined.get(2));
      assertThat(apiB.get("/api/v1/guilds/" + guildId + "/bans", bob.token()).status())
          .isEqualTo(403);

      // Bad page parameters are refused, not guessed at.
      for (String q : List.of("limit=0", "limit=1001", "limit=ten", "after=bob", "after=-1")) {
        var bad = apiB.get("/api/v1/guilds/" + guildId + "/members?" + q, bob.token());
        assertThat(bad.status()).as(q).isEqualTo(400);
        assertThat(bad.body().get("code").asText()).as(q).isEqualTo("invalid");
      }
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

  /** Every member id, a page of at most 1,000 at a time. */
  private static List<String> allMembers(ApiClient api, String guildId, String token)
      throws Exception {
    List<String> ids = new ArrayList<>();
    String after = null;
    while (true) {
      var page = api.get("/api/v1/guilds/" + guildId + "/members?limit=1000"
          + (after == null ? "" : "&after=" + after), token);
      assertThat(page.status()).isEqualTo(200);
      page.body().forEach(m -> ids.add(m.get("userId").asText()));
      if (page.body().size() < 1000) {
        return ids;
      }
      after = ids.get(ids.size() - 1);
    }
  }

  private static Config node(Path dir, int http, int artery, int nodeId, String tokenKey,
      Map<String, Object> more) throws Exception {
    Map<String, Object> m = new HashMap<>(more);
    m.put("pekko.remote.artery.canonical.port", artery);
    m.put("pekko.remote.artery.advanced.maximum-frame-size", "32KiB");
    m.put("cloister.node-id", nodeId);
    m.put("cloister.auth.token-key", tokenKey);
    m.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
    return ConfigFactory.parseMap(m).withFallback(TestNodes.config(dir, http, TestNodes.freePort()));
  }
}
