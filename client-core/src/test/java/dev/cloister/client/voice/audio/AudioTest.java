package dev.cloister.client.voice.audio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sources and sinks without a sound card: tone, WAV files both ways, capture, and the device list. */
class AudioTest {
  @TempDir
  Path dir;

  @Test
  void aRecordedToneReadsBackSampleForSample() throws IOException {
    Path wav = dir.resolve("tone.wav");
    ToneSource tone = new ToneSource(523.25, -6, 25);
    short[] frame = new short[Pcm.FRAME_SAMPLES];
    short[] all = new short[25 * Pcm.FRAME_SAMPLES];
    try (WavSink sink = new WavSink(wav)) {
      for (int f = 0; tone.read(frame); f++) {
        System.arraycopy(frame, 0, all, f * Pcm.FRAME_SAMPLES, Pcm.FRAME_SAMPLES);
        sink.write(frame);
      }
    }
    assertThat(Files.size(wav)).isEqualTo(44 + 25L * Pcm.FRAME_SAMPLES * 2);
    try (WavSource source = WavSource.open(wav, false)) {
      for (int f = 0; f < 25; f++) {
        assertThat(source.read(frame)).isTrue();
        assertThat(frame).isEqualTo(java.util.Arrays.copyOfRange(all, f * Pcm.FRAME_SAMPLES, (f + 1) * Pcm.FRAME_SAMPLES));
      }
      assertThat(source.read(frame)).as("the file has ended").isFalse();
    }
    try (WavSource looping = WavSource.open(wav, true)) {
      for (int f = 0; f < 60; f++) {
        assertThat(looping.read(frame)).isTrue();
      }
    }
  }

  @Test
  void stereoIsMixedDownAndAShortLastFrameIsPaddedWithSilence() throws IOException {
    Path wav = dir.resolve("stereo.wav");
    int samples = 1000; // a frame and a bit
    ByteBuffer data = ByteBuffer.allocate(samples * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < samples; i++) {
      data.putShort((short) 1000).putShort((short) 3000);
    }
    Files.write(wav, wav(48000, 2, 16, data.array()));
    try (WavSource source = WavSource.open(wav, false)) {
      short[] frame = new short[Pcm.FRAME_SAMPLES];
      assertThat(source.read(frame)).isTrue();
      assertThat(frame[0]).isEqualTo((short) 2000);
      assertThat(source.read(frame)).isTrue();
      assertThat(frame[39]).isEqualTo((short) 2000);
      assertThat(frame[40]).isZero();
      assertThat(source.read(frame)).isFalse();
    }
  }

  @Test
  void filesTheEngineCannotPlayAreRefusedWithTheReason() throws IOException {
    Path rate = dir.resolve("cd.wav");
    Files.write(rate, wav(44100, 1, 16, new byte[100]));
    assertThatThrownBy(() -> WavSource.open(rate, false)).isInstanceOf(IOException.class)
        .hasMessageContaining("44100 Hz, not 48000 Hz");
    Path bits = dir.resolve("eight.wav");
    Files.write(bits, wav(48000, 1, 8, new byte[100]));
    assertThatThrownBy(() -> WavSource.open(bits, false)).hasMessageContaining("8-bit");
    Path text = dir.resolve("notes.txt");
    Files.writeString(text, "not audio at all");
    assertThatThrownBy(() -> WavSource.open(text, false)).hasMessageContaining("not a WAV file");
    Path cut = dir.resolve("cut.wav");
    Files.write(cut, java.util.Arrays.copyOf(wav(48000, 1, 16, new byte[10]), 30));
    assertThatThrownBy(() -> WavSource.open(cut, false)).hasMessageContaining("ends inside its WAV header");
    assertThatThrownBy(() -> new ToneSource(30_000, -6, 1)).hasMessageContaining("frequency");
    assertThatThrownBy(() -> new ToneSource(440, 3, 1)).hasMessageContaining("level");
  }

  @Test
  void theRfc6464LevelOfAFrame() {
    short[] frame = new short[Pcm.FRAME_SAMPLES];
    assertThat(Pcm.audioLevel(frame, frame.length)).isEqualTo(127);
    java.util.Arrays.fill(frame, Short.MAX_VALUE);
    assertThat(Pcm.audioLevel(frame, frame.length)).isZero();
    new ToneSource(1000, -20, 1).read(frame);
    assertThat(Pcm.audioLevel(frame, frame.length)).isEqualTo(23); // a sine's RMS is 3 dB under its peak
  }

  @Test
  void captureKeepsTheLastSecondsOnly() {
    CapturingSink sink = new CapturingSink(1);
    short[] frame = new short[Pcm.FRAME_SAMPLES];
    for (int f = 0; f < 60; f++) {
      java.util.Arrays.fill(frame, (short) f);
      sink.write(frame);
    }
    assertThat(sink.samplesWritten()).isEqualTo(60L * Pcm.FRAME_SAMPLES);
    short[] all = sink.all();
    assertThat(all).hasSize(Pcm.SAMPLE_RATE);
    assertThat(all[0]).isEqualTo((short) 10);
    assertThat(all[all.length - 1]).isEqualTo((short) 59);
    assertThatThrownBy(() -> new CapturingSink(0)).hasMessageContaining("1..3600");
  }

  @Test
  void soundDevicesAreListedByNameAndAnUnknownNameIsRefused() {
    List<String> mics = SoundDevices.microphones();
    List<String> speakers = SoundDevices.speakers();
    assertThat(mics).doesNotContainNull();
    assertThat(speakers).doesNotContainNull();
    assertThatThrownBy(() -> SoundDevices.microphone("no such microphone")).isInstanceOf(IOException.class)
        .hasMessageContaining("no such microphone");
    assertThatThrownBy(() -> SoundDevices.speaker("no such speaker")).isInstanceOf(IOException.class)
        .hasMessageContaining("no such speaker");
    if (mics.isEmpty()) {
      // A machine without a sound card (this one, in CI): the default fails and says what to use instead.
      assertThatThrownBy(() -> SoundDevices.microphone(null)).isInstanceOf(IOException.class)
          .hasMessageContaining("use a WAV file or a generated tone");
    }
  }

  static byte[] wav(int rate, int channels, int bits, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(44 + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put("RIFF".getBytes()).putInt(36 + data.length).put("WAVE".getBytes());
    b.put("fmt ".getBytes()).putInt(16).putShort((short) 1).putShort((short) channels).putInt(rate)
        .putInt(rate * channels * bits / 8).putShort((short) (channels * bits / 8)).putShort((short) bits);
    b.put("data".getBytes()).putInt(data.length).put(data);
    return b.array();
  }
}
