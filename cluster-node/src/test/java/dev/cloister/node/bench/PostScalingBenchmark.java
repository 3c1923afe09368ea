package dev.cloister.node.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.ApiClient;
import dev.cloister.node.MlsTestDevice;
import dev.cloister.node.Node;
import java.awt.Color;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Load driver, not a test: durable posts per second against concurrent clients, each step beside
 * the machine's own durable commit rate measured in the same run. For each client count of
 * {@code bench.clients} (default 1,2,4,...,256) it first runs {@code pgbench} (Debian's
 * postgresql client) against the node's own embedded PostgreSQL (same disk, same durability: one
 * 200-byte-row INSERT per transaction, {@code bench.ceilingSeconds}, default 10), then has that
 * many clients post real MLS messages through the HTTP API to {@code bench.channels} (default 8)
 * channels of one guild; prints one row per step (posts/s, the ceiling, the ratio, latency, CPU
 * and commits per post) and, with {@code -Dbench.png=FILE}, draws the curve.
 *
 * <pre>
 * mvn -B -q install -DskipTests
 * mvn -B -q -pl cluster-node exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=dev.cloister.node.bench.PostScalingBenchmark [-Dbench.clients=1,8,32] \
 *   [-Dbench.png=docs/posts-scaling.png]
 * </pre>
 *
 * <p>The embedded PostgreSQL takes at most {@code max_connections} (60) sessions, eight of them
 * the node's pool: pgbench runs with at most 40 clients, which is past where its rate stops
 * growing on this machine; the row says how many it used.
 */
public final class PostScalingBenchmark {

  private record Row(int clients, int pgbenchClients, double ceiling, double postsPerSecond,
      double p50, double p99, double cpuMsPerPost, double commitsPerPost) {
    double ratio() {
      return postsPerSecond / ceiling;
    }
  }

  public static void main(String[] args) {
    BenchMain.runAndExit(() -> benchmark(args));
  }

