package dev.cloister.client.voice.audio;

import java.io.IOException;

/**
 * Where the voice engine's mixed incoming audio goes, one 20 ms frame per frame period (silence
 * included, so a recording keeps time).
 */
public interface AudioSink extends AutoCloseable {

  /** Takes {@code frame[0..Pcm.FRAME_SAMPLES)}; the array is reused after the call returns. */
  void write(short[] frame) throws IOException;

  String describe();

  @Override
  void close() throws IOException;
}
