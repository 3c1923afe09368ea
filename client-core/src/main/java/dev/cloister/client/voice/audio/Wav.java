package dev.cloister.client.voice.audio;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;

/** RIFF/WAVE headers for 16-bit PCM (the only kind the engine reads and writes). */
final class Wav {
  static final int HEADER_LENGTH = 44;
  /** A data chunk's size field is 32 bits; stop well before it would wrap. */
  static final long MAX_DATA_BYTES = 0x7FFF_0000L;

  private Wav() {
  }

  /** The format of a WAV file's PCM data. */
  record Format(int sampleRate, int channels, int bitsPerSample, long dataBytes) {
  }

  /** A canonical 44-byte header for 48 kHz mono 16-bit PCM with {@code dataBytes} of samples. */
  static byte[] header(long dataBytes) {
    byte[] h = new byte[HEADER_LENGTH];
    ascii(h, 0, "RIFF");
    le32(h, 4, 36 + dataBytes);
    ascii(h, 8, "WAVE");
    ascii(h, 12, "fmt ");
    le32(h, 16, 16);
    le16(h, 20, 1); // PCM
    le16(h, 22, 1);
    le32(h, 24, Pcm.SAMPLE_RATE);
    le32(h, 28, Pcm.SAMPLE_RATE * 2L);
    le16(h, 32, 2);
    le16(h, 34, 16);
    ascii(h, 36, "data");
    le32(h, 40, dataBytes);
    return h;
  }

  /**
   * Reads chunks up to the start of the PCM data, every length bounded.
   *
   * @throws IOException naming what is wrong: not RIFF/WAVE, not PCM, no data chunk
   */
  static Format readHeader(InputStream in, String name) throws IOException {
    DataInputStream d = new DataInputStream(in);
    byte[] four = new byte[4];
    try {
      d.readFully(four);
      if (!"RIFF".equals(new String(four, java.nio.charset.StandardCharsets.US_ASCII))) {
        throw new IOException(name + " is not a WAV file (no RIFF header)");
      }
      d.readInt();
      d.readFully(four);
      if (!"WAVE".equals(new String(four, java.nio.charset.StandardCharsets.US_ASCII))) {
        throw new IOException(name + " is not a WAV file (RIFF type is not WAVE)");
      }
      int rate = -1;
      int channels = -1;
      int bits = -1;
      for (int chunks = 0; chunks < 64; chunks++) {
        d.readFully(four);
        String id = new String(four, java.nio.charset.StandardCharsets.US_ASCII);
        long size = Integer.toUnsignedLong(Integer.reverseBytes(d.readInt()));
        if ("fmt ".equals(id)) {
          if (size < 16 || size > 64) {
            throw new IOException(name + ": fmt chunk of " + size + " bytes");
          }
          byte[] fmt = new byte[(int) size];
          d.readFully(fmt);
          int tag = (fmt[0] & 0xFF) | (fmt[1] & 0xFF) << 8;
          channels = (fmt[2] & 0xFF) | (fmt[3] & 0xFF) << 8;
          rate = (fmt[4] & 0xFF) | (fmt[5] & 0xFF) << 8 | (fmt[6] & 0xFF) << 16 | (fmt[7] & 0xFF) << 24;
          bits = (fmt[14] & 0xFF) | (fmt[15] & 0xFF) << 8;
          boolean extensiblePcm = tag == 0xFFFE && size >= 26 && fmt[24] == 1 && fmt[25] == 0;
          if (tag != 1 && !extensiblePcm) {
            throw new IOException(name + ": only PCM WAV files are supported (format tag " + tag + ")");
          }
          if ((size & 1) == 1) {
            d.skipBytes(1);
          }
        } else if ("data".equals(id)) {
          if (rate < 0) {
            throw new IOException(name + ": data chunk before the fmt chunk");
          }
          return new Format(rate, channels, bits, size);
        } else {
          if (size > 1 << 24) {
            throw new IOException(name + ": chunk '" + id + "' of " + size + " bytes before the audio");
          }
          long skip = size + (size & 1);
          if (d.skip(skip) != skip) {
            throw new EOFException();
          }
        }
      }
      throw new IOException(name + ": no data chunk in the first 64 chunks");
    } catch (EOFException e) {
      throw new IOException(name + " ends inside its WAV header", e);
    }
  }

  private static void ascii(byte[] b, int p, String s) {
    for (int i = 0; i < 4; i++) {
      b[p + i] = (byte) s.charAt(i);
    }
  }

  static void le16(byte[] b, int p, int v) {
    b[p] = (byte) v;
    b[p + 1] = (byte) (v >>> 8);
  }

  static void le32(byte[] b, int p, long v) {
    b[p] = (byte) v;
    b[p + 1] = (byte) (v >>> 8);
    b[p + 2] = (byte) (v >>> 16);
    b[p + 3] = (byte) (v >>> 24);
  }
}
