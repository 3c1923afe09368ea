package dev.cloister.client.voice;

/** {@link Tones#share} for tests outside this package. */
public final class ToneShare {
  private ToneShare() {
  }

  public static double of(short[] samples, double hz) {
    return Tones.share(samples, hz);
  }
}
