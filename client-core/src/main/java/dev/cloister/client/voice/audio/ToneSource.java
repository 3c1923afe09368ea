package dev.cloister.client.voice.audio;

/**
 * A generated sine tone (bots, tests, machines without a microphone): {@code hz} at {@code dbfs}
 * (peak, below full scale), for {@code frames} frames or forever when negative. The phase
 * carries over between frames, so the tone has no clicks.
 */
public final class ToneSource implements AudioSource {
  private final double hz;
  private final double amplitude;
  private long remaining;
  private double phase;

  public ToneSource(double hz, double dbfs, long frames) {
    if (!(hz > 0 && hz < Pcm.SAMPLE_RATE / 2.0)) {
      throw new IllegalArgumentException("tone frequency must be between 0 and 24000 Hz, not " + hz);
    }
    if (!(dbfs <= 0 && dbfs >= -96)) {
      throw new IllegalArgumentException("tone level must be between -96 and 0 dBFS, not " + dbfs);
    }
    this.hz = hz;
    this.amplitude = 32767 * Math.pow(10, dbfs / 20);
    this.remaining = frames;
  }

  /** An endless tone at -12 dBFS. */
  public static ToneSource of(double hz) {
    return new ToneSource(hz, -12, -1);
  }

  @Override
  public boolean read(short[] frame) {
    if (remaining == 0) {
      return false;
    }
    if (remaining > 0) {
      remaining--;
    }
    double w = 2 * Math.PI * hz / Pcm.SAMPLE_RATE;
    for (int i = 0; i < Pcm.FRAME_SAMPLES; i++) {
      frame[i] = (short) Math.round(amplitude * Math.sin(phase));
      phase += w;
    }
    phase %= 2 * Math.PI; // kept small so precision does not drift over hours
    return true;
  }

  @Override
  public String describe() {
    return "tone " + hz + " Hz";
  }

  @Override
  public void close() {
  }
}
