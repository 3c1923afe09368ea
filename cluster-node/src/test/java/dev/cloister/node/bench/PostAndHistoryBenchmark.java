package dev.cloister.node.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.ApiClient;
import dev.cloister.node.MlsTestDevice;
import dev.cloister.node.Node;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Load driver, not a test: posts messages through the HTTP API with concurrent clients until a
 * channel holds {@code bench.messages} (default 100,000; with {@code bench.channels} above 1 the
 * clients share that many channels of one guild), printing posts persisted per second and
 * post latency percentiles, then pages history at random points of the full channel and prints
 * page latency percentiles. Runs its own node (embedded PostgreSQL in a temp dir) unless
 * {@code bench.url} names a running one.
 *
 * <pre>
 * mvn -B -q install -DskipTests
 * mvn -B -q -pl cluster-node exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=dev.cloister.node.bench.PostAndHistoryBenchmark [-Dbench.messages=100000] \
 *   [-Dbench.clients=32] [-Dbench.channels=1]
 * </pre>
 */
public final class PostAndHistoryBenchmark {


  public static void main(String[] args) {
    BenchMain.runAndExit(() -> benchmark(args));
  }

  private static void benchmark(String[] args) throws Exception {
    int total = Integer.getInteger("bench.messages", 100_000);
    int clients = Integer.getInteger("bench.clients", 32);
    int pages = Integer.getInteger("bench.pages", 2_000);
    int channels = Integer.getInteger("bench.channels", 1);
    String url = System.getProperty("bench.url");
    Node node = null;
    Path dir = null;
    if (url == null) {
      dir = Files.createTempDirectory("cloister-bench");
      node = Node.start(ConfigFactory.parseMap(Map.of(
              "cloister.data-dir", dir.toString(), "cloister.http.host", "127.0.0.1",
              "cloister.http.port", 0, "pekko.remote.artery.canonical.port", 0,
              "pekko.management.http.port", 0,
              // one client address sends everything: lift the per-IP REST limit
              "cloister.rate-limits.rest-per-ip.burst", 1_000_000,
              "cloister.rate-limits.rest-per-ip.per-second", 1_000_000))
          .withFallback(ConfigFactory.load()));
      url = "http://127.0.0.1:" + node.httpAddress().getPort();
    }
    try {
      run(url, total, clients, pages, channels,
          node == null ? null : new Costs(node.databaseUrl(), dir.resolve("postgres")));
    } finally {
      if (node != null) {
        node.stop();
        try (var files = Files.walk(dir)) {
          files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  private static void run(String base, int total, int clients, int pages, int channels,
      Costs costs) throws Exception {
    String user = "bench" + System.nanoTime() % 1_000_000;
    // Several nodes (bench.url=URL,URL,...): client c posts through node c % nodes.
    List<ApiClient> nodes = Arrays.stream(base.split(",")).map(String::strip)
        .map(ApiClient::new).toList();
    ApiClient api = nodes.get(0);
    api.register(user, "pw");
    String token = api.token(user, "pw");
    JsonNode guild = api.call("POST", "/api/v1/guilds", "{\"name\":\"Bench\"}", token).body();
    String channel = guild.get("channels").get(0).get("id").asText();
    String post = "/api/v1/channels/" + channel + "/messages";
    // With several channels (of one guild, so one encryption group), client c posts to channel
    // c % channels; history is read from the first.
    List<String> targets = new ArrayList<>(List.of(post));
    for (int c = 1; c < channels; c++) {
      targets.add("/api/v1/channels/" + api.call("POST", "/api/v1/guilds/"
          + guild.get("id").asText() + "/channels", "{\"name\":\"bench-" + c
          + "\",\"type\":\"text\"}", token).body().get("id").asText() + "/messages");
    }
    // Real MLS messages (a 160-byte text each), sealed ahead: the run measures the server.
    MlsTestDevice device = MlsTestDevice.enroll(api, token, guild.get("ownerId").asText());
    device.send(channel, "warm the group");
    List<String> bodies = new ArrayList<>(total);
    SecureRandom random0 = new SecureRandom();
    for (int i = 0; i < total - 1; i++) {
      byte[] text = new byte[120];
      random0.nextBytes(text);
      bodies.add("{\"ciphertext\":\"" + MlsTestDevice.b64(device.encrypt(channel,
          Base64.getEncoder().encodeToString(text))) + "\"}");
    }

    System.out.printf("cores: %d, nodes: %d, clients: %d, channels: %d, messages: %d, MLS "
            + "ciphertext: %d bytes%n", Runtime.getRuntime().availableProcessors(), nodes.size(),
        clients, channels, total,
        bodies.get(0).length() * 3 / 4);
    int warmup = Math.min(2_000, total / 10);
    post(nodes, targets, bodies.subList(0, warmup), token, clients);
    Costs.Snapshot before = costs == null ? null : costs.snapshot();
    long[] latencies = post(nodes, targets, bodies.subList(warmup, total - 1), token, clients);
    Costs.Snapshot after = costs == null ? null : costs.snapshot();
    // latencies[0] carries the wall time of the run.
    long wallNanos = latencies[0];
    long[] l = Arrays.copyOfRange(latencies, 1, latencies.length);
    Arrays.sort(l);
    System.out.printf("posts: %d in %.1f s = %.0f posts/s persisted; latency p50 %.2f ms, "
            + "p99 %.2f ms, max %.2f ms%n", l.length, wallNanos / 1e9, l.length / (wallNanos / 1e9),
        pct(l, 50), pct(l, 99), l[l.length - 1] / 1e6);
    if (costs != null) {
      // Less at the mercy of other load on the machine than posts per second.
      int n = l.length;
      System.out.printf("per post: %.2f PostgreSQL commits, %.2f WAL flushes, %.2f ms CPU (this "
              + "JVM, clients included, %.2f; PostgreSQL %.2f)%n",
          (after.commits() - before.commits()) / (double) n,
          (after.walSyncs() - before.walSyncs()) / (double) n,
          (after.jvmCpuNanos() - before.jvmCpuNanos() + after.pgCpuNanos() - before.pgCpuNanos())
              / 1e6 / n, (after.jvmCpuNanos() - before.jvmCpuNanos()) / 1e6 / n,
          (after.pgCpuNanos() - before.pgCpuNanos()) / 1e6 / n);
    }

    // The first read waits until the read model holds all of them.
    long t0 = System.nanoTime();
    JsonNode newest = api.call("GET", post + "?limit=100", null, token).body();
    System.out.printf("read model caught up %.0f ms after the last post%n",
        (System.nanoTime() - t0) / 1e6);
    long newestId = Long.parseLong(newest.get(0).get("id").asText());
    long[] pageLatency = new long[pages];
    SecureRandom random = new SecureRandom();
    long oldest = Long.parseLong(api.call("GET", post + "?after=1&limit=1", null, token).body()
        .get(0).get("id").asText());
    for (int i = 0; i < pages; i++) {
      long cursor = oldest + (long) (random.nextDouble() * (newestId - oldest));
      String q = (i % 2 == 0 ? "?before=" : "?after=") + cursor + "&limit=100";
      long s = System.nanoTime();
      ApiClient.Response r = api.call("GET", post + q, null, token);
      pageLatency[i] = System.nanoTime() - s;
      if (r.status() != 200) {
        throw new IllegalStateException("history page failed: " + r.status());
      }
    }
    Arrays.sort(pageLatency);
    System.out.printf("history pages of 100 at random points of a %d-message channel "
            + "(one client): p50 %.2f ms, p99 %.2f ms%n", POSTED.get(post).sum() + 1,
        pct(pageLatency, 50), pct(pageLatency, 99));
    int count = 0;
    String cursor = null;
    long s = System.nanoTime();
    while (true) {
      JsonNode page = api.call("GET", post + "?limit=100" + (cursor == null ? "" : "&before="
          + cursor), null, token).body();
      if (page.isEmpty()) {
        break;
      }
      count += page.size();
      cursor = page.get(page.size() - 1).get("id").asText();
    }
    System.out.printf("paged back through all %d messages in %.1f s%n", count,
        (System.nanoTime() - s) / 1e9);
    long expected = POSTED.get(post).sum() + 1; // and "warm the group"
    if (count != expected) {
      throw new IllegalStateException("expected " + expected + " messages, read " + count);
    }
  }

  /** Posts {@code n} messages from {@code clients} threads; element 0 is the wall time. */
  static long[] post(List<ApiClient> nodes, List<String> paths, List<String> bodies,
      String token, int clients) throws Exception {
    int n = bodies.size();
    long[] latencies = new long[n + 1];
    AtomicInteger next = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    long start = System.nanoTime();
    List<Future<?>> futures = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      String path = paths.get(c % paths.size());
      ApiClient api = nodes.get(c % nodes.size());
      futures.add(pool.submit(() -> {
        int i;
        while ((i = next.getAndIncrement()) < n) {
          long s = System.nanoTime();
          ApiClient.Response r = api.call("POST", path, bodies.get(i), token);
          latencies[i + 1] = System.nanoTime() - s;
          if (r.status() != 201) {
            throw new IllegalStateException("post failed: " + r.status() + " " + r.body());
          }
          POSTED.computeIfAbsent(path, p -> new LongAdder()).increment();
        }
        return null;
      }));
    }
    for (Future<?> f : futures) {
      f.get();
    }
    latencies[0] = System.nanoTime() - start;
    pool.shutdown();
    return latencies;
  }

  /**
   * What posting costs the embedded PostgreSQL and the machine: commits and WAL flushes from its
   * statistics, CPU of this JVM and of the server's processes (Linux /proc, 100 ticks/s).
   */
  record Costs(String jdbcUrl, Path pgData) {
    record Snapshot(long commits, long walSyncs, long jvmCpuNanos, long pgCpuNanos) {}

    Snapshot snapshot() throws Exception {
      long commits;
      long walSyncs;
      try (java.sql.Connection c = java.sql.DriverManager.getConnection(jdbcUrl, "postgres", "");
          java.sql.Statement st = c.createStatement()) {
        st.execute("SELECT pg_stat_clear_snapshot()");
        try (java.sql.ResultSet rs = st.executeQuery("SELECT (SELECT xact_commit FROM "
            + "pg_stat_database WHERE datname = current_database()), (SELECT wal_sync FROM "
            + "pg_stat_wal)")) {
          rs.next();
          commits = rs.getLong(1);
          walSyncs = rs.getLong(2);
        }
      }
      long jvm = ((com.sun.management.OperatingSystemMXBean)
          java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
      long postmaster = Long.parseLong(Files.readAllLines(pgData.resolve("postmaster.pid")).get(0)
          .strip());
      long ticks = ticks(postmaster, true);
      for (ProcessHandle p : ProcessHandle.of(postmaster).orElseThrow().descendants().toList()) {
        ticks += ticks(p.pid(), false);
      }
      return new Snapshot(commits, walSyncs, jvm, ticks * 10_000_000L);
    }

    /** utime + stime (and the reaped children's, for the postmaster). */
    private static long ticks(long pid, boolean withChildren) {
      try {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long t = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        return withChildren ? t + Long.parseLong(f[13]) + Long.parseLong(f[14]) : t;
      } catch (Exception e) {
        return 0; // the process has gone
      }
    }
  }

  /** Posts acknowledged per channel. */
  private static final Map<String, LongAdder> POSTED = new ConcurrentHashMap<>();

  static double pct(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * p / 100.0) - 1)] / 1e6;
  }
}
