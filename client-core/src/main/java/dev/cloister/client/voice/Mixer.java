package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.Pcm;

/**
 * Sums the streams of one 20 ms tick into one frame, clipping at full scale. Opus output of a
 * few speakers rarely reaches it; the SFU forwards at most its top-N (3 by default).
 */
final class Mixer {
  private final int[] sum = new int[Pcm.FRAME_SAMPLES];
  private int sources;

  void clear() {
    java.util.Arrays.fill(sum, 0);
    sources = 0;
  }

  void add(short[] pcm) {
    for (int i = 0; i < Pcm.FRAME_SAMPLES; i++) {
      sum[i] += pcm[i];
    }
    sources++;
  }

  int sources() {
    return sources;
  }

  /** The mix, clipped to 16 bits, into {@code out}. */
  void mixInto(short[] out) {
    for (int i = 0; i < Pcm.FRAME_SAMPLES; i++) {
      int s = sum[i];
      out[i] = (short) (s > Short.MAX_VALUE ? Short.MAX_VALUE : s < Short.MIN_VALUE ? Short.MIN_VALUE : s);
    }
  }
}
