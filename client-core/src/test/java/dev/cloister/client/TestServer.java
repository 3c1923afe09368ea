package dev.cloister.client;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.cloister.client.auth.Login;
import dev.cloister.client.auth.Srp;
import dev.cloister.client.http.RestClient;
import dev.cloister.node.Node;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real Cloister node in this JVM for the client's tests: embedded PostgreSQL in a temporary
 * directory, loopback only, free ports. Configuration as cluster-node's tests use it.
 */
public final class TestServer implements AutoCloseable {

  private static final AtomicInteger USERS = new AtomicInteger();

  private final Path dataDir;
  private final Node node;
  private final URI url;

  private TestServer(Path dataDir, Node node, URI url) {
    this.dataDir = dataDir;
    this.node = node;
    this.url = url;
  }

  public static TestServer start() throws Exception {
    return start(Map.of());
  }

  /** Starts a node; {@code overrides} are config keys layered over the test defaults. */
  public static TestServer start(Map<String, Object> overrides) throws Exception {
    Path dataDir = Files.createTempDirectory(scratch(), "cloister-client-test");
    int httpPort = freePort();
    Map<String, Object> test = new HashMap<>(Map.of(
        // Every test client shares 127.0.0.1: limits well above what the tests send.
        "cloister.rate-limits.rest-per-ip.burst", 100_000,
        "cloister.rate-limits.gateway-connects-per-ip.burst", 10_000,
        // Heartbeats every second, so that a silent client is noticed within seconds.
        "cloister.gateway.heartbeat-interval", "1s",
        "cloister.gateway.heartbeat-timeout", "3s",
        // No Kamon agent (as cluster-node's TestCluster): attaching it took 9 s of each test
        // JVM's first start, and it instruments every actor; no client test reads node metrics.
        "cloister.metrics.instrument-pekko", "off"));
    test.putAll(overrides);
    Config config = ConfigFactory.parseMap(test)
        .withFallback(ConfigFactory.parseMap(Map.of(
            "cloister.data-dir", dataDir.toString(),
            "cloister.http.host", "127.0.0.1",
            "cloister.http.port", httpPort,
            "cloister.db.url", "",
            "pekko.remote.artery.canonical.port", 0,
            "pekko.management.http.port", freePort(),
            "pekko.management.http.bind-hostname", "127.0.0.1",
            // Neither a broker (fixed port 9092, tens of seconds to start) nor the metrics port
            // of a developer's own node: the client's tests need neither.
            "cloister.kafka.enabled", "off",
            "cloister.metrics.port", 0,
            "pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off")))
        // The node's own SFU on loopback and any free UDP port.
        .withFallback(ConfigFactory.parseMap(Map.of(
            "cloister.sfu.bind-host", "127.0.0.1",
            "cloister.sfu.udp-port", 0)))
        .withFallback(ConfigFactory.load());
    try {
      Node node = Node.start(config);
      return new TestServer(dataDir, node, URI.create("http://127.0.0.1:" + httpPort));
    } catch (Exception | Error e) {
      delete(dataDir);
      throw e;
    }
  }

  /**
   * Where the tests' nodes keep their data and devices their homes: tmpfs when there is one with
   * room to spare, else the temporary directory. The node's PostgreSQL and the SDK's stores fsync
   * every write (as in production); on this machine's disk each fsync costs 3-15 ms, on tmpfs
   * nothing (load-tests' homes are on tmpfs for the same reason).
   */
  public static Path scratch() {
    Path shm = Path.of("/dev/shm");
    try {
      if (Files.isDirectory(shm) && Files.isWritable(shm)
          && Files.getFileStore(shm).getUsableSpace() > 2L * 1024 * 1024 * 1024) {
        return shm;
      }
    } catch (IOException e) {
      // not usable: the temporary directory
    }
    return Path.of(System.getProperty("java.io.tmpdir"));
  }

