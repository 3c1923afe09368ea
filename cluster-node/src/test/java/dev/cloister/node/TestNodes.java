package dev.cloister.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.db.Database;
import dev.cloister.node.metrics.Metrics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/** Configuration for a node under test: loopback only, free ports, data in a given directory. */
final class TestNodes {

  private TestNodes() {}

  static Config config(Path dataDir, int httpPort, int managementPort) {
    return ConfigFactory.parseMap(Map.of(
            // Every test client shares 127.0.0.1: limits well above what the tests send.
            "cloister.rate-limits.rest-per-ip.burst", 100_000,
            "cloister.rate-limits.gateway-connects-per-ip.burst", 10_000,
            // Heartbeats every second, so that a silent client is noticed within seconds.
            "cloister.gateway.heartbeat-interval", "1s",
            "cloister.gateway.heartbeat-timeout", "3s"))
        .withFallback(baseConfig(dataDir, httpPort, managementPort));
  }

  private static Config baseConfig(Path dataDir, int httpPort, int managementPort) {
    return ConfigFactory.parseMap(Map.of(
            "cloister.data-dir", dataDir.toString(),
            "cloister.http.host", "127.0.0.1",
            "cloister.http.port", httpPort,
            "cloister.db.url", "",
            "pekko.remote.artery.canonical.port", 0,
            "pekko.management.http.port", managementPort,
            "pekko.management.http.bind-hostname", "127.0.0.1",
            "pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off"))
        // Metrics on a free loopback port, ticking every second; no event stream unless a test
        // asks for one (it starts a broker).
        .withFallback(ConfigFactory.parseMap(Map.of(
            "cloister.metrics.host", "127.0.0.1",
            "cloister.metrics.port", 0,
            "kamon.metric.tick-interval", "1s",
            "cloister.kafka.enabled", false,
            // The node's own SFU on loopback and any free UDP port.
            "cloister.sfu.bind-host", "127.0.0.1",
            "cloister.sfu.udp-port", 0)))
        .withFallback(ConfigFactory.load());
  }

  /**
   * A new temporary data directory whose embedded PostgreSQL cluster is already initialised (see
   * {@link #seedDatabase}).
   */
  static Path dataDir(String prefix) throws IOException {
    return seedDatabase(Files.createTempDirectory(prefix));
  }

  /**
   * Puts a fresh PostgreSQL cluster into {@code <dataDir>/postgres}, as a node's first start would
   * (initdb), unless one is there; returns {@code dataDir}. The cluster is a copy of one made once
   * per JVM: initdb takes seconds (it fsyncs every file), a copy a fraction of one, and a node
   * starting on either finds the same empty, never-used cluster.
   */
  static Path seedDatabase(Path dataDir) throws IOException {
    Path pgData = dataDir.resolve("postgres");
    if (!Files.exists(pgData.resolve("PG_VERSION"))) {
      copyTree(DatabaseTemplate.PG_DATA, pgData);
    }
    return dataDir;
  }

  /** This JVM's template cluster: initdb'd by starting the embedded server once, then stopped. */
  private static final class DatabaseTemplate {
    static final Path PG_DATA = make();

    private static Path make() {
      try {
        Path root = Files.createTempDirectory("cloister-pg-template");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          try {
            delete(root);
          } catch (IOException ignored) {
            // a temporary directory
          }
        }, "cloister-pg-template-delete"));
        // Kamon first, as Node.start does: its agent instruments the classes that load after it
        // (the connection pool's among them), and a node started later in this JVM finds it on.
        Metrics.start(baseConfig(root, 0, 0));
        // The node's own code path (EmbeddedServer: initdb, then a start and a clean stop), on no
        // node's data: the copies must not carry a node.lock, keys or ids (they live beside it).
        Database.start(baseConfig(root, 0, 0), root).close();
        Path pgData = root.resolve("postgres");
        Files.deleteIfExists(pgData.resolve("postmaster.pid")); // a clean stop removed it already
        return pgData;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** Copies a directory tree, keeping permissions (PostgreSQL wants its data directory 0700). */
  private static void copyTree(Path from, Path to) throws IOException {
    try (var files = Files.walk(from)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
          Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(p));
        } else {
          Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  /** Deletes a directory tree; quietly does nothing for null. */
  static void delete(Path dir) throws IOException {
    if (dir == null || !java.nio.file.Files.exists(dir)) {
      return;
    }
    try (var files = java.nio.file.Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /**
   * A loopback port free now, for a node to bind a moment later. Taken below the kernel's
   * ephemeral range when there is room: a port the kernel hands out (port 0) may meanwhile become
   * the local end of some test's outgoing connection ("Address already in use" at the node's bind,
   * seen once in verify); ports below the range are never handed out that way.
   */
  static int freePort() throws IOException {
    int low = ephemeralLow();
    for (int attempt = 0; low > 11_000 && attempt < 50; attempt++) {
      int port = 10_000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(low - 10_000);
      try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      } catch (IOException taken) {
        // another one
      }
    }
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** The low end of the kernel's ephemeral port range (Linux), or 0 when unknown. */
  private static int ephemeralLow() {
    try {
      String range = java.nio.file.Files.readString(
          Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
      return Integer.parseInt(range.split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 0;
    }
  }
}
