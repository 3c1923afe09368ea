package dev.cloister.node.limits;

import com.typesafe.config.Config;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Rate limits by key (an IP address, a session): a token bucket per key holding up to
 * {@code burst} tokens, refilled at {@code perSecond}. Buckets that are full again are forgotten
 * when the table grows past {@code maxKeys}, so memory stays bounded under a spray of addresses.
 */
public final class TokenBuckets {

  private static final int MAX_KEYS = 100_000;

  private final double burst;
  private final double perNano;
  private final LongSupplier nanoClock;
  private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

  private static final class Bucket {
    double tokens;
    long at;

    Bucket(double tokens, long at) {
      this.tokens = tokens;
      this.at = at;
    }
  }

  public TokenBuckets(double burst, double perSecond, LongSupplier nanoClock) {
    if (burst < 1 || perSecond <= 0) {
      throw new IllegalArgumentException("a rate limit needs burst >= 1 and per-second > 0");
    }
    this.burst = burst;
    this.perNano = perSecond / 1e9;
    this.nanoClock = nanoClock;
  }

  /** From a config block {@code { burst = .., per-second = .. }}. */
  public static TokenBuckets of(Config config) {
    return new TokenBuckets(config.getDouble("burst"), config.getDouble("per-second"), System::nanoTime);
  }

  /** Takes a token for {@code key}: 0 if there was one, else the milliseconds until there is. */
  public long take(String key) {
    long now = nanoClock.getAsLong();
    if (buckets.size() > MAX_KEYS) {
      buckets.entrySet().removeIf(e -> refill(e.getValue(), now) >= burst);
    }
    Bucket b = buckets.computeIfAbsent(key, k -> new Bucket(burst, now));
    synchronized (b) {
      double tokens = refill(b, now);
      if (tokens >= 1) {
        b.tokens = tokens - 1;
        b.at = now;
        return 0;
      }
      return Math.max(1, (long) Math.ceil((1 - tokens) / perNano / 1e6));
    }
  }

  private double refill(Bucket b, long now) {
    return Math.min(burst, b.tokens + (now - b.at) * perNano);
  }

  /** A single bucket without a table, for one session's own limit. */
  public static final class Single {
    private final double burst;
    private final double perNano;
    private double tokens;
    private long at;

    public Single(double burst, double perSecond, long now) {
      this.burst = burst;
      this.perNano = perSecond / 1e9;
      this.tokens = burst;
      this.at = now;
    }

    /** Not thread-safe: one owner (an actor). */
    public boolean take(long now) {
      tokens = Math.min(burst, tokens + (now - at) * perNano);
      at = now;
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      return false;
    }
  }
}