  /**
   * {@code @ExtendWith(TestServer.Shared.class)}: a {@code TestServer} parameter of a
   * {@code @BeforeAll} method is one node with the test defaults, started on first use and
   * shared by every such class in this JVM (stopped once they have all run). For classes whose
   * tests do not need a node of their own: each makes its own users, guilds and homes, so none
   * sees another's. Saves a node's start and stop (6-15 s on this machine) per class.
   */
  public static final class Shared implements org.junit.jupiter.api.extension.ParameterResolver {
    private static final org.junit.jupiter.api.extension.ExtensionContext.Namespace NODE =
        org.junit.jupiter.api.extension.ExtensionContext.Namespace.create(Shared.class);

    @Override
    public boolean supportsParameter(org.junit.jupiter.api.extension.ParameterContext parameter,
        org.junit.jupiter.api.extension.ExtensionContext context) {
      return parameter.getParameter().getType() == TestServer.class;
    }

    @Override
    public Object resolveParameter(org.junit.jupiter.api.extension.ParameterContext parameter,
        org.junit.jupiter.api.extension.ExtensionContext context) {
      // The root context's store closes it (TestServer is AutoCloseable) after the last class.
      return context.getRoot().getStore(NODE).getOrComputeIfAbsent(TestServer.class, k -> {
        try {
          return start();
        } catch (Exception e) {
          throw new IllegalStateException("the shared test node did not start", e);
        }
      }, TestServer.class);
    }
  }

  /** {@code @TempDir(factory = TestServer.Scratch.class)}: a test's homes on {@link #scratch()}. */
  public static final class Scratch implements org.junit.jupiter.api.io.TempDirFactory {
    @Override
    public Path createTempDirectory(org.junit.jupiter.api.extension.AnnotatedElementContext element,
        org.junit.jupiter.api.extension.ExtensionContext context) throws IOException {
      return Files.createTempDirectory(scratch(), "junit");
    }
  }

  public URI url() {
    return url;
  }

  public RestClient rest() {
    return new RestClient(url);
  }

  /** A fresh registered user, logged in. */
  public Login newUser(String prefix) {
    String name = prefix + USERS.incrementAndGet();
    Srp srp = new Srp(rest());
    srp.register(name, password(name));
    return srp.login(name, password(name));
  }

  public static String password(String username) {
    return "correct horse " + username;
  }

  /**
   * A fresh registered user with one enrolled device (signature key, key packages) in a home
   * under the node's temporary directory: what a client needs to post now that posts are MLS.
   */
  public CloisterClient newDevice(String prefix) throws IOException {
    String name = prefix + USERS.incrementAndGet();
    return CloisterClient.register(url, dataDir.resolve("homes").resolve(name), name,
        password(name));
  }

  /**
   * Syncs each device's view of the channel's group (joining, committing pending proposals)
   * until every one of them is a member at the same epoch with exactly these members.
   */
  public static void awaitGroup(String channelId, CloisterClient... devices) throws Exception {
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
    java.util.Set<String> wanted = new java.util.HashSet<>();
    for (CloisterClient d : devices) {
      wanted.add(d.account().userId() + "/" + d.account().deviceId());
    }
    String last = "";
    while (System.nanoTime() < deadline) {
      java.util.Set<String> seen = new java.util.HashSet<>();
      for (CloisterClient d : devices) {
        var g = d.chat().group(channelId);
        seen.add(g.epoch() + " " + new java.util.TreeSet<>(g.members()));
      }
      last = seen.toString();
      if (seen.size() == 1 && seen.iterator().next().endsWith(" " + new java.util.TreeSet<>(wanted))) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the group of channel " + channelId + " never settled: " + last);
  }

  public CloisterApi api(Login login) {
    return new CloisterApi(rest().authenticated(login.token()));
  }

  @Override
  public void close() throws IOException {
    try {
      node.stop();
    } finally {
      delete(dataDir);
    }
  }

  public static void delete(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  public static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
