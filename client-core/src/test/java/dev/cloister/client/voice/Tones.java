package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.Pcm;

/** What a stretch of decoded audio contains: the share of its power at one frequency (Goertzel). */
final class Tones {
  private Tones() {
  }

  /** Mean square of the samples, in full-scale units. */
  static double power(short[] x) {
    double sum = 0;
    for (short s : x) {
      double v = s / 32768.0;
      sum += v * v;
    }
    return x.length == 0 ? 0 : sum / x.length;
  }

  /**
   * The power of the sinusoid at {@code hz} in {@code x} (amplitude² / 2, full-scale units), from
   * a Hann-windowed Goertzel filter, so nearby tones leak little.
   */
  static double powerAt(short[] x, double hz) {
    int n = x.length;
    double w = 2 * Math.PI * hz / Pcm.SAMPLE_RATE;
    double coeff = 2 * Math.cos(w);
    double s1 = 0;
    double s2 = 0;
    double windowSum = 0;
    for (int i = 0; i < n; i++) {
      double win = 0.5 - 0.5 * Math.cos(2 * Math.PI * i / (n - 1));
      windowSum += win;
      double s0 = x[i] / 32768.0 * win + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    double re = s1 - s2 * Math.cos(w);
    double im = s2 * Math.sin(w);
    double amplitude = 2 * Math.sqrt(re * re + im * im) / windowSum;
    return amplitude * amplitude / 2;
  }

  /** The share (0..1) of the signal's power that is the tone at {@code hz}; 0 for silence. */
  static double share(short[] x, double hz) {
    double total = power(x);
    return total < 1e-9 ? 0 : powerAt(x, hz) / total;
  }
}
