package dev.cloister.node.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.ApiClient;
import dev.cloister.node.MlsTestDevice;
import dev.cloister.node.Node;
import dev.cloister.node.auth.SessionTokens;
import java.awt.Color;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Load driver for the gateway, not a test. Starts a node in this JVM (embedded PostgreSQL in a
 * temp dir), then:
 *
 * <ol>
 *   <li>idle sessions: a child JVM (its own file-descriptor budget) opens {@code bench.idle}
 *       (default 10,000) WebSocket connections to the node and identifies each as a member of one
 *       small guild; prints the sessions held and the node's heap growth per session (after GC);
 *   <li>fan-out: {@code bench.members} (default 1,000) users join one guild and connect from a
 *       child JVM ({@link FanOutClients}); one of them posts {@code bench.posts} messages over
 *       REST, one every {@code bench.intervalMs}; prints p50/p99/max from the POST being sent to
 *       each member's MESSAGE_CREATE arriving, and the CPU the node's and the members' JVMs spent
 *       over the posting window.
 * </ol>
 *
 * <p>Needs {@code ulimit -n} above the idle count plus a few hundred in each JVM, and as many free
 * ephemeral ports on loopback.
 *
 * <pre>
 * mvn -B -q install -DskipTests
 * mvn -B -q -pl cluster-node exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=dev.cloister.node.bench.GatewayBenchmark [-Dbench.idle=10000] [-Dbench.members=1000]
 * </pre>
 *
 * <p>With {@code -Dbench.url=URL,URL,...} and {@code -Dbench.tokenKey=<base64>} it runs only the
 * fan-out, against nodes already running ({@code ./cloister cluster N}; the key is in
 * {@code data/cluster/node-1/token-key}), members connecting to the nodes in turn. Those nodes
 * need the per-IP limits lifted and long heartbeats, as this driver sets for its own node.
 */
public final class GatewayBenchmark {

  private static final java.util.Map<String, ApiClient> CLIENTS =
      new java.util.concurrent.ConcurrentHashMap<>();

  public static void main(String[] args) {
    BenchMain.runAndExit(() -> benchmark(args));
  }

  private static void benchmark(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("idle-clients")) {
      idleClients(Integer.parseInt(args[1]), args[2], Integer.parseInt(args[3]));
      return;
    }
    // One size or several (a curve: -Dbench.idle=1000,2000,5000,10000,19000).
    int[] idleSizes = java.util.Arrays.stream(System.getProperty("bench.idle", "10000").split(","))
        .map(String::strip).mapToInt(Integer::parseInt).filter(n -> n > 0).toArray();
    int members = Integer.getInteger("bench.members", 1_000);
    int posts = Integer.getInteger("bench.posts", 200);
    int intervalMs = Integer.getInteger("bench.intervalMs", 50);
    String urls = System.getProperty("bench.url");
    if (urls != null) {
      // Nodes already running (./cloister cluster N): members connect to them in turn; tokens
      // are minted with the cluster's key (bench.tokenKey, base64: data/cluster/node-1/token-key).
      byte[] key = Base64.getDecoder().decode(System.getProperty("bench.tokenKey").strip());
      List<String> bases = java.util.Arrays.stream(urls.split(",")).map(String::strip).toList();
      System.out.printf("Gateway benchmark against %d node(s): %d cores%n", bases.size(),
          Runtime.getRuntime().availableProcessors());
      fanOutPhase(bases, false, new SessionTokens(key, Duration.ofHours(2), Clock.systemUTC()), members,
          posts, intervalMs);
      return;
    }
    byte[] key = new byte[32];
    new java.security.SecureRandom().nextBytes(key);
    String tokenKey = Base64.getEncoder().encodeToString(key);
    SessionTokens tokens = new SessionTokens(key, Duration.ofHours(2), Clock.systemUTC());

