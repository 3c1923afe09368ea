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

  /** How far ahead of the ids issued a floor file reserves: one write per 10 s of ids. */
  static final long RESERVE_MILLIS = 10_000;

  private final long nodeId;
  private final java.nio.file.Path floorFile;
  private long lastMillis = -1;
  private long sequence;
  private long reservedUntil = Long.MAX_VALUE;

  public Snowflake(int nodeId) {
    if (nodeId < 0 || nodeId > MAX_NODE_ID) {
      throw new IllegalArgumentException("node id must be within 0.." + MAX_NODE_ID + ": " + nodeId);
    }
    this.nodeId = nodeId;
    this.floorFile = null;
  }

  /**
   * A generator that also survives a clock set back while the node was down: {@code floorFile}
   * holds a time (ms since {@link #EPOCH_MILLIS}) beyond every id this node id has issued, written
   * durably before any id reaches it; a restart issues ids from it on, whatever the clock says.
   */
  public Snowflake(int nodeId, java.nio.file.Path floorFile) throws java.io.IOException {
    if (nodeId < 0 || nodeId > MAX_NODE_ID) {
      throw new IllegalArgumentException("node id must be within 0.." + MAX_NODE_ID + ": " + nodeId);
    }
    this.nodeId = nodeId;
    this.floorFile = floorFile;
    if (java.nio.file.Files.exists(floorFile)) {
      String text = java.nio.file.Files.readString(floorFile).strip();
      try {
        lastMillis = Long.parseLong(text);
      } catch (NumberFormatException e) {
        throw new java.io.IOException("the id floor " + floorFile + " is damaged (\"" + text
            + "\"); restore it or remove it only if the clock is known to be right", e);
      }
    }
    reservedUntil = lastMillis;
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
    if (lastMillis >= reservedUntil) {
      reserve(lastMillis + RESERVE_MILLIS);
    }
    return (lastMillis << 22) | (nodeId << 12) | sequence;
  }

  private void reserve(long until) {
    try {
      java.nio.file.Path tmp = floorFile.resolveSibling(floorFile.getFileName() + ".tmp");
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp,
          java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE,
          java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
        ch.write(java.nio.ByteBuffer.wrap(
            (until + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        ch.force(true);
      }
      java.nio.file.Files.move(tmp, floorFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      reservedUntil = until;
    } catch (java.io.IOException e) {
      // No id may be issued that a restart could issue again.
      throw new java.io.UncheckedIOException("cannot reserve ids in " + floorFile, e);
    }
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
