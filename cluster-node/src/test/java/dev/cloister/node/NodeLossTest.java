package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.node.db.Database;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Three nodes in JVMs of their own on one PostgreSQL (this JVM's embedded one); one client posts
 * to a channel, one message after another, through a node that survives, while the node hosting
 * that channel's entity is killed ({@code SIGKILL}). Every post answered 201 must be in the
 * channel's history exactly once, in the order of the answers; besides them the history holds at
 * most one message per post that got no answer. Prints how long the channel could not take posts.
 *
 * <p>Starting three JVMs takes one to three minutes on a busy 2-core machine, so it runs only with
 * {@code -Dcloister.node-loss-test=true}:
 * {@code mvn -B -pl cluster-node -am verify -Dtest=NodeLossTest -Dsurefire.failIfNoSpecifiedTests=false -Dcloister.node-loss-test=true}.
 */
class NodeLossTest {

  private static final String READY = "cloister-cluster-test-node-ready";
  private static final Duration START = Duration.ofMinutes(4);
  private static final int BEFORE_KILL = 15;
  private static final int AFTER_KILL = 15;

  /** A node of the test cluster: args are {@code key=value} configuration overrides. */
  public static final class NodeMain {
    public static void main(String[] args) throws Exception {
      Map<String, Object> m = new HashMap<>();
      for (String a : args) {
        String[] kv = a.split("=", 2);
        m.put(kv[0], kv[1]);
      }
      Node node = Node.start(ConfigFactory.parseMap(m).withFallback(TestNodes.config(
          Path.of((String) m.get("cloister.data-dir")),
          Integer.parseInt((String) m.get("cloister.http.port")),
          Integer.parseInt((String) m.get("pekko.management.http.port")))));
      System.out.println(READY);
      System.out.flush();
      node.system().getWhenTerminated().toCompletableFuture().join();
    }
  }

  private record Member(int index, Process process, int http, int management) {
    ApiClient api() {
      return new ApiClient("http://127.0.0.1:" + http);
    }
  }

  @Test
  void everyAcknowledgedPostSurvivesTheLossOfTheNodeHoldingItsChannel() throws Exception {
    Assumptions.assumeTrue(Boolean.getBoolean("cloister.node-loss-test"),
        "multi-JVM node-loss test: run with -Dcloister.node-loss-test=true");
    Path root = Files.createTempDirectory("cloister-node-loss");
    Database db = Database.start(TestNodes.config(root.resolve("db"), 0, 0), root.resolve("db"));
    List<Member> nodes = new ArrayList<>();
    try {
      db.migrate();
      byte[] tokenKey = new byte[32];
      new SecureRandom().nextBytes(tokenKey);
      String dsKey = Base64.getEncoder().encodeToString(
          DeliveryServiceKey.generate("cloister").privateKey());
      int[] artery = {TestNodes.freePort(), TestNodes.freePort(), TestNodes.freePort()};
      StringBuilder seeds = new StringBuilder();
      for (int a : artery) {
        seeds.append(seeds.length() == 0 ? "" : ",").append("pekko://cloister@127.0.0.1:").append(a);
      }
      List<CompletableFuture<Member>> starting = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("cloister.data-dir", root.resolve("node-" + (i + 1)).toString());
        c.put("cloister.http.port", Integer.toString(TestNodes.freePort()));
        c.put("pekko.management.http.port", Integer.toString(TestNodes.freePort()));
        c.put("pekko.remote.artery.canonical.port", Integer.toString(artery[i]));
        c.put("cloister.cluster.seed-nodes", seeds.toString());
        c.put("cloister.node-id", Integer.toString(i + 1));
        c.put("cloister.db.url", db.url());
        c.put("cloister.auth.token-key", Base64.getEncoder().encodeToString(tokenKey));
        c.put("cloister.mls.ds-key", dsKey);
        c.put("cloister.metrics.instrument-pekko", "off");
        c.put("cloister.gateway.replica-settle", "0s");
        int index = i + 1;
        if (i == 0) {
          nodes.add(launch(index, c)); // the first seed forms the cluster; then the others join
        } else {
          starting.add(CompletableFuture.supplyAsync(() -> {
            try {
              return launch(index, c);
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          }));
        }
      }
      for (CompletableFuture<Member> f : starting) {
        nodes.add(f.get(START.toMillis(), TimeUnit.MILLISECONDS));
      }

      // The client talks to node 2 only; the victim is the node hosting the channel's entity,
      // so a guild is made until its channel lives elsewhere than on node 2.
      Member via = nodes.get(1);
      MlsTestDevice alice = MlsTestDevice.register(via.api(), "alice");
      String channel = null;
      Member victim = null;
      for (int attempt = 0; attempt < 8 && victim == null; attempt++) {
        Map<Integer, Long> before = textChannels(nodes);
        JsonNode g = via.api().post("/api/v1/guilds", Map.of("name", "loss " + attempt),
            alice.token).body();
        String candidate = null;
        for (JsonNode ch : g.get("channels")) {
          if (ch.path("type").asText().equals("text")) {
            candidate = ch.get("id").asText();
          }
        }
        alice.send(candidate, "warm-up");
        Map<Integer, Long> after = textChannels(nodes);
        for (Member n : nodes) {
          if (after.get(n.index()) > before.get(n.index()) && n != via) {
            victim = n;
            channel = candidate;
          }
        }
      }
      assertThat(victim).as("a channel placed on node 1 or 3").isNotNull();

      List<String> acknowledged = new ArrayList<>();
      List<String> unanswered = new ArrayList<>();
      long killedAt = 0;
      long firstAfterKill = 0;
      int n = 0;
      long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
      while (acknowledged.size() < BEFORE_KILL + AFTER_KILL && System.nanoTime() < deadline) {
        if (killedAt == 0 && acknowledged.size() == BEFORE_KILL) {
          victim.process().destroyForcibly(); // SIGKILL: no leaving, no handoff
          killedAt = System.nanoTime();
        }
        String text = "m-" + n++;
        try {
          ApiClient.Response r = alice.post(via.api(), channel, text);
          if (r.status() == 201) {
            acknowledged.add(r.body().get("id").asText() + " "
                + r.body().get("ciphertext").asText());
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
              + "%d posts acknowledged, %d not%n", victim.index(),
          (firstAfterKill - killedAt) / 1e9, acknowledged.size(), unanswered.size());

      // The history, oldest first, read through the surviving node.
      List<String> history = new ArrayList<>();
      String before = null;
      while (true) {
        JsonNode page = via.api().get("/api/v1/channels/" + channel + "/messages?limit=100"
            + (before == null ? "" : "&before=" + before), alice.token).body();
        if (page.isEmpty()) {
          break;
        }
        for (JsonNode m : page) {
          // A sender cannot decrypt its own messages (their keys are spent): compare ciphertexts.
          history.add(0, m.get("id").asText() + " " + m.get("ciphertext").asText());
        }
        before = page.get(page.size() - 1).get("id").asText();
      }
      List<String> acknowledgedInHistory = new ArrayList<>(history);
      acknowledgedInHistory.retainAll(acknowledged);
      assertThat(acknowledgedInHistory).as("acknowledged posts in the history, in order, once")
          .containsExactlyElementsOf(acknowledged);
      assertThat(history).as("the history holds each message once").doesNotHaveDuplicates();
      // Besides the acknowledged posts: the warm-up, and at most one per unanswered post.
      assertThat(history.size() - acknowledged.size()).as("messages nobody was told were stored")
          .isBetween(1, 1 + unanswered.size());
    } finally {
      for (Member m : nodes) {
        m.process().destroy();
      }
      for (Member m : nodes) {
        if (!m.process().waitFor(30, TimeUnit.SECONDS)) {
          m.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      db.close();
      TestNodes.delete(root);
    }
  }

  /** TextChannel entities per node, from each live node's management. */
  private static Map<Integer, Long> textChannels(List<Member> nodes) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    Map<Integer, Long> counts = new HashMap<>();
    for (Member n : nodes) {
      long entities = 0;
      if (n.process().isAlive()) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + n.management() + "/cluster/shards/TextChannel"))
            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        for (JsonNode region : ApiClient.JSON.readTree(r.body()).path("regions")) {
          entities += region.path("numEntities").asLong();
        }
      }
      counts.put(n.index(), entities);
    }
    return counts;
  }

  private static Member launch(int index, Map<String, String> config) throws Exception {
    List<String> args = new ArrayList<>();
    config.forEach((k, v) -> args.add(k + "=" + v));
    Process p = NodeProcess.launch(NodeMain.class.getName(), args, READY,
        Integer.toString(index), START);
    return new Member(index, p, Integer.parseInt(config.get("cloister.http.port")),
        Integer.parseInt(config.get("pekko.management.http.port")));
  }
}
