package dev.cloister.desktop;

import dev.cloister.client.voice.audio.AudioSink;
import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.client.voice.audio.CapturingSink;
import dev.cloister.client.voice.audio.SoundDevices;
import dev.cloister.client.voice.audio.ToneSource;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The input and output a call uses: the machine's microphones and speakers (client-core's
 * {@link SoundDevices}), plus a test tone as an input and "no output" for a machine without
 * speakers, so that a call can be tried anywhere.
 */
final class VoiceDevices {

  static final String TEST_TONE = "Test tone (440 Hz)";
  static final String NO_OUTPUT = "No output (do not play)";

  /** What was picked. */
  record Choice(String input, String output) {

    AudioSource openSource() throws IOException {
      return TEST_TONE.equals(input) ? ToneSource.of(440) : SoundDevices.microphone(input);
    }

    AudioSink openSink() throws IOException {
      return NO_OUTPUT.equals(output) ? new CapturingSink(1) : SoundDevices.speaker(output);
    }
  }

  private VoiceDevices() {}

  /** Microphones first (the default one first), the test tone last. */
  static List<String> inputs() {
    List<String> out = new ArrayList<>(SoundDevices.microphones());
    out.add(TEST_TONE);
    return out;
  }

  static List<String> outputs() {
    List<String> out = new ArrayList<>(SoundDevices.speakers());
    out.add(NO_OUTPUT);
    return out;
  }
}
