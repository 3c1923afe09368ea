package dev.cloister.load;

import io.gatling.commons.stats.KO$;
import io.gatling.commons.stats.OK$;
import io.gatling.core.stats.StatsEngine;
import java.util.concurrent.atomic.AtomicReference;
import scala.Option;
import scala.collection.immutable.List$;

/**
 * Writes timings into the Gatling run's statistics from any thread, so that what a receiver
 * measures (a message's send-to-delivery time, a message lost) appears in the report and its
 * assertions like a request. Bound to the run's stats engine when the first {@link ClientCall}
 * of the simulation is built.
 */
public final class Recorder {

  private final AtomicReference<StatsEngine> stats = new AtomicReference<>();
  private final String scenario;

  /** {@code scenario}: the scenario the recorded requests are reported under. */
  public Recorder(String scenario) {
    this.scenario = scenario;
  }

  void bind(StatsEngine engine) {
    stats.compareAndSet(null, engine);
  }

  /** A success named {@code name} that took from {@code startMillis} to {@code endMillis} (epoch ms). */
  public void ok(String name, long startMillis, long endMillis) {
    log(name, startMillis, endMillis, true, null);
  }

  /** A failure named {@code name}, with why. */
  public void ko(String name, long startMillis, long endMillis, String why) {
    log(name, startMillis, endMillis, false, why);
  }

  private void log(String name, long start, long end, boolean ok, String why) {
    StatsEngine engine = stats.get();
    if (engine == null) {
      return; // nothing built yet: no run to report into
    }
    engine.logResponse(scenario, List$.MODULE$.empty(), name, start, Math.max(start, end),
        ok ? OK$.MODULE$ : KO$.MODULE$, Option.empty(),
        why == null ? Option.empty() : Option.apply(why));
  }
}
