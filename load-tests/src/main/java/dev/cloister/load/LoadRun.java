package dev.cloister.load;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * {@code ./cloister load <simulation> --url URL [--users N] [--duration 60s] [--ramp 30s] ...}:
 * runs one simulation with Gatling in this JVM, prints where its HTML report is, and exits with
 * Gatling's status (non-zero when an assertion failed or the run crashed). The launcher starts a
 * node of its own when no URL is given and passes its URL here.
 */
public final class LoadRun {

  /** The simulations, by the name an operator types. */
  public static final Map<String, Class<? extends CloisterSimulation>> SIMULATIONS = Map.of(
      "connect-storm", ConnectStormSimulation.class,
      "chat-fanout", ChatFanoutSimulation.class,
      "mixed", MixedSimulation.class,
      "voice-join", VoiceJoinSimulation.class);

  /** Options and the system property each one sets. */
  private static final Map<String, String> OPTIONS = new LinkedHashMap<>();

  static {
    OPTIONS.put("--url", "cloister.url");
    OPTIONS.put("--users", "load.users");
    OPTIONS.put("--duration", "load.duration");
    OPTIONS.put("--ramp", "load.ramp");
    OPTIONS.put("--posters", "load.posters");
    OPTIONS.put("--rate", "load.rate");
    OPTIONS.put("--decrypting", "load.decrypting");
    OPTIONS.put("--joins", "load.joins");
    OPTIONS.put("--think", "load.think");
    OPTIONS.put("--speakers", "load.speakers");
    OPTIONS.put("--voice", "load.voice");
    OPTIONS.put("--work-dir", "load.work-dir");
    OPTIONS.put("--threads", "load.threads");
    OPTIONS.put("--results", "load.results");
    OPTIONS.put("--latency-limits", "load.latency-limits");
  }

  /** The options' properties as this JVM started with them (-D), restored before each run. */
  private static final Map<String, String> STARTING = new LinkedHashMap<>();

  static {
    for (String key : OPTIONS.values()) {
      STARTING.put(key, System.getProperty(key));
    }
  }

  /** A run's outcome: Gatling's exit status and the report's index.html, if one was written. */
  public record Outcome(int status, Optional<Path> report) {}

  private LoadRun() {}

  public static void main(String[] args) {
    int status;
    try {
      Outcome o = run(args);
      o.report().ifPresent(r -> System.out.println("report: " + r));
      if (o.status() != 0) {
        System.err.println("cloister load: the run failed (Gatling status " + o.status()
            + "): an assertion did not hold or the run could not complete; see above");
      }
      status = o.status();
    } catch (IllegalArgumentException e) {
      System.err.println("cloister load: " + e.getMessage());
      System.err.println(usage());
      status = 2;
    }
    System.exit(status);
  }

  static String usage() {
    return "usage: ./cloister load <" + String.join("|", new java.util.TreeSet<>(SIMULATIONS.keySet()))
        + "> [--url URL] [--users N] [--duration 60s] [--ramp 30s]\n"
        + "       [--posters K] [--rate MSGS_PER_S] [--decrypting N] [--joins N] [--think 5s]\n"
        + "       [--speakers K] [--voice N]\n"
        + "       [--work-dir DIR] [--threads N] [--results DIR] [--latency-limits on|off]";
  }

  /** Parses the arguments into system properties and runs the simulation. */
  public static Outcome run(String... args) {
    if (args.length == 0) {
      throw new IllegalArgumentException("name a simulation");
    }
    Class<? extends CloisterSimulation> simulation = SIMULATIONS.get(args[0]);
    if (simulation == null) {
      throw new IllegalArgumentException("unknown simulation '" + args[0] + "'");
    }
    STARTING.forEach((key, value) -> {
      if (value == null) {
        System.clearProperty(key);
      } else {
        System.setProperty(key, value);
      }
    });
    List<String> keys = new ArrayList<>();
    for (int i = 1; i < args.length; i++) {
      String key = OPTIONS.get(args[i]);
      if (key == null) {
        throw new IllegalArgumentException("unknown option '" + args[i] + "'");
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(args[i] + " needs a value");
      }
      System.setProperty(key, args[++i]);
      keys.add(key);
    }
    LoadSettings settings = LoadSettings.fromSystemProperties(); // checked before Gatling starts
    if (simulation == VoiceJoinSimulation.class && settings.users() < 2) {
      throw new IllegalArgumentException("voice-join needs at least 2 users: a speaker and "
          + "someone to hear it");
    }
    Path results = Path.of(System.getProperty("load.results", "load-tests/target/gatling"))
        .toAbsolutePath();
    try {
      Files.createDirectories(results);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot create the results folder " + results + ": "
          + e.getMessage());
    }
    long before = System.currentTimeMillis();
    int status;
    try {
      status = io.gatling.app.Gatling$.MODULE$.fromArgs(new String[] {
          "--simulation", simulation.getName(),
          "--results-folder", results.toString(),
          "--run-description", args[0] + " " + String.join(" ", keys.stream()
              .map(k -> k + "=" + System.getProperty(k)).toList()),
          "--launcher", "cloister"});
    } catch (Exception e) { // Scala rethrows the constructor's InvocationTargetException as is
      // The simulation could not be set up (the node unreachable, accounts refused): no run.
      Throwable cause = e instanceof java.lang.reflect.InvocationTargetException && e.getCause()
          != null ? e.getCause() : e;
      System.err.println("cloister load: " + cause.getMessage());
      return new Outcome(1, Optional.empty());
    }
    return new Outcome(status, newestReport(results, before));
  }

  private static Optional<Path> newestReport(Path results, long notBefore) {
    try (Stream<Path> runs = Files.list(results)) {
      return runs.filter(p -> Files.isRegularFile(p.resolve("index.html")))
          .filter(p -> p.toFile().lastModified() >= notBefore - 1000)
          .max(Comparator.comparingLong(p -> p.toFile().lastModified()))
          .map(p -> p.resolve("index.html"));
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
