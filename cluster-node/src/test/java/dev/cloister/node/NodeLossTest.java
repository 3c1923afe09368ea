package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Three nodes in JVMs of their own on one PostgreSQL (this JVM's embedded one); one client posts
 * to a channel, one message after another, through a node that survives, while the node hosting
 * that channel's entity is killed ({@code SIGKILL}). Every post answered 201 must be in the
 * channel's history exactly once, in the order of the answers; besides them the history holds at
 * most one message per post that got no answer. Six gateway clients, two connected to each node,
 * follow the README (on a closed connection they resume on the next node, on invalid_session they
 * identify again and read history): each must end with every acknowledged post once, in order.
 * A session that lived on the killed node is gone (nothing was saved: a kill gives no handoff), so
 * its client identifies again; the test counts those. Prints how long the channel could not take
 * posts. A member whose only session lived on the killed node turns offline for the others once
 * the node is out of the cluster (the killed node cannot say so itself).
 *
 * <p>Starting three JVMs takes one to three minutes on a busy 2-core machine, so it runs only with
 * {@code -Dcloister.node-loss-test=true}:
 * {@code mvn -B -pl cluster-node -am verify -Dtest=NodeLossTest -Dsurefire.failIfNoSpecifiedTests=false -Dcloister.node-loss-test=true}.
 */
class NodeLossTest {

  private static final int BEFORE_KILL = 15;
  private static final int AFTER_KILL = 15;
  private static final Duration WAIT = Duration.ofSeconds(60);

  @Test
  void everyAcknowledgedPostSurvivesTheLossOfTheNodeHoldingItsChannel() throws Exception {
    Assumptions.assumeTrue(Boolean.getBoolean("cloister.node-loss-test"),
        "multi-JVM node-loss test: run with -Dcloister.node-loss-test=true");
    try (TestCluster cluster = new TestCluster(3, Map.of())) {
      List<TestCluster.Member> nodes = cluster.nodes;
      // The client talks to node 2 only; the victim is the node hosting the channel's entity,
      // so a guild is made until its channel lives elsewhere than on node 2.
      TestCluster.Member via = nodes.get(1);
      GatewayEndToEndTest.User alice = GatewayEndToEndTest.user(via.api(), "alice");
      GatewayEndToEndTest.User bob = GatewayEndToEndTest.user(via.api(), "bob");
      GatewayEndToEndTest.User carol = GatewayEndToEndTest.user(via.api(), "carol");
      String channel = null;
      TestCluster.Member victim = null;
      for (int attempt = 0; attempt < 8 && victim == null; attempt++) {
        Map<Integer, Long> before = cluster.entities("TextChannel");
        JsonNode g = GatewayEndToEndTest.guild(via.api(), alice, bob, carol);
        String candidate = null;
        for (JsonNode ch : g.get("channels")) {
          if (ch.path("type").asText().equals("text")) {
            candidate = ch.get("id").asText();
          }
        }
        alice.device().send(via.api(), candidate, "warm-up");
        Map<Integer, Long> after = cluster.entities("TextChannel");
        for (TestCluster.Member n : nodes) {
          if (after.get(n.index) > before.get(n.index) && n != via) {
            victim = n;
            channel = candidate;
          }
        }
      }
      assertThat(victim).as("a channel placed on node 1 or 3").isNotNull();

      TestCluster.Member killed = victim;
      int[] ports = cluster.httpPorts();
      List<RoamingGatewayClient> clients = new ArrayList<>();
      List<GatewayClient> watching = new ArrayList<>();
      try {
        // Presence: alice watches from a session on a survivor; carol's only session lives on
        // the victim. Sessions are sharded: connect until they are where they should be, and
        // wait for each of carol's to be told, so that the victim's is the last word on her.
        GatewayClient alicesView = null;
        for (int i = 0; alicesView == null && i < 40; i++) {
          long before = cluster.entities("GatewaySession").get(killed.index);
          GatewayClient cl = GatewayClient.identify(via.http, alice.token());
          watching.add(cl);
          cl.ready();
          if (cluster.entities("GatewaySession").get(killed.index) == before) {
            alicesView = cl;
          }
        }
        assertThat(alicesView).as("a session of alice's on a survivor").isNotNull();
        boolean onVictim = false;
        for (int i = 0; !onVictim && i < 40; i++) {
          long before = cluster.entities("GatewaySession").get(killed.index);
          GatewayClient cl = GatewayClient.identify(via.http, carol.token());
          watching.add(cl);
          cl.ready();
          onVictim = cluster.entities("GatewaySession").get(killed.index) > before;
          if (!onVictim) {
            cl.close();
          }
          String status = onVictim ? "online" : "offline";
          alicesView.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
              && f.at("/d/userId").asText().equals(carol.id())
              && f.at("/d/status").asText().equals(status), WAIT);
        }
        assertThat(onVictim).as("a session of carol's on the victim").isTrue();

        for (int i = 0; i < 6; i++) {
          clients.add(new RoamingGatewayClient("bob-" + i, bob.token(), channel, ports, i % 3,
              index -> nodes.get(index) != killed || killed.alive()).start());
        }
        List<String> acknowledged = new ArrayList<>();
        List<String> acknowledgedIds = new ArrayList<>();
        List<String> unanswered = new ArrayList<>();
        long killedAt = 0;
        long firstAfterKill = 0;
        int n = 0;
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (acknowledged.size() < BEFORE_KILL + AFTER_KILL && System.nanoTime() < deadline) {
          if (killedAt == 0 && acknowledged.size() == BEFORE_KILL) {
            cluster.kill(victim); // SIGKILL: no leaving, no handoff
            killedAt = System.nanoTime();
          }
          String text = "m-" + n++;
          try {
            ApiClient.Response r = alice.device().post(via.api(), channel, text);
            if (r.status() == 201) {
              acknowledged.add(r.body().get("id").asText() + " "
                  + r.body().get("ciphertext").asText());
              acknowledgedIds.add(r.body().get("id").asText());
              if (killedAt != 0 && firstAfterKill == 0) {
                firstAfterKill = System.nanoTime();
              }
            } else {
              unanswered.add(text);
            }
          } catch (java.io.IOException e) {
            unanswered.add(text);
          }
        }
        assertThat(acknowledged).as("posts acknowledged (of %d tried)", n)
            .hasSize(BEFORE_KILL + AFTER_KILL);
        System.out.printf("node-loss: node %d killed; its channel took posts again after %.1f s; "
                + "%d posts acknowledged, %d not%n", victim.index,
            (firstAfterKill - killedAt) / 1e9, acknowledged.size(), unanswered.size());

        // The history, oldest first, read through the surviving node.
        List<String> history = TestCluster.history(via.api(), channel, alice.token());
        List<String> acknowledgedInHistory = new ArrayList<>(history);
        acknowledgedInHistory.retainAll(acknowledged);
        assertThat(acknowledgedInHistory).as("acknowledged posts in the history, in order, once")
            .containsExactlyElementsOf(acknowledged);
        assertThat(history).as("the history holds each message once").doesNotHaveDuplicates();
        // Besides the acknowledged posts: the warm-up, and at most one per unanswered post.
        assertThat(history.size() - acknowledged.size()).as("messages nobody was told were stored")
            .isBetween(1, 1 + unanswered.size());

        // Every gateway client has every acknowledged post, once and in order, whether it resumed
        // or identified again and read the history.
        for (RoamingGatewayClient c : clients) {
          assertThat(c.awaitSeen(acknowledgedIds, WAIT)).as("%s saw every post", c).isTrue();
        }
        for (RoamingGatewayClient c : clients) {
          System.out.println("node-loss: " + c + ", resumes answered after " + c.resumeMillis
              + " ms");
        }

        // Carol's session died with the victim, which could not say so: the survivors do, once
        // the victim is out of the cluster.
        alicesView.until(f -> "PRESENCE_UPDATE".equals(f.path("t").asText())
            && f.at("/d/userId").asText().equals(carol.id())
            && f.at("/d/status").asText().equals("offline"), WAIT);
        System.out.printf("node-loss: carol (on the killed node) offline for alice at most %.1f s "
            + "after the kill%n", (System.nanoTime() - killedAt) / 1e9);
        for (RoamingGatewayClient c : clients) {
          assertThat(c.problems).as("%s", c).isEmpty();
          assertThat(c.seqProblems).as("%s", c).isEmpty();
          List<String> seenAcknowledged = new ArrayList<>(c.seen);
          seenAcknowledged.retainAll(acknowledgedIds);
          assertThat(seenAcknowledged).as("%s: every acknowledged post once, in order", c)
              .containsExactlyElementsOf(acknowledgedIds);
          assertThat(c.seen).as("%s: no message twice", c).doesNotHaveDuplicates();
        }
      } finally {
        watching.forEach(GatewayClient::abort);
        clients.forEach(RoamingGatewayClient::close);
      }
    }
  }
}
