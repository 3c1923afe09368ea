package dev.cloister.client.voice.audio;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * Records what the engine plays to a WAV file (48 kHz mono 16-bit PCM). The header's sizes are
 * written at {@link #close}; a file cut short by a crash still holds its samples. Recording stops
 * (and says so from {@link #truncated()}) before the data would pass the format's 2 GiB limit.
 */
public final class WavSink implements AudioSink {
  private final Path path;
  private final RandomAccessFile file;
  private final byte[] bytes = new byte[Pcm.FRAME_SAMPLES * 2];
  private long dataBytes;
  private boolean truncated;

  public WavSink(Path path) throws IOException {
    this.path = path;
    this.file = new RandomAccessFile(path.toFile(), "rw");
    file.setLength(0);
    file.write(Wav.header(0));
  }

  @Override
  public void write(short[] frame) throws IOException {
    if (dataBytes + bytes.length > Wav.MAX_DATA_BYTES) {
      truncated = true;
      return;
    }
    Pcm.toBytes(frame, Pcm.FRAME_SAMPLES, bytes, 0);
    file.write(bytes);
    dataBytes += bytes.length;
  }

  public boolean truncated() {
    return truncated;
  }

  @Override
  public String describe() {
    return "file " + path.getFileName();
  }

  /** Writes the header's lengths and closes the file; a second close does nothing. */
  @Override
  public void close() throws IOException {
    if (!file.getChannel().isOpen()) {
      return;
    }
    try {
      file.seek(0);
      file.write(Wav.header(dataBytes));
    } finally {
      file.close();
    }
  }
}
