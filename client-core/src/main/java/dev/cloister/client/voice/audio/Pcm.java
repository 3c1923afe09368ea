package dev.cloister.client.voice.audio;

/**
 * The one audio format the voice engine handles: 48 kHz, mono, signed 16-bit samples, in 20 ms
 * frames of 960 samples (Opus's 20 ms frame at its native rate, RFC 7587).
 */
public final class Pcm {
  public static final int SAMPLE_RATE = 48_000;
  public static final int FRAME_MILLIS = 20;
  public static final int FRAME_SAMPLES = SAMPLE_RATE / 1000 * FRAME_MILLIS;
  /** The engine's line format for javax.sound and WAV files: 48 kHz, 16-bit, mono, signed, little-endian. */
  public static final javax.sound.sampled.AudioFormat FORMAT =
      new javax.sound.sampled.AudioFormat(SAMPLE_RATE, 16, 1, true, false);

  private Pcm() {
  }

  /**
   * The RFC 6464 audio level of a frame: its RMS in -dBov (0 loudest, 127 silence), where 0 dBov
   * is a full-scale square wave.
   */
  public static int audioLevel(short[] frame, int samples) {
    if (samples <= 0) {
      return 127;
    }
    double sum = 0;
    for (int i = 0; i < samples; i++) {
      double s = frame[i] / 32768.0;
      sum += s * s;
    }
    double rms = Math.sqrt(sum / samples);
    if (rms <= 0) {
      return 127;
    }
    double dbov = 20 * Math.log10(rms);
    return (int) Math.max(0, Math.min(127, Math.round(-dbov)));
  }

  /** Little-endian 16-bit bytes to samples. */
  public static void toSamples(byte[] in, int inOff, short[] out, int samples) {
    for (int i = 0; i < samples; i++) {
      out[i] = (short) ((in[inOff + 2 * i] & 0xFF) | (in[inOff + 2 * i + 1] << 8));
    }
  }

  /** Samples to little-endian 16-bit bytes. */
  public static void toBytes(short[] in, int samples, byte[] out, int outOff) {
    for (int i = 0; i < samples; i++) {
      out[outOff + 2 * i] = (byte) in[i];
      out[outOff + 2 * i + 1] = (byte) (in[i] >> 8);
    }
  }
}