    Path dir = Files.createTempDirectory("cloister-gateway-bench");
    Node node = Node.start(ConfigFactory.parseMap(Map.ofEntries(
            Map.entry("cloister.data-dir", dir.toString()),
            Map.entry("cloister.http.host", "127.0.0.1"),
            Map.entry("cloister.http.port", 0),
            Map.entry("pekko.remote.artery.canonical.port", 0),
            Map.entry("pekko.management.http.port", 0),
            Map.entry("cloister.auth.token-key", tokenKey),
            Map.entry("cloister.rate-limits.rest-per-ip.burst", 1_000_000),
            Map.entry("cloister.rate-limits.rest-per-ip.per-second", 1_000_000),
            Map.entry("cloister.rate-limits.gateway-connects-per-ip.burst", 1_000_000),
            Map.entry("cloister.rate-limits.gateway-connects-per-ip.per-second", 1_000_000),
            // idle means idle: no heartbeats needed while measuring
            Map.entry("cloister.gateway.heartbeat-interval", "30m"),
            Map.entry("cloister.gateway.heartbeat-timeout", "60m"),
            Map.entry("cloister.gateway.identify-timeout", "5m"),
            Map.entry("pekko.http.server.idle-timeout", "infinite"),
            // Between the sizes of a curve, the last size's sessions must have ended before the
            // next baseline: they end this long after their connections closed.
            Map.entry("cloister.gateway.resume.max-age", idleSizes.length > 1 ? "15s" : "2m"),
            Map.entry("pekko.http.server.max-connections", 65536)))
        .withFallback(ConfigFactory.load()));
    int port = node.httpAddress().getPort();
    String base = "http://127.0.0.1:" + port;
    try {
      System.out.printf("Gateway benchmark: %d cores, max heap %d MiB, ulimit -n see README%n",
          Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20);
      List<IdleRow> rows = new ArrayList<>();
      for (int n : idleSizes) {
        rows.add(idlePhase(base, port, tokens, n));
        if (idleSizes.length > 1) {
          Thread.sleep(20_000); // resume.max-age (15 s) and a little: the sessions end
        }
      }
      if (idleSizes.length > 1) {
        printIdleCurve(rows);
      }
      if (members > 0) {
        fanOutPhase(List.of(base), true, tokens, members, posts, intervalMs);
      }
    } finally {
      node.stop();
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  // ---- idle sessions ----

  /** One size of the idle curve: sessions asked for and held, seconds to open, KiB each. */
  private record IdleRow(int asked, int held, double openSeconds, double cpuMsPerSession,
      double kibPerSession) {}

  /** This JVM's CPU time so far. */
  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static void printIdleCurve(List<IdleRow> rows) throws Exception {
    System.out.printf("%n%10s %8s %12s %12s %18s %16s%n", "sessions", "held", "opened in s",
        "sessions/s", "node CPU ms/sess", "KiB per session");
    for (IdleRow r : rows) {
      System.out.printf(java.util.Locale.ROOT, "%10d %8d %12.1f %12.0f %18.2f %16.1f%n",
          r.asked(), r.held(), r.openSeconds(), r.held() / r.openSeconds(), r.cpuMsPerSession(),
          r.kibPerSession());
    }
    String png = System.getProperty("bench.png");
    if (png != null) {
      double[] x = rows.stream().mapToDouble(IdleRow::held).toArray();
      new LineChart("Node heap per idle gateway session, and the time to open them",
          String.format(java.util.Locale.ROOT, "%d cores shared by the node and its clients (a second"
                  + " JVM); %s UTC; load at the end %s",
              Runtime.getRuntime().availableProcessors(),
              java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).withNano(0),
              PostScalingBenchmark.loadAverage().split(" ")[0]),
          "idle sessions held (identified, ready, no traffic)", "KiB of node heap per session "
              + "(after GC)", "seconds to open them all", false)
          .add(new LineChart.Series("heap per session", new Color(30, 100, 200), false, false, x,
              rows.stream().mapToDouble(IdleRow::kibPerSession).toArray(),
              rows.stream().map(r -> String.format(java.util.Locale.ROOT, "%.1f KiB",
                  r.kibPerSession())).toArray(String[]::new)))
          .add(new LineChart.Series("time to open them", new Color(200, 60, 40), true, true, x,
              rows.stream().mapToDouble(IdleRow::openSeconds).toArray(), null))
          .write(Path.of(png));
      System.out.println("plot: " + png);
    }
  }

