package dev.cloister.node.metrics;

import com.typesafe.config.Config;
import kamon.Kamon;
import kamon.prometheus.PrometheusReporter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kamon, once per JVM: its Pekko instrumentation (the Kanela agent, attached at start), the JVM
 * and process collectors, and a Prometheus reporter whose text {@link MetricsEndpoint} serves.
 *
 * <p>Kamon is a JVM-wide singleton, so every node in one JVM (tests) shares these figures.
 * Kamon's own embedded HTTP server and status page are off (application.conf): the endpoint is
 * ours, so that it binds where the node's configuration says, port 0 included.
 */
public final class Metrics {

  private static final Logger log = LoggerFactory.getLogger(Metrics.class);

  private static PrometheusReporter reporter;
  private static boolean instrumented;

  private Metrics() {}

  /**
   * Starts Kamon with {@code config} unless it runs already. Call it before the actor system is
   * created: the agent instruments Pekko's classes as they load, and classes loaded before it
   * are not all retransformed (README, Operations).
   */
  public static synchronized void start(Config config) {
    if (reporter != null) {
      return;
    }
    boolean attach = config.getBoolean("cloister.metrics.instrument-pekko");
    try {
      if (attach) {
        Kamon.init(config);
        instrumented = true;
      } else {
        Kamon.initWithoutAttaching(config);
      }
    } catch (RuntimeException | LinkageError e) {
      // The agent cannot attach (no jdk.attach, a JRE, a locked-down JVM): our own metrics and
      // the JVM collectors still work; the Pekko instrumentation does not.
      log.warn("Kamon's agent did not attach ({}); Pekko actor and sharding metrics are off",
          e.toString());
      Kamon.initWithoutAttaching(config);
      instrumented = false;
    }
    reporter = new PrometheusReporter(PrometheusReporter.DefaultConfigPath(), config);
    Kamon.addReporter("cloister-prometheus", reporter);
    CloisterMetrics.BUILD_INFO.withTag("instrumented", Boolean.toString(instrumented)).update(1);
  }

  /** Whether Kamon's agent attached (so the Pekko instrumentation runs). */
  public static synchronized boolean instrumented() {
    return instrumented;
  }

  /** The Prometheus text of the last completed tick (empty before the first one). */
  public static String scrape() {
    PrometheusReporter r;
    synchronized (Metrics.class) {
      r = reporter;
    }
    return r == null ? "" : r.scrapeData();
  }
}