  private static void benchmark(String[] args) throws Exception {
    int[] steps = Arrays.stream(System.getProperty("bench.clients", "1,2,4,8,16,32,64,128,256")
        .split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
    int channels = Integer.getInteger("bench.channels", 8);
    int ceilingSeconds = Integer.getInteger("bench.ceilingSeconds", 10);
    String png = System.getProperty("bench.png");
    String pgbench = System.getProperty("bench.pgbench", "/usr/bin/pgbench");
    if (!Files.isExecutable(Path.of(pgbench))) {
      throw new IllegalStateException(pgbench + " not found: apt-get install postgresql-client "
          + "(or -Dbench.pgbench=PATH)");
    }
    Path dir = Files.createTempDirectory("cloister-post-scaling");
    Node node = Node.start(ConfigFactory.parseMap(Map.of(
            "cloister.data-dir", dir.toString(), "cloister.http.host", "127.0.0.1",
            "cloister.http.port", 0, "pekko.remote.artery.canonical.port", 0,
            "pekko.management.http.port", 0,
            // one client address sends everything: lift the per-IP REST limit
            "cloister.rate-limits.rest-per-ip.burst", 1_000_000,
            "cloister.rate-limits.rest-per-ip.per-second", 1_000_000))
        .withFallback(ConfigFactory.load()));
    String loadAtStart = loadAverage();
    try {
      String base = "http://127.0.0.1:" + node.httpAddress().getPort();
      ApiClient api = new ApiClient(base);
      String user = "scaling" + System.nanoTime() % 1_000_000;
      api.register(user, "pw");
      String token = api.token(user, "pw");
      JsonNode guild = api.call("POST", "/api/v1/guilds", "{\"name\":\"Scaling\"}", token).body();
      String first = guild.get("channels").get(0).get("id").asText();
      List<String> targets = new ArrayList<>(List.of(first));
      for (int c = 1; c < channels; c++) {
        targets.add(api.call("POST", "/api/v1/guilds/" + guild.get("id").asText() + "/channels",
            "{\"name\":\"scaling-" + c + "\",\"type\":\"text\"}", token).body().get("id").asText());
      }
      MlsTestDevice device = MlsTestDevice.enroll(api, token, guild.get("ownerId").asText());
      device.send(first, "warm the group");
      PostAndHistoryBenchmark.Costs costs = new PostAndHistoryBenchmark.Costs(node.databaseUrl(),
          dir.resolve("postgres"));
      Pgbench ceiling = new Pgbench(pgbench, node.databaseUrl(), dir);
      System.out.printf("cores: %d, channels: %d, MLS messages of a 120-byte text, load average "
          + "%s%n", Runtime.getRuntime().availableProcessors(), channels, loadAtStart);
      // Warm-up: the JIT, the journal's batches and the connections, before any step counts.
      post(api, device, targets, token, 32, 2_000);
      List<Row> rows = new ArrayList<>();
      System.out.printf("%8s %9s %12s %10s %7s %9s %9s %12s %14s%n", "clients", "pgbench c",
          "ceiling tx/s", "posts/s", "ratio", "p50 ms", "p99 ms", "CPU ms/post", "commits/post");
      for (int clients : steps) {
        int pgClients = Math.min(clients, 40);
        double tps = ceiling.run(pgClients, ceilingSeconds);
        int n = Math.max(1_000, Math.min(6_000, clients * 200));
        List<String> bodies = bodies(device, targets.get(0), n);
        PostAndHistoryBenchmark.Costs.Snapshot before = costs.snapshot();
        long[] lat = PostAndHistoryBenchmark.post(List.of(api), paths(targets), bodies, token,
            clients);
        PostAndHistoryBenchmark.Costs.Snapshot after = costs.snapshot();
        long wall = lat[0];
        long[] l = Arrays.copyOfRange(lat, 1, lat.length);
        Arrays.sort(l);
        Row row = new Row(clients, pgClients, tps, n / (wall / 1e9),
            PostAndHistoryBenchmark.pct(l, 50), PostAndHistoryBenchmark.pct(l, 99),
            (after.jvmCpuNanos() - before.jvmCpuNanos() + after.pgCpuNanos()
                - before.pgCpuNanos()) / 1e6 / n,
            (after.commits() - before.commits()) / (double) n);
        rows.add(row);
        System.out.printf(Locale.ROOT, "%8d %9d %12.0f %10.0f %6.2fx %9.1f %9.1f %12.2f %14.2f%n",
            row.clients(), row.pgbenchClients(), row.ceiling(), row.postsPerSecond(), row.ratio(),
            row.p50(), row.p99(), row.cpuMsPerPost(), row.commitsPerPost());
      }
      System.out.printf("load average at the end: %s%n", loadAverage());
      if (png != null) {
        plot(rows, Path.of(png), loadAtStart);
        System.out.println("plot: " + png);
      }
    } finally {
      node.stop();
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static List<String> paths(List<String> channels) {
    return channels.stream().map(c -> "/api/v1/channels/" + c + "/messages").toList();
  }

  /** {@code n} real MLS messages of the guild's group (any of its channels takes them). */
  private static List<String> bodies(MlsTestDevice device, String channel, int n)
      throws Exception {
    SecureRandom random = new SecureRandom();
    List<String> bodies = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      byte[] text = new byte[120];
      random.nextBytes(text);
      bodies.add("{\"ciphertext\":\"" + MlsTestDevice.b64(device.encrypt(channel,
          Base64.getEncoder().encodeToString(text))) + "\"}");
    }
    return bodies;
  }

  private static void post(ApiClient api, MlsTestDevice device, List<String> targets,
      String token, int clients, int n) throws Exception {
    PostAndHistoryBenchmark.post(List.of(api), paths(targets), bodies(device, targets.get(0), n),
        token, clients);
  }

  /** pgbench's durable single-row INSERTs against the node's own PostgreSQL. */
  private static final class Pgbench {
    private final String binary;
    private final String host;
    private final String port;
    private final String database;
    private final Path script;

    Pgbench(String binary, String jdbcUrl, Path dir) throws Exception {
      this.binary = binary;
      URI uri = URI.create(jdbcUrl.substring("jdbc:".length()));
      this.host = uri.getHost();
      this.port = Integer.toString(uri.getPort());
      this.database = uri.getPath().substring(1);
      try (java.sql.Connection c = java.sql.DriverManager.getConnection(jdbcUrl, "postgres", "");
          java.sql.Statement st = c.createStatement()) {
        st.execute("CREATE TABLE IF NOT EXISTS bench_ceiling (persistence_id text, seq bigint, "
            + "payload bytea)");
        st.execute("CREATE SEQUENCE IF NOT EXISTS bench_ceiling_seq");
      }
      this.script = dir.resolve("pgbench-insert.sql");
      Files.writeString(script, "INSERT INTO bench_ceiling (persistence_id, seq, payload) VALUES "
          + "('c' || (random() * 10)::int, nextval('bench_ceiling_seq'), "
          + "repeat('x', 200)::bytea);\n", StandardCharsets.UTF_8);
    }

    /** Transactions per second, without the connection set-up. */
    double run(int clients, int seconds) throws Exception {
      Process p = new ProcessBuilder(binary, "-n", "-f", script.toString(), "-c",
          Integer.toString(clients), "-j", Integer.toString(Math.min(clients, 2)), "-T",
          Integer.toString(seconds), "-h", host, "-p", port, "-U", "postgres", database)
          .redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(seconds + 60L, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IllegalStateException("pgbench failed: " + out);
      }
      Matcher m = Pattern.compile("tps = ([0-9.]+)").matcher(out);
      if (!m.find()) {
        throw new IllegalStateException("no tps in pgbench's output: " + out);
      }
      return Double.parseDouble(m.group(1));
    }
  }

  private static void plot(List<Row> rows, Path file, String loadAtStart) throws Exception {
    double[] x = rows.stream().mapToDouble(Row::clients).toArray();
    String[] ratios = rows.stream().map(r -> String.format(Locale.ROOT, "%.2fx", r.ratio()))
        .toArray(String[]::new);
    new LineChart("Durable posts per second vs. PostgreSQL's durable commit rate (same run)",
        String.format(Locale.ROOT, "%d cores shared by node, clients and PostgreSQL; %s UTC; "
                + "load %s -> %s",
            Runtime.getRuntime().availableProcessors(),
            java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).withNano(0),
            loadAtStart.split(" ")[0], loadAverage().split(" ")[0]),
        "concurrent clients", "per second", "p99 post latency, ms", true)
        .add(new LineChart.Series("ceiling: pgbench single-row INSERT transactions/s",
            new Color(120, 120, 120), true, false, x,
            rows.stream().mapToDouble(Row::ceiling).toArray(), null))
        .add(new LineChart.Series("Cloister: MLS posts acknowledged/s (ratio labelled)",
            new Color(30, 100, 200), false, false, x,
            rows.stream().mapToDouble(Row::postsPerSecond).toArray(), ratios))
        .add(new LineChart.Series("Cloister: p99 post latency", new Color(200, 60, 40), true,
            true, x, rows.stream().mapToDouble(Row::p99).toArray(), null))
        .write(file);
  }

  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (Exception e) {
      return "?";
    }
  }
}
