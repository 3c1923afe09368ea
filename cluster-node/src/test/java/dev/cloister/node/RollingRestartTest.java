package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * A graceful rolling restart under load: three nodes in JVMs of their own on one PostgreSQL, six
 * gateway clients (two connected to each node, each following the README: on a closed connection
 * it resumes on the next node, on invalid_session it identifies again and reads history) and one
 * poster posting through the nodes in turn, one post after another. Each node in turn gets
 * SIGTERM (coordinated shutdown: its connections closed with 1012, its shards handed off, its
 * sessions saved and restored on the others), is waited for, and is started again (shards, and
 * sessions with them, move back to it). Then every acknowledged post is in the history exactly
 * once, in order; every client saw every acknowledged post once, in order, with no break in its
 * seq; and no client had to identify again. Prints, per restart, the time from SIGTERM until the
 * last client connected to the stopped node had resumed, the stop's duration and the posts
 * refused meanwhile.
 *
 * <p>Starting three JVMs (and each again) takes minutes on a busy 2-core machine, so it runs only
 * with {@code -Dcloister.rolling-restart-test=true}:
 * {@code mvn -B -pl cluster-node -am verify -Dtest=RollingRestartTest -Dsurefire.failIfNoSpecifiedTests=false -Dcloister.rolling-restart-test=true}.
 */
class RollingRestartTest {

  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final int CLIENTS = 6;

  @Test
  void aRollingRestartLosesNoPostAndNoSession() throws Exception {
    Assumptions.assumeTrue(Boolean.getBoolean("cloister.rolling-restart-test"),
        "multi-JVM rolling-restart test: run with -Dcloister.rolling-restart-test=true");
    try (TestCluster cluster = new TestCluster(3, Map.of())) {
      ApiClient first = cluster.node(1).api();
      GatewayEndToEndTest.User alice = GatewayEndToEndTest.user(first, "alice");
      GatewayEndToEndTest.User bob = GatewayEndToEndTest.user(first, "bob");
      JsonNode g = GatewayEndToEndTest.guild(first, alice, bob);
      String channel = g.get("channels").get(0).get("id").asText();
      alice.device().send(first, channel, "warm-up");

      java.util.concurrent.atomic.AtomicIntegerArray down =
          new java.util.concurrent.atomic.AtomicIntegerArray(3);
      int[] ports = cluster.httpPorts();
      List<RoamingGatewayClient> clients = new ArrayList<>();
      List<String> acknowledged = Collections.synchronizedList(new ArrayList<>());
      List<String> acknowledgedLines = Collections.synchronizedList(new ArrayList<>());
      AtomicInteger refused = new AtomicInteger();
      AtomicBoolean posting = new AtomicBoolean(true);
      Thread poster = new Thread(() -> {
        int n = 0;
        while (posting.get()) {
          int node = n % 3;
          if (down.get(node) == 1) {
            n++;
            continue;
          }
          try {
            ApiClient.Response r = alice.device().post(
                new ApiClient("http://127.0.0.1:" + ports[node]), channel, "p" + n);
            if (r.status() == 201) {
              acknowledged.add(r.body().get("id").asText());
              acknowledgedLines.add(r.body().get("id").asText() + " "
                  + r.body().get("ciphertext").asText());
            } else {
              refused.incrementAndGet();
            }
          } catch (Exception e) {
            refused.incrementAndGet();
          }
          n++;
          try {
            Thread.sleep(100);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "poster");
      try {
        for (int i = 0; i < CLIENTS; i++) {
          clients.add(new RoamingGatewayClient("bob-" + i, bob.token(), channel, ports, i % 3,
              index -> down.get(index) == 0).start());
        }
        // Everyone sees the warm-up's successor before the restarts begin.
        poster.start();
        waitForPosts(acknowledged, 5);

        StringBuilder figures = new StringBuilder();
        for (TestCluster.Member m : cluster.nodes) {
          long sessionsThere = cluster.entities("GatewaySession").get(m.index);
          int refusedBefore = refused.get();
          int postsBefore = acknowledged.size();
          down.set(m.index - 1, 1);
          long sigterm = System.nanoTime();
          assertThat(cluster.stop(m, Duration.ofMinutes(2))).as("node %d stopped", m.index)
              .isTrue();
          long stopped = System.nanoTime();
          // The clients that were connected to it have resumed elsewhere.
          long lastResume = sigterm;
          for (RoamingGatewayClient c : clients) {
            if (c.port() == m.http) {
              long deadline = System.nanoTime() + WAIT.toNanos();
              while (c.port() == m.http && System.nanoTime() < deadline) {
                Thread.sleep(50);
              }
            }
          }
          waitForPosts(acknowledged, acknowledged.size() + 5);
          for (RoamingGatewayClient c : clients) {
            for (long at : c.resumedAtNanos) {
              if (at > sigterm) {
                lastResume = Math.max(lastResume, at);
              }
            }
          }
          int refusedWhileDown = refused.get() - refusedBefore;
          cluster.restart(m);
          down.set(m.index - 1, 0);
          long back = System.nanoTime();
          waitForPosts(acknowledged, acknowledged.size() + 10); // shards move back meanwhile
          figures.append(String.format("node %d (%d sessions on it): stopped %.1f s after SIGTERM, "
                  + "its clients resumed %.1f s after SIGTERM; %d posts refused while it was down "
                  + "(%d acknowledged), %d more refused in the 10 posts after its return (%.1f s "
                  + "to start it again)%n", m.index, sessionsThere, (stopped - sigterm) / 1e9,
              (lastResume - sigterm) / 1e9, refusedWhileDown, acknowledged.size() - postsBefore,
              refused.get() - refusedBefore - refusedWhileDown, (back - stopped) / 1e9));
        }
        posting.set(false);
        poster.join(WAIT.toMillis());
        List<String> all = List.copyOf(acknowledged);
        for (RoamingGatewayClient c : clients) {
          assertThat(c.awaitSeen(all, WAIT)).as("%s saw every post", c).isTrue();
        }
        System.out.print("rolling-restart: " + all.size() + " posts acknowledged, " + refused.get()
            + " refused\n" + figures);
        for (RoamingGatewayClient c : clients) {
          System.out.println("rolling-restart: " + c + ", resumes answered after "
              + c.resumeMillis + " ms");
        }

        List<String> history = TestCluster.history(first, channel, alice.token());
        List<String> acknowledgedInHistory = new ArrayList<>(history);
        acknowledgedInHistory.retainAll(acknowledgedLines);
        assertThat(acknowledgedInHistory).as("acknowledged posts in the history, in order, once")
            .containsExactlyElementsOf(acknowledgedLines);
        assertThat(history).as("the history holds each message once").doesNotHaveDuplicates();
        for (RoamingGatewayClient c : clients) {
          assertThat(c.invalidSessions).as("%s identified again", c).isZero();
          assertThat(c.seqProblems).as("%s", c).isEmpty();
          assertThat(c.problems).as("%s", c).isEmpty();
          List<String> seenAcknowledged = new ArrayList<>(c.seen);
          seenAcknowledged.retainAll(all);
          assertThat(seenAcknowledged).as("%s: every acknowledged post once, in order", c)
              .containsExactlyElementsOf(all);
          assertThat(c.seen).as("%s: no message twice", c).doesNotHaveDuplicates();
        }
      } finally {
        posting.set(false);
        clients.forEach(RoamingGatewayClient::close);
      }
    }
  }

  private static void waitForPosts(List<String> acknowledged, int count)
      throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (acknowledged.size() < count && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(acknowledged.size()).as("posts acknowledged").isGreaterThanOrEqualTo(count);
  }
}
