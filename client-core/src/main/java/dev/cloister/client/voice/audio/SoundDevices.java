package dev.cloister.client.voice.audio;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import javax.sound.sampled.AudioSystem;
import javax.sound.sampled.DataLine;
import javax.sound.sampled.Line;
import javax.sound.sampled.LineUnavailableException;
import javax.sound.sampled.Mixer;
import javax.sound.sampled.SourceDataLine;
import javax.sound.sampled.TargetDataLine;

/**
 * The machine's sound devices (javax.sound.sampled mixers) that take the engine's format
 * ({@link Pcm#FORMAT}), listed and chosen by name. A machine without a sound card lists none;
 * opening one then fails with a message that says to use a file or a tone instead.
 */
public final class SoundDevices {

  private SoundDevices() {
  }

  /** Names of devices that can capture 48 kHz mono 16-bit audio (microphones). */
  public static List<String> microphones() {
    return names(TargetDataLine.class);
  }

  /** Names of devices that can play 48 kHz mono 16-bit audio. */
  public static List<String> speakers() {
    return names(SourceDataLine.class);
  }

  private static List<String> names(Class<? extends Line> kind) {
    List<String> out = new ArrayList<>();
    DataLine.Info want = new DataLine.Info(kind, Pcm.FORMAT);
    for (Mixer.Info info : AudioSystem.getMixerInfo()) {
      try {
        if (AudioSystem.getMixer(info).isLineSupported(want)) {
          out.add(info.getName());
        }
      } catch (RuntimeException e) {
        // A mixer that cannot be queried is not usable either.
      }
    }
    return out;
  }

  /** Opens the named microphone, or the system default when {@code name} is null. */
  public static AudioSource microphone(String name) throws IOException {
    TargetDataLine line = (TargetDataLine) open(TargetDataLine.class, name, "microphone");
    return new SoundCardSource(line, name == null ? "default microphone" : name);
  }

  /** Opens the named speaker, or the system default when {@code name} is null. */
  public static AudioSink speaker(String name) throws IOException {
    SourceDataLine line = (SourceDataLine) open(SourceDataLine.class, name, "speaker");
    return new SoundCardSink(line, name == null ? "default speaker" : name);
  }

  private static DataLine open(Class<? extends DataLine> kind, String name, String what) throws IOException {
    DataLine.Info want = new DataLine.Info(kind, Pcm.FORMAT);
    int buffer = Pcm.FRAME_SAMPLES * 2 * 10; // 200 ms
    try {
      DataLine line;
      if (name == null) {
        line = (DataLine) AudioSystem.getLine(want);
      } else {
        Mixer.Info found = null;
        for (Mixer.Info info : AudioSystem.getMixerInfo()) {
          if (info.getName().equals(name)) {
            found = info;
            break;
          }
        }
        if (found == null) {
          throw new IOException("no sound device named '" + name + "'; " + what + "s here: "
              + names(kind));
        }
        line = (DataLine) AudioSystem.getMixer(found).getLine(want);
      }
      if (line instanceof TargetDataLine t) {
        t.open(Pcm.FORMAT, buffer);
      } else {
        ((SourceDataLine) line).open(Pcm.FORMAT, buffer);
      }
      line.start();
      return line;
    } catch (LineUnavailableException | IllegalArgumentException | SecurityException e) {
      throw new IOException("no " + what + " can be opened for 48 kHz mono 16-bit audio ("
          + e.getMessage() + "); use a WAV file or a generated tone instead", e);
    }
  }

  /** A microphone line read one frame per period, never blocking: an underrun gives silence. */
  static final class SoundCardSource implements AudioSource {
    private final TargetDataLine line;
    private final String name;
    private final byte[] bytes = new byte[Pcm.FRAME_SAMPLES * 2];

    SoundCardSource(TargetDataLine line, String name) {
      this.line = line;
      this.name = name;
    }

    @Override
    public boolean read(short[] frame) {
      int available = line.available();
      // More than 100 ms queued means the device clock ran ahead of ours: drop the excess to keep latency bounded.
      while (available >= bytes.length * 6) {
        line.read(bytes, 0, bytes.length);
        available -= bytes.length;
      }
      if (available < bytes.length) {
        java.util.Arrays.fill(frame, 0, Pcm.FRAME_SAMPLES, (short) 0);
        return true;
      }
      line.read(bytes, 0, bytes.length);
      Pcm.toSamples(bytes, 0, frame, Pcm.FRAME_SAMPLES);
      return true;
    }

    @Override
    public String describe() {
      return "microphone " + name;
    }

    @Override
    public void close() {
      line.stop();
      line.close();
    }
  }

  /** A speaker line written one frame per period, never blocking: a full line drops the frame. */
  static final class SoundCardSink implements AudioSink {
    private final SourceDataLine line;
    private final String name;
    private final byte[] bytes = new byte[Pcm.FRAME_SAMPLES * 2];

    SoundCardSink(SourceDataLine line, String name) {
      this.line = line;
      this.name = name;
    }

    @Override
    public void write(short[] frame) {
      if (line.available() < bytes.length) {
        return;
      }
      Pcm.toBytes(frame, Pcm.FRAME_SAMPLES, bytes, 0);
      line.write(bytes, 0, bytes.length);
    }

    @Override
    public String describe() {
      return "speaker " + name;
    }

    @Override
    public void close() {
      line.drain();
      line.stop();
      line.close();
    }
  }
}
