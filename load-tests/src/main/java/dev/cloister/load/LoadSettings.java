package dev.cloister.load;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * What a run is told, read from system properties ({@code ./cloister load} and the smoke test set
 * them; {@code mvn gatling:test -D...} works too). Every value is checked here, so a bad one stops
 * the run before any account is made.
 *
 * @param url the node's HTTP address ({@code cloister.url})
 * @param users virtual users: accounts prepared and online ({@code load.users})
 * @param duration how long the measured phase lasts ({@code load.duration}, e.g. 60s, 2m)
 * @param ramp how long users take to arrive ({@code load.ramp})
 * @param posters chat-fanout: members that post ({@code load.posters})
 * @param rate chat-fanout: messages per second, all posters together ({@code load.rate})
 * @param decrypting members that decrypt every message ({@code load.decrypting}); every member
 *     records delivery, these also record send-to-decrypted
 * @param joins mixed: newcomers who join the guild during the run ({@code load.joins})
 * @param think mixed: a member's mean pause between two actions ({@code load.think})
 * @param speakers voice-join: participants who send a tone, the first to join; the rest join
 *     muted and listen ({@code load.speakers}, default 3, at most users - 1)
 * @param voice mixed: members who use the voice channel: one stays in the call speaking, the
 *     others come and go ({@code load.voice}, default min(users, 3); 0: no voice)
 * @param workDir where accounts' CSV and device homes are kept ({@code load.work-dir})
 * @param threads worker threads for the SDK's blocking calls ({@code load.threads})
 * @param latencyLimits whether the simulations assert their p99 limits
 *     ({@code load.latency-limits}, on by default; the smoke test on a shared build machine
 *     turns them off and keeps the assertions that need no clock: nothing failed, nothing lost)
 */
public record LoadSettings(URI url, int users, Duration duration, Duration ramp, int posters,
    double rate, int decrypting, int joins, Duration think, int speakers, int voice, Path workDir,
    int threads, boolean latencyLimits) {

  public static LoadSettings fromSystemProperties() {
    String url = System.getProperty("cloister.url", "");
    if (url.isBlank()) {
      throw new IllegalArgumentException("cloister.url is not set: the node to load, e.g. "
          + "http://127.0.0.1:8080");
    }
    URI uri;
    try {
      uri = URI.create(url);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("cloister.url is not a URL: " + url);
    }
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())
        || uri.getHost() == null) {
      throw new IllegalArgumentException("cloister.url must be http://host:port or https://..., not "
          + url);
    }
    int users = intProperty("load.users", 10, 1, 100_000);
    Duration duration = duration("load.duration", "30s");
    Duration ramp = duration("load.ramp", "10s");
    int posters = intProperty("load.posters", Math.min(users, 5), 1, users);
    double rate = doubleProperty("load.rate", 2.0, 0.01, 10_000);
    int decrypting = intProperty("load.decrypting", Math.min(users, 3), 0, users);
    int joins = intProperty("load.joins", Math.max(1, users / 10), 0, 100_000);
    Duration think = duration("load.think", "5s");
    if (think.isZero()) {
      throw new IllegalArgumentException("load.think must be more than 0s");
    }
    int speakers = intProperty("load.speakers", Math.max(1, Math.min(3, users - 1)), 1,
        Math.max(1, users - 1));
    int voice = intProperty("load.voice", Math.min(users, 3), 0, users);
    String dir = System.getProperty("load.work-dir", "");
    Path workDir = dir.isBlank() ? defaultWorkDir() : Path.of(dir);
    int threads = intProperty("load.threads", 32, 1, 1024);
    String limits = System.getProperty("load.latency-limits", "on").trim();
    if (!limits.equals("on") && !limits.equals("off")) {
      throw new IllegalArgumentException("load.latency-limits must be on or off, not '" + limits
          + "'");
    }
    return new LoadSettings(uri, users, duration, ramp, posters, rate, decrypting, joins, think,
        speakers, voice, workDir, threads, limits.equals("on"));
  }

  /** tmpfs when there is one: the SDK fsyncs its homes, which would make the disk the bottleneck. */
  private static Path defaultWorkDir() {
    Path shm = Path.of("/dev/shm");
    Path base = Files.isDirectory(shm) && Files.isWritable(shm) ? shm
        : Path.of(System.getProperty("java.io.tmpdir"));
    return base.resolve("cloister-load");
  }

  static int intProperty(String key, int def, int min, int max) {
    String v = System.getProperty(key);
    if (v == null || v.isBlank()) {
      return def;
    }
    int n;
    try {
      n = Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be a whole number, not '" + v + "'");
    }
    if (n < min || n > max) {
      throw new IllegalArgumentException(key + " must be between " + min + " and " + max
          + ", not " + n);
    }
    return n;
  }

  static double doubleProperty(String key, double def, double min, double max) {
    String v = System.getProperty(key);
    if (v == null || v.isBlank()) {
      return def;
    }
    double d;
    try {
      d = Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + " must be a number, not '" + v + "'");
    }
    if (!(d >= min && d <= max)) {
      throw new IllegalArgumentException(key + " must be between " + min + " and " + max
          + ", not " + v);
    }
    return d;
  }

  static Duration duration(String key, String def) {
    String v = System.getProperty(key, def);
    return parseDuration(key, v == null || v.isBlank() ? def : v);
  }

  /** 250ms, 30s, 2m, 1h or a bare number of seconds. */
  public static Duration parseDuration(String what, String text) {
    String v = text.trim().toLowerCase(Locale.ROOT);
    try {
      Duration d;
      if (v.endsWith("ms")) {
        d = Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
      } else if (v.endsWith("s")) {
        d = Duration.ofSeconds(Long.parseLong(v.substring(0, v.length() - 1)));
      } else if (v.endsWith("m")) {
        d = Duration.ofMinutes(Long.parseLong(v.substring(0, v.length() - 1)));
      } else if (v.endsWith("h")) {
        d = Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
      } else {
        d = Duration.ofSeconds(Long.parseLong(v));
      }
      if (d.isNegative() || d.compareTo(Duration.ofDays(1)) > 0) {
        throw new IllegalArgumentException(what + " must be between 0s and 24h, not " + text);
      }
      return d;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(what + " must be a duration such as 500ms, 30s, 2m or "
          + "1h, not '" + text + "'");
    }
  }
}
