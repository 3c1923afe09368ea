package dev.cloister.node;

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

/**
 * Nodes in JVMs of their own on one PostgreSQL (this JVM's embedded one), for tests that kill,
 * stop and start them: the node-loss and rolling-restart tests. A stop is a SIGTERM, which runs the
 * node's coordinated shutdown (shard handoff) as it would in production; a kill is a SIGKILL.
 */
final class TestCluster implements AutoCloseable {

  private static final String READY = "cloister-cluster-test-node-ready";
  static final Duration START = Duration.ofMinutes(4);

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

  /** One node: its index (1..n), its process (replaced on a restart) and ports. */
  static final class Member {
    final int index;
    final int http;
    final int management;
    final Map<String, String> config;
    volatile Process process;

    Member(int index, Map<String, String> config) {
      this.index = index;
      this.config = config;
      this.http = Integer.parseInt(config.get("cloister.http.port"));
      this.management = Integer.parseInt(config.get("pekko.management.http.port"));
    }

    ApiClient api() {
      return new ApiClient("http://127.0.0.1:" + http);
    }

    boolean alive() {
      return process != null && process.isAlive();
    }
  }

  final Path root;
  final Database db;
  final List<Member> nodes = new ArrayList<>();
  private final int[] artery;

  /** Starts {@code n} nodes; {@code extra} configuration goes to every node. */
  TestCluster(int n, Map<String, String> extra) throws Exception {
    root = Files.createTempDirectory("cloister-cluster");
    Path dbDir = TestNodes.seedDatabase(root.resolve("db"));
    db = Database.start(TestNodes.config(dbDir, 0, 0), dbDir);
    try {
      db.migrate();
      byte[] tokenKey = new byte[32];
      new SecureRandom().nextBytes(tokenKey);
      String dsKey = Base64.getEncoder().encodeToString(
          DeliveryServiceKey.generate("cloister").privateKey());
      artery = new int[n];
      for (int i = 0; i < n; i++) {
        artery[i] = TestNodes.freePort();
      }
      List<CompletableFuture<Void>> starting = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("cloister.data-dir", root.resolve("node-" + (i + 1)).toString());
        c.put("cloister.http.port", Integer.toString(TestNodes.freePort()));
        c.put("pekko.management.http.port", Integer.toString(TestNodes.freePort()));
        c.put("pekko.remote.artery.canonical.port", Integer.toString(artery[i]));
        c.put("cloister.cluster.seed-nodes", seeds(-1));
        c.put("cloister.node-id", Integer.toString(i + 1));
        c.put("cloister.db.url", db.url());
        c.put("cloister.auth.token-key", Base64.getEncoder().encodeToString(tokenKey));
        c.put("cloister.mls.ds-key", dsKey);
        c.put("cloister.metrics.instrument-pekko", "off");
        // SIGTERM runs the coordinated shutdown, as in production (tests in one JVM turn it off).
        c.put("pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "on");
        c.putAll(extra);
        Member m = new Member(i + 1, c);
        nodes.add(m);
        if (i == 0) {
          launch(m); // the first seed forms the cluster; then the others join
        } else {
          starting.add(CompletableFuture.runAsync(() -> {
            try {
              launch(m);
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          }));
        }
      }
      for (CompletableFuture<Void> f : starting) {
        f.get(START.toMillis(), TimeUnit.MILLISECONDS);
      }
    } catch (Exception | Error e) {
      close();
      throw e;
    }
  }

  /** Every node's Artery address, but {@code except}'s (-1: none). */
  private String seeds(int except) {
    StringBuilder seeds = new StringBuilder();
    for (int i = 0; i < artery.length; i++) {
      if (i != except) {
        seeds.append(seeds.length() == 0 ? "" : ",").append("pekko://cloister@127.0.0.1:")
            .append(artery[i]);
      }
    }
    return seeds.toString();
  }

  Member node(int index) {
    return nodes.get(index - 1);
  }

  int[] httpPorts() {
    return nodes.stream().mapToInt(m -> m.http).toArray();
  }

  /** SIGTERM, and waits (at most {@code timeout}) for the process to end; false if it did not. */
  boolean stop(Member m, Duration timeout) throws InterruptedException {
    m.process.destroy();
    return m.process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** SIGKILL: no leaving, no handoff. */
  void kill(Member m) {
    m.process.destroyForcibly();
  }

  /** Starts a stopped node again; it joins through the others (not itself, so as not to form a
   * second cluster on the same database). */
  void restart(Member m) throws Exception {
    m.config.put("cloister.cluster.seed-nodes", seeds(m.index - 1));
    launch(m);
  }

  private void launch(Member m) throws Exception {
    List<String> args = new ArrayList<>();
    m.config.forEach((k, v) -> args.add(k + "=" + v));
    m.process = NodeProcess.launch(NodeMain.class.getName(), args, READY,
        Integer.toString(m.index), START);
  }

  /** Entities of {@code type} per live node, from each node's management. */
  Map<Integer, Long> entities(String type) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    Map<Integer, Long> counts = new HashMap<>();
    for (Member n : nodes) {
      long entities = 0;
      if (n.alive()) {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(
                "http://127.0.0.1:" + n.management + "/cluster/shards/" + type))
            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        for (JsonNode region : ApiClient.JSON.readTree(r.body()).path("regions")) {
          entities += region.path("numEntities").asLong();
        }
      }
      counts.put(n.index, entities);
    }
    return counts;
  }

  /** The channel's history, oldest first, as "id ciphertext" lines, read through {@code via}. */
  static List<String> history(ApiClient via, String channelId, String token) throws Exception {
    List<String> history = new ArrayList<>();
    String before = null;
    while (true) {
      JsonNode page = via.get("/api/v1/channels/" + channelId + "/messages?limit=100"
          + (before == null ? "" : "&before=" + before), token).body();
      if (page.isEmpty()) {
        return history;
      }
      for (JsonNode m : page) {
        // A sender cannot decrypt its own messages (their keys are spent): compare ciphertexts.
        history.add(0, m.get("id").asText() + " " + m.get("ciphertext").asText());
      }
      before = page.get(page.size() - 1).get("id").asText();
    }
  }

  @Override
  public void close() throws Exception {
    for (Member m : nodes) {
      if (m.process != null) {
        m.process.destroy();
      }
    }
    for (Member m : nodes) {
      if (m.process != null && !m.process.waitFor(60, TimeUnit.SECONDS)) {
        m.process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    if (db != null) {
      db.close();
    }
    TestNodes.delete(root);
  }
}
