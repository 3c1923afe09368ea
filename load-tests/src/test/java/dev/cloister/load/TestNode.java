package dev.cloister.load;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.Node;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;

/**
 * A real Cloister node in the test JVM for the simulations' smoke runs: embedded PostgreSQL in a
 * temporary directory, loopback and free ports only, per-IP limits lifted (every virtual user
 * comes from 127.0.0.1), heartbeats every second, no Kafka.
 */
final class TestNode implements AutoCloseable {

  private final Path dataDir;
  private final Node node;
  private final URI url;

  private TestNode(Path dataDir, Node node, URI url) {
    this.dataDir = dataDir;
    this.node = node;
    this.url = url;
  }

  static TestNode start() throws Exception {
    Path dataDir = Files.createTempDirectory("cloister-load-test");
    int httpPort = freePort();
    Config config = ConfigFactory.parseMap(Map.of(
            "cloister.rate-limits.rest-per-ip.burst", 1_000_000,
            "cloister.rate-limits.rest-per-ip.per-second", 100_000,
            "cloister.rate-limits.gateway-connects-per-ip.burst", 100_000,
            "cloister.rate-limits.gateway-connects-per-ip.per-second", 10_000,
            "cloister.gateway.heartbeat-interval", "1s",
            "cloister.gateway.heartbeat-timeout", "5s",
            "cloister.metrics.port", 0,
            // every virtual user logs in from 127.0.0.1
            "cloister.auth.max-pending-logins-per-client", 100_000,
            // the event stream is not what these runs measure (a broker takes seconds to start)
            "cloister.kafka.enabled", "off"))
        .withFallback(ConfigFactory.parseMap(Map.of(
            "cloister.data-dir", dataDir.toString(),
            "cloister.http.host", "127.0.0.1",
            "cloister.http.port", httpPort,
            "cloister.db.url", "",
            "pekko.remote.artery.canonical.port", 0,
            "pekko.management.http.port", freePort(),
            "pekko.management.http.bind-hostname", "127.0.0.1",
            "pekko.coordinated-shutdown.run-by-jvm-shutdown-hook", "off")))
        .withFallback(ConfigFactory.load());
    try {
      return new TestNode(dataDir, Node.start(config),
          URI.create("http://127.0.0.1:" + httpPort));
    } catch (Exception | Error e) {
      delete(dataDir);
      throw e;
    }
  }

  URI url() {
    return url;
  }

  @Override
  public void close() throws IOException {
    try {
      node.stop();
    } finally {
      delete(dataDir);
    }
  }

  static void delete(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
