package dev.cloister.guild;

import java.time.Instant;

/**
 * Time-ordered 64-bit ids: 41 bits of milliseconds since {@link #EPOCH_MILLIS}, 10 bits of node
 * id, 12 bits of sequence. Ids from one generator strictly increase, also when the clock steps
 * back (the generator then borrows from the future rather than repeat an id).
 */
public final class Snowflake {

  /** 2025-01-01T00:00:00Z. Fixed forever: persisted ids depend on it. */
  public static final long EPOCH_MILLIS = 1_735_689_600_000L;

  public static final int MAX_NODE_ID = (1 << 10) - 1;

  private final long nodeId;
  private long lastMillis = -1;
  private long sequence;

  public Snowflake(int nodeId) {
    if (nodeId < 0 || nodeId > MAX_NODE_ID) {
      throw new IllegalArgumentException("node id must be within 0.." + MAX_NODE_ID + ": " + nodeId);
    }
    this.nodeId = nodeId;
  }

  public synchronized long next() {
    long millis = System.currentTimeMillis() - EPOCH_MILLIS;
    if (millis > lastMillis) {
      lastMillis = millis;
      sequence = 0;
    } else if (++sequence > 0xFFF) {
      // Sequence exhausted within this millisecond, or the clock stepped back: borrow the next one.
      lastMillis++;
      sequence = 0;
    }
    return (lastMillis << 22) | (nodeId << 12) | sequence;
  }

  public static Instant timestampOf(long id) {
    return Instant.ofEpochMilli((id >>> 22) + EPOCH_MILLIS);
  }

  /** Parses an id as rendered on the API (decimal string); empty if it is not a positive id. */
  public static java.util.OptionalLong parse(String text) {
    if (text == null || text.isEmpty() || text.length() > 19) {
      return java.util.OptionalLong.empty();
    }
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(i) < '0' || text.charAt(i) > '9') {
        return java.util.OptionalLong.empty();
      }
    }
    try {
      long v = Long.parseLong(text);
      return v > 0 ? java.util.OptionalLong.of(v) : java.util.OptionalLong.empty();
    } catch (NumberFormatException e) {
      return java.util.OptionalLong.empty();
    }
  }
}
