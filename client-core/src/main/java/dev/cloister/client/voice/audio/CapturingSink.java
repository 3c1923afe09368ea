package dev.cloister.client.voice.audio;

import java.util.Arrays;

/**
 * Keeps the last {@code maxSeconds} of what the engine played in memory (tests, bots that
 * analyse what they hear). Thread-safe: the engine writes, anyone may read a copy.
 */
public final class CapturingSink implements AudioSink {
  private final short[] ring;
  private long written;

  public CapturingSink(int maxSeconds) {
    if (maxSeconds < 1 || maxSeconds > 3600) {
      throw new IllegalArgumentException("keep 1..3600 s, not " + maxSeconds);
    }
    this.ring = new short[maxSeconds * Pcm.SAMPLE_RATE];
  }

  @Override
  public synchronized void write(short[] frame) {
    for (int i = 0; i < Pcm.FRAME_SAMPLES; i++) {
      ring[(int) ((written + i) % ring.length)] = frame[i];
    }
    written += Pcm.FRAME_SAMPLES;
  }

  /** Samples written since the start (including those no longer kept). */
  public synchronized long samplesWritten() {
    return written;
  }

  /** The last {@code samples} samples written (fewer if fewer are kept), oldest first. */
  public synchronized short[] last(int samples) {
    int n = (int) Math.min(Math.min(samples, written), ring.length);
    short[] out = new short[n];
    long start = written - n;
    for (int i = 0; i < n; i++) {
      out[i] = ring[(int) ((start + i) % ring.length)];
    }
    return out;
  }

  /** Everything kept, oldest first. */
  public short[] all() {
    return last(ring.length);
  }

  public synchronized void clear() {
    Arrays.fill(ring, (short) 0);
    written = 0;
  }

  @Override
  public String describe() {
    return "memory";
  }

  @Override
  public void close() {
  }
}
