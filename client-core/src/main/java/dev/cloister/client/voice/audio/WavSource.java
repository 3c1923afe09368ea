package dev.cloister.client.voice.audio;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Audio from a WAV file: 16-bit PCM at 48 kHz, mono or stereo (mixed down). Other rates and
 * sample sizes are refused with the reason (the engine does not resample). With {@code loop} the
 * file starts again at its end; otherwise the source ends, the last frame padded with silence.
 */
public final class WavSource implements AudioSource {
  private final Path path;
  private final boolean loop;
  private final int channels;
  private final long dataBytes;
  private InputStream in;
  private long consumed;
  private final byte[] raw;

  private WavSource(Path path, boolean loop) throws IOException {
    this.path = path;
    this.loop = loop;
    this.in = new BufferedInputStream(Files.newInputStream(path));
    Wav.Format f;
    try {
      f = Wav.readHeader(in, path.toString());
    } catch (IOException e) {
      in.close();
      throw e;
    }
    String problem = f.sampleRate() != Pcm.SAMPLE_RATE ? "is " + f.sampleRate() + " Hz, not 48000 Hz"
        : f.bitsPerSample() != 16 ? "has " + f.bitsPerSample() + "-bit samples, not 16-bit"
        : f.channels() != 1 && f.channels() != 2 ? "has " + f.channels() + " channels, not 1 or 2" : null;
    if (problem != null) {
      in.close();
      throw new IOException(path + " " + problem + " (convert it to 48 kHz 16-bit PCM)");
    }
    this.channels = f.channels();
    this.dataBytes = f.dataBytes();
    this.raw = new byte[Pcm.FRAME_SAMPLES * 2 * channels];
  }

  public static WavSource open(Path path, boolean loop) throws IOException {
    return new WavSource(path, loop);
  }

  @Override
  public boolean read(short[] frame) throws IOException {
    int want = raw.length;
    int got = fill(want);
    if (got == 0 && loop && consumed > 0) {
      in.close();
      in = new BufferedInputStream(Files.newInputStream(path));
      Wav.readHeader(in, path.toString());
      consumed = 0;
      got = fill(want);
    }
    if (got == 0) {
      return false;
    }
    java.util.Arrays.fill(raw, got, want, (byte) 0);
    for (int i = 0; i < Pcm.FRAME_SAMPLES; i++) {
      int p = i * 2 * channels;
      int s = (short) ((raw[p] & 0xFF) | (raw[p + 1] << 8));
      if (channels == 2) {
        s = (s + (short) ((raw[p + 2] & 0xFF) | (raw[p + 3] << 8))) / 2;
      }
      frame[i] = (short) s;
    }
    return true;
  }

  private int fill(int want) throws IOException {
    int got = 0;
    long left = dataBytes - consumed;
    int limit = (int) Math.min(want, left);
    while (got < limit) {
      int n = in.read(raw, got, limit - got);
      if (n < 0) {
        break;
      }
      got += n;
    }
    consumed += got;
    return got;
  }

  @Override
  public String describe() {
    return "file " + path.getFileName();
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
