package dev.cloister.client.profile;

import java.io.IOException;
import java.nio.file.Path;

/** A stored file that is truncated, damaged or not what it claims to be; its content is not used. */
public final class CorruptFileException extends IOException {

  private final Path file;

  public CorruptFileException(Path file, String reason) {
    super(file + " is corrupt: " + reason + "; it was not used");
    this.file = file;
  }

  public CorruptFileException(Path file, String reason, Throwable cause) {
    super(file + " is corrupt: " + reason + "; it was not used", cause);
    this.file = file;
  }

  public Path file() {
    return file;
  }
}
