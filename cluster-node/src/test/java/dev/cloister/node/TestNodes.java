package dev.cloister.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
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

  /** Deletes a directory tree; quietly does nothing for null. */
  static void delete(Path dir) throws IOException {
    if (dir == null || !java.nio.file.Files.exists(dir)) {
      return;
    }
    try (var files = java.nio.file.Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
