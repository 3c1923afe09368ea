package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.Pcm;

/**
 * One sender's adaptive jitter buffer of decrypted Opus frames, keyed by RTP timestamp (one
 * frame per 960 ticks). Frames are put in as they arrive, in any order, and taken out one per
 * 20 ms playout tick after a playout delay of {@code target} frames:
 *
 * <ul>
 *   <li>the frame due is there: {@link #FRAME};</li>
 *   <li>it is missing but a later one is there (loss): move on, with {@link #FEC} when the next
 *       frame is there to rebuild it from its in-band FEC, else {@link #PLC};</li>
 *   <li>nothing later is there (the network is late): {@link #PLC} without moving on, which
 *       stretches the playout and raises the delay target by a frame (at most {@code max});</li>
 *   <li>after {@code maxConceal} such frames in a row the stream counts as paused ({@link #NONE},
 *       silence) and its next frame starts a new playout.</li>
 * </ul>
 *
 * After 10 s without a late frame the target drops a frame and, if more than the target is
 * queued, one frame is skipped to shed the delay; with more than 4 frames queued beyond the
 * target, one is skipped every tick. Frames behind the playout point are late
 * and dropped. No allocation after construction; one thread only.
 */
final class JitterBuffer {
  static final int CAPACITY = 64;
  /** The largest Opus packet (RFC 6716 section 3.4, R5). */
  static final int MAX_OPUS = 1275;

  static final int NONE = 0;
  static final int FRAME = 1;
  static final int FEC = 2;
  static final int PLC = 3;

  static final int PUT_OK = 0;
  static final int PUT_LATE = 1;
  static final int PUT_DUPLICATE = 2;
  static final int PUT_RESTART = 3;

  private static final long SHRINK_AFTER_NANOS = 10_000_000_000L;
  /** Frames queued beyond the target that are dropped one per tick without waiting. */
  private static final int EXCESS_LIMIT = 4;

  private final byte[][] data = new byte[CAPACITY][MAX_OPUS];
  private final int[] length = new int[CAPACITY];
  private final long[] frameOf = new long[CAPACITY];
  private final int min;
  private final int max;
  private final int maxConceal;

  private boolean playing;
  private boolean buffering;
  private long startAt;
  private long playFrame;
  private long highest;
  private long lastExtended = Long.MIN_VALUE;
  private int target;
  private int missRun;
  private long lastLate;

  private int outSlot = -1;
  private long skipped;

  JitterBuffer(int min, int max, int maxConceal) {
    this.min = min;
    this.max = max;
    this.maxConceal = maxConceal;
    this.target = min;
    java.util.Arrays.fill(frameOf, Long.MIN_VALUE);
  }

  /** Extends a 32-bit RTP timestamp to 64 bits around the last one seen, then to a frame number. */
  private long frameNumber(long rtpTimestamp) {
    long ext;
    if (lastExtended == Long.MIN_VALUE) {
      ext = rtpTimestamp;
    } else {
      int delta = (int) (rtpTimestamp - (lastExtended & 0xFFFF_FFFFL));
      ext = lastExtended + delta;
    }
    if (lastExtended == Long.MIN_VALUE || ext > lastExtended) {
      lastExtended = ext;
    }
    return Math.floorDiv(ext, Pcm.FRAME_SAMPLES);
  }

  /** Takes one decrypted Opus frame; returns a PUT_ code. */
  int put(long rtpTimestamp, byte[] src, int off, int len, long nowNanos) {
    if (len > MAX_OPUS) {
      len = MAX_OPUS; // cannot happen for a real Opus frame; the decoder then refuses it
    }
    long f = frameNumber(rtpTimestamp);
    int result = PUT_OK;
    if (!playing && !buffering) {
      clear();
      buffering = true;
      startAt = nowNanos + (long) target * Pcm.FRAME_MILLIS * 1_000_000L;
      playFrame = f;
      highest = f;
    } else if (f < playFrame) {
      if (buffering && highest - f < CAPACITY) {
        playFrame = f; // reordered before playout began
      } else {
        lastLate = nowNanos;
        return PUT_LATE;
      }
    } else if (f - playFrame >= CAPACITY) {
      // Far ahead of the playout point: the sender jumped (a long pause we did not see); start over.
      clear();
      playing = false;
      buffering = true;
      startAt = nowNanos + (long) target * Pcm.FRAME_MILLIS * 1_000_000L;
      playFrame = f;
      highest = f;
      result = PUT_RESTART;
    }
    int slot = (int) Math.floorMod(f, (long) CAPACITY);
    if (frameOf[slot] == f) {
      return PUT_DUPLICATE;
    }
    System.arraycopy(src, off, data[slot], 0, len);
    length[slot] = len;
    frameOf[slot] = f;
    if (f > highest) {
      highest = f;
    }
    return result;
  }

  /**
   * What to play this tick; for FRAME and FEC the Opus bytes are {@link #data()} up to
   * {@link #length()} (for FEC: the next frame, to decode with its FEC flag set).
   */
  int poll(long nowNanos) {
    outSlot = -1;
    if (buffering) {
      if (nowNanos - startAt < 0) {
        return NONE;
      }
      buffering = false;
      playing = true;
      missRun = 0;
      lastLate = nowNanos;
    }
    if (!playing) {
      return NONE;
    }
    boolean shrink = nowNanos - lastLate > SHRINK_AFTER_NANOS;
    if (shrink) {
      lastLate = nowNanos;
      if (target > min) {
        target--;
      }
    }
    // Shed a frame of delay: after a quiet spell, or at once when far more is queued than the
    // target (a burst after the network or this device stalled), so the delay does not stay.
    int excess = queued() - target;
    if ((shrink && excess > 1 || excess > EXCESS_LIMIT) && has(playFrame) && has(playFrame + 1)) {
      drop(playFrame++);
      skipped++;
    }
    long f = playFrame;
    if (has(f)) {
      outSlot = slot(f);
      frameOf[outSlot] = Long.MIN_VALUE; // consumed; data stays valid until the next put in this slot
      playFrame++;
      missRun = 0;
      return FRAME;
    }
    missRun++;
    if (highest > f) {
      playFrame++; // lost: move on
      if (missRun > maxConceal) {
        missRun = 0; // a burst longer than we conceal: play what follows at once
      }
      if (has(f + 1)) {
        outSlot = slot(f + 1);
        return FEC;
      }
      return PLC;
    }
    if (missRun == 1) {
      lastLate = nowNanos;
      if (target < max) {
        target++;
      }
    }
    if (missRun > maxConceal) {
      playing = false; // paused (DTX, left the top speakers, gone)
      return NONE;
    }
    return PLC;
  }

  byte[] data() {
    return data[outSlot];
  }

  int length() {
    return length[outSlot];
  }

  /** Frames from the playout point to the newest one held, gaps included. */
  int queued() {
    return playing || buffering ? (int) Math.max(0, highest - playFrame + 1) : 0;
  }

  int target() {
    return target;
  }

  boolean playing() {
    return playing;
  }

  long skipped() {
    return skipped;
  }

  private boolean has(long f) {
    return frameOf[slot(f)] == f;
  }

  private void drop(long f) {
    frameOf[slot(f)] = Long.MIN_VALUE;
  }

  private static int slot(long f) {
    return (int) Math.floorMod(f, (long) CAPACITY);
  }

  private void clear() {
    java.util.Arrays.fill(frameOf, Long.MIN_VALUE);
  }
}