  private static IdleRow idlePhase(String base, int port, SessionTokens tokens, int n)
      throws Exception {
    String owner = register(base, "idler");
    String ownerToken = tokens.issue(owner).token();
    call(base, "POST", "/api/v1/guilds", "{\"name\":\"Idle\"}", ownerToken);

    long before = heapAfterGc();
    boolean histogram = Boolean.getBoolean("bench.histogram");
    Map<String, long[]> histBefore = histogram ? classHistogram() : Map.of();
    long t0 = System.nanoTime();
    long cpu0 = processCpuNanos();
    Process child = new ProcessBuilder(javaBinary(), "-Xss256k", "-cp", classPath(),
        GatewayBenchmark.class.getName(), "idle-clients", Integer.toString(port), ownerToken,
        Integer.toString(n))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
        StandardCharsets.UTF_8));
    String line;
    int held = 0;
    while ((line = out.readLine()) != null) {
      if (line.startsWith("READY ")) {
        held = Integer.parseInt(line.substring(6).strip());
        break;
      }
      System.out.println("  client: " + line);
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    // The node's CPU (this JVM; the clients are another) per session opened: less at the mercy
    // of other load on the machine than the seconds.
    double cpuMs = held == 0 ? 0 : (processCpuNanos() - cpu0) / 1e6 / held;
    Thread.sleep(5_000);
    long after = heapAfterGc();
    System.out.printf("Idle sessions held by one node: %d (ready after identify; opened in %.1f s,"
        + " node CPU %.2f ms per session)%n", held, seconds, cpuMs);
    System.out.printf("Node heap growth after GC: %d MiB -> %.1f KiB per idle session%n",
        (after - before) >> 20, held == 0 ? 0.0 : (after - before) / 1024.0 / held);
    if (histogram && held > 0) {
      printHistogramGrowth(histBefore, classHistogram(), held);
    }
    // Time to look at the node from outside (jcmd <pid> GC.heap_dump, a profiler) while it holds them.
    long hold = Long.getLong("bench.idleHoldSeconds", 0);
    if (hold > 0) {
      System.out.printf("Holding the sessions for %d s (pid %d)%n", hold, ProcessHandle.current().pid());
      Thread.sleep(hold * 1000);
    }
    child.getOutputStream().close(); // tells the child to go
    child.waitFor(60, TimeUnit.SECONDS);
    child.destroyForcibly();
    Thread.sleep(3_000);
    return new IdleRow(n, held, seconds, cpuMs,
        held == 0 ? 0.0 : (after - before) / 1024.0 / held);
  }

  /** The child: opens n sessions, prints READY n, holds them until stdin closes. */
  private static void idleClients(int port, String token, int n) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    AtomicInteger ready = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    Semaphore inFlight = new Semaphore(200);
    List<WebSocket> open = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(n);
    for (int i = 0; i < n; i++) {
      inFlight.acquire();
      new MemberSocket(token, "d" + i) {
        @Override
        void ready() {
          ready.incrementAndGet();
          inFlight.release();
          done.countDown();
        }

        @Override
        void failed() {
          failed.incrementAndGet();
          inFlight.release();
          done.countDown();
        }
      }.connect(http, URI.create("ws://127.0.0.1:" + port + "/gateway"), open);
    }
    done.await(10, TimeUnit.MINUTES);
    if (failed.get() > 0) {
      System.out.println("failed connections: " + failed.get());
    }
    System.out.println("READY " + ready.get());
    System.out.flush();
    while (System.in.read() >= 0) {
      // hold the sessions until the parent closes our stdin
    }
    System.exit(0);
  }

  private static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(300);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * The live heap by class (the JVM's GC.class_histogram, which collects first): class name to
   * {instances, bytes}.
   */
  private static Map<String, long[]> classHistogram() throws Exception {
    String text = (String) ManagementFactory.getPlatformMBeanServer().invoke(
        new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"),
        "gcClassHistogram", new Object[] {new String[0]}, new String[] {String[].class.getName()});
    Map<String, long[]> byClass = new java.util.HashMap<>();
    for (String line : text.split("\n")) {
      String[] f = line.strip().split("\\s+");
      if (f.length >= 4 && f[0].endsWith(":")) {
        byClass.put(f[3], new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
      }
    }
    return byClass;
  }

  /** What the sessions added to the live heap, by class, largest first: a memory profile. */
  private static void printHistogramGrowth(Map<String, long[]> before, Map<String, long[]> after,
      int sessions) {
    record Growth(String cls, long instances, long bytes) {}
    List<Growth> growth = new ArrayList<>();
    long total = 0;
    for (var e : after.entrySet()) {
      long[] b = before.getOrDefault(e.getKey(), new long[2]);
      long bytes = e.getValue()[1] - b[1];
      total += bytes;
      growth.add(new Growth(e.getKey(), e.getValue()[0] - b[0], bytes));
    }
    growth.sort((x, y) -> Long.compare(y.bytes(), x.bytes()));
    System.out.printf("Live heap growth by class (GC.class_histogram), %.1f KiB per session:%n",
        total / 1024.0 / sessions);
    System.out.printf("  %10s %10s %12s  %s%n", "bytes/sess", "inst/sess", "total KiB", "class");
    for (Growth g : growth.subList(0, Math.min(Integer.getInteger("bench.histogramTop", 40), growth.size()))) {
      System.out.printf("  %10.0f %10.2f %12d  %s%n", (double) g.bytes() / sessions,
          (double) g.instances() / sessions, g.bytes() >> 10, g.cls());
    }
  }

  private static String javaBinary() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static String classPath() {
    ClassLoader cl = GatewayBenchmark.class.getClassLoader();
    List<String> parts = new ArrayList<>();
    while (cl != null) {
      if (cl instanceof URLClassLoader u) {
        for (URL url : u.getURLs()) {
          try {
            parts.add(new File(url.toURI()).getPath());
          } catch (Exception e) {
            parts.add(url.getPath());
          }
        }
      }
      cl = cl.getParent();
    }
    return parts.isEmpty() ? System.getProperty("java.class.path")
        : String.join(File.pathSeparator, parts);
  }

  // ---- fan-out latency ----

  /**
   * Members connect to {@code bases} in turn from a child JVM ({@link FanOutClients});
   * registration, joins and posts go through the first.
   */
  private static void fanOutPhase(List<String> bases, boolean nodeHere, SessionTokens tokens,
      int members, int posts, int intervalMs) throws Exception {
    String base = bases.get(0);
    String owner = register(base, "poster");
    String ownerToken = tokens.issue(owner).token();
    JsonNode guild = call(base, "POST", "/api/v1/guilds", "{\"name\":\"Fan-out\"}", ownerToken);
    String guildId = guild.get("id").asText();
    String channelId = guild.get("channels").get(0).get("id").asText();
    String code = call(base, "POST", "/api/v1/guilds/" + guildId + "/invites", "{}", ownerToken)
        .get("code").asText();
    long t0 = System.nanoTime();
    // Eight at a time: one at a time, 10,000 members take minutes of round trips.
    String[] memberTokens = new String[members];
    var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
    try {
      List<java.util.concurrent.Future<?>> joins = new ArrayList<>();
      for (int i = 0; i < members; i++) {
        int m = i;
        joins.add(pool.submit(() -> {
          String id = register(base, "m" + m);
          String t = tokens.issue(id).token();
          call(base, "POST", "/api/v1/invites/" + code, null, t);
          memberTokens[m] = t;
          return null;
        }));
      }
      for (var j : joins) {
        j.get();
      }
    } finally {
      pool.shutdown();
    }
    System.out.printf("Fan-out: %d members joined one guild in %.1f s%n", members,
        (System.nanoTime() - t0) / 1e9);

    ApiClient api = new ApiClient(base);
    MlsTestDevice device = MlsTestDevice.enroll(api, ownerToken, owner);
    device.send(channelId, "warm the group");
    // The first posts warm the node's JIT (as long as the measured ones, by default) and are not
    // counted: a JVM's first 200,000 deliveries run partly interpreted.
    int warmup = Integer.getInteger("bench.warmupPosts", posts);
    int total = warmup + posts;
    List<String> sealed = new ArrayList<>();
    for (int k = 0; k < total; k++) {
      sealed.add(MlsTestDevice.b64(device.encrypt(channelId, "bench-" + k)));
    }
    Path tokenFile = Files.createTempFile("cloister-fanout", ".tokens");
    Files.write(tokenFile, Arrays.asList(memberTokens), StandardCharsets.UTF_8);
    Process child = new ProcessBuilder(javaBinary(), "-Xss256k", "-Xmx2g", "-cp", classPath(),
        FanOutClients.class.getName(), tokenFile.toString(), Integer.toString(total),
        Integer.toString(warmup),
        String.join(",", bases))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
          StandardCharsets.UTF_8));
      java.io.PrintStream toChild = new java.io.PrintStream(child.getOutputStream(), true,
          StandardCharsets.UTF_8);
      String line = out.readLine();
      if (line == null || !line.startsWith("READY ")) {
        throw new IllegalStateException("the members' JVM did not get ready: " + line);
      }
      System.out.println("Fan-out: members' JVM: " + line);
      Thread.sleep(2_000);
      long cpu0 = 0;
      long w0 = 0;
      long start = System.nanoTime();
      // Posts leave on a fixed schedule, as the peer's driver sends its messages: one every
      // intervalMs whatever the answers take (a few threads wait for the answers).
      var posters = java.util.concurrent.Executors.newFixedThreadPool(4);
      List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
      try {
        for (int k = 0; k < total; k++) {
          long due = start + TimeUnit.MILLISECONDS.toNanos((long) k * intervalMs);
          long wait = due - System.nanoTime();
          if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
          }
          if (k == warmup) {
            cpu0 = processCpuNanos();
            w0 = System.nanoTime();
          }
          int post = k;
          String body = "{\"ciphertext\":\"" + sealed.get(k) + "\"}";
          sent.add(posters.submit(() -> {
            long sentAt = System.nanoTime();
            String id = call(base, "POST", "/api/v1/channels/" + channelId + "/messages", body,
                ownerToken).get("id").asText();
            synchronized (toChild) {
              toChild.println("S " + id + " " + post + " " + sentAt);
            }
            return null;
          }));
        }
        for (var f : sent) {
          f.get();
        }
      } finally {
        posters.shutdown();
      }
      System.out.printf("Fan-out: posting took %.2f s%n", (System.nanoTime() - w0) / 1e9);
      toChild.println("END");
      String delivered = out.readLine(); // DELIVERED arrived expected: the window ends
      double wall = (System.nanoTime() - w0) / 1e9;
      double cores = (processCpuNanos() - cpu0) / 1e9 / wall;
      String[] d = delivered == null ? new String[0] : delivered.split(" ");
      System.out.printf("Fan-out: %d posts, one every %d ms, to %d members: %s of %s deliveries "
              + "arrived (and %d posts before them to warm up)%n", posts, intervalMs, members,
          d.length > 1 ? d[1] : "?", d.length > 2 ? d[2] : "?", warmup);
      for (int i = 0; i < 2 && (line = out.readLine()) != null; i++) {
        System.out.println(line);
      }
      System.out.printf("%s: %.2f cores over the %.2f s window (first post to last delivery); "
              + "load %s%n", nodeHere ? "node's JVM (with the poster)" : "poster's JVM", cores, wall,
          PostScalingBenchmark.loadAverage());
    } finally {
      child.getOutputStream().close();
      child.waitFor(60, TimeUnit.SECONDS);
      child.destroyForcibly();
      Files.deleteIfExists(tokenFile);
    }
  }

  // ---- REST ----

  /** Registers a user with a made-up verifier (nobody logs in as them: tokens are minted here). */
  private static String register(String base, String prefix) throws Exception {
    String name = prefix + "_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    return call(base, "POST", "/api/v1/auth/register",
        "{\"username\":\"" + name + "\",\"salt\":\"00\",\"verifier\":\"02\"}", null)
        .get("userId").asText();
  }

  /** A call through the tests' REST client that must succeed. */
  private static JsonNode call(String base, String method, String path, String body, String token)
      throws Exception {
    ApiClient.Response r = CLIENTS.computeIfAbsent(base, ApiClient::new).call(method, path, body, token);
    if (r.status() >= 300) {
      throw new IllegalStateException(method + " " + path + " -> " + r.status() + " " + r.body());
    }
    return r.body();
  }
}
