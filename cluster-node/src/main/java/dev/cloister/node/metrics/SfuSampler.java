package dev.cloister.node.metrics;

import dev.cloister.sfu.SelectiveForwardingUnit;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The node's own SFU as metrics: its calls and endpoints, each bound endpoint's inbound jitter and
 * loss, and its datagram counters turned into Kamon counters (the SFU keeps totals per I/O worker
 * without Kamon on its hot path; this reads them every {@code interval} and adds what changed).
 */
public final class SfuSampler implements AutoCloseable {

  /** SFU counter name → the {@code what} label. */
  private static final Map<String, String> COUNTERS = Map.of(
      "datagramsIn", "in",
      "forwarded", "forwarded",
      "rtpNotForwarded", "not_forwarded",
      "droppedMalformed", "dropped_malformed",
      "droppedUnbound", "dropped_unbound",
      "droppedForeignSsrc", "dropped_foreign_ssrc",
      "droppedBackpressure", "dropped_backpressure",
      "sendErrors", "send_errors",
      "stunReplayed", "stun_replayed");

  private final SelectiveForwardingUnit sfu;
  private final Map<String, Long> last = new HashMap<>();
  private final ScheduledExecutorService timer;

  private SfuSampler(SelectiveForwardingUnit sfu, Duration interval) {
    this.sfu = sfu;
    // Exported from the start (at 0), so that a dashboard has a series before the first call.
    COUNTERS.values().forEach(what -> CloisterMetrics.SFU_DATAGRAMS.withTag("what", what));
    CloisterMetrics.VOICE_JOINS.withTag("outcome", "joined");
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "cloister-sfu-metrics");
      t.setDaemon(true);
      return t;
    });
    timer.scheduleWithFixedDelay(this::sample, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  public static SfuSampler start(SelectiveForwardingUnit sfu, Duration interval) {
    return new SfuSampler(sfu, interval);
  }

  void sample() {
    try {
      CloisterMetrics.SFU_CONFERENCES.update(sfu.conferences().conferenceCount());
      CloisterMetrics.SFU_ENDPOINTS.update(sfu.conferences().endpointCount());
      for (String conference : sfu.conferences().conferenceIds()) {
        sfu.conferences().describe(conference).ifPresent(view -> view.endpoints().forEach(e -> {
          if (e.bound() && e.inbound().expected() > 0) {
            CloisterMetrics.SFU_ENDPOINT_JITTER.record(Math.round(e.inbound().jitterMs()));
            CloisterMetrics.SFU_ENDPOINT_LOSS.record(Math.round(e.inbound().lossRatio() * 100));
          }
        }));
      }
      Map<String, Object> stats = sfu.stats();
      COUNTERS.forEach((name, what) -> {
        if (stats.get(name) instanceof Number n) {
          long now = n.longValue();
          long delta = now - last.getOrDefault(name, 0L);
          last.put(name, now);
          if (delta > 0) {
            CloisterMetrics.SFU_DATAGRAMS.withTag("what", what).increment(delta);
          }
        }
      });
    } catch (RuntimeException e) {
      // the next sample tries again; metrics never stop the node
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
