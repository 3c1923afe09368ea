package dev.cloister.client.voice.audio;

import java.io.IOException;

/**
 * Where the voice engine's outgoing audio comes from, one 20 ms frame at a time ({@link Pcm}).
 * The engine calls {@link #read} from its media thread once per frame period; a source must not
 * block much longer than a frame.
 */
public interface AudioSource extends AutoCloseable {

  /**
   * Fills {@code frame[0..Pcm.FRAME_SAMPLES)} with the next frame.
   *
   * @return false once the source has ended (the engine then sends nothing more)
   */
  boolean read(short[] frame) throws IOException;

  /** A short description for logs and the UI. */
  String describe();

  @Override
  void close() throws IOException;
}
