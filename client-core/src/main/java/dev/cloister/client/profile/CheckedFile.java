package dev.cloister.client.profile;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The on-disk form of every file a client keeps: the payload, then one trailer line
 * {@code "\ncloister-file 1 <length> <sha-256 hex>\n"}, so a truncated or damaged file is
 * detected rather than used (a JSON payload stays readable with {@code cat}). Writes are atomic:
 * a temporary file in the same directory, fsync, rename over the old one, fsync the directory;
 * a crash leaves the old file or the new one, never half of either. Files are created mode 600.
 */
public final class CheckedFile {

  static final int VERSION = 1;
  /** No file a client writes comes near this; a bigger one is not ours. */
  static final int MAX_BYTES = 4 << 20;
  private static final byte[] MARK = "\ncloister-file ".getBytes(StandardCharsets.US_ASCII);
  private static final boolean POSIX =
      FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

  private CheckedFile() {}

  /** Atomically replaces {@code file} with {@code payload} and its trailer. */
  public static void write(Path file, byte[] payload) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    byte[] trailer = ("\ncloister-file " + VERSION + " " + payload.length + " "
        + HexFormat.of().formatHex(sha256(payload)) + "\n").getBytes(StandardCharsets.US_ASCII);
    // Owner-only from the first byte: the payload may be a private key or a session token.
    Path tmp = POSIX
        ? Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))
        : Files.createTempFile(dir, "." + file.getFileName() + ".", ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING)) {
        writeFully(ch, ByteBuffer.wrap(payload));
        writeFully(ch, ByteBuffer.wrap(trailer));
        ch.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException("the file system of " + dir + " cannot rename atomically", e);
      }
      syncDirectory(dir);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** The payload of {@code file}, empty if there is no such file. */
  public static Optional<byte[]> read(Path file) throws IOException {
    return read(file, MAX_BYTES);
  }

  /** As {@link #read(Path)}, for the few files (group state, message stores) that grow larger. */
  public static Optional<byte[]> read(Path file, long maxBytes) throws IOException {
    byte[] all;
    try {
      if (Files.size(file) > maxBytes) {
        throw new CorruptFileException(file, "it is larger than " + maxBytes + " bytes");
      }
      all = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    return Optional.of(payload(file, all));
  }

  /** Checks the trailer and returns what precedes it. */
  static byte[] payload(Path file, byte[] all) throws CorruptFileException {
    int mark = lastIndexOf(all, MARK);
    if (mark < 0 || all.length == 0 || all[all.length - 1] != '\n') {
      throw new CorruptFileException(file, "its check trailer is missing (truncated, or not written"
          + " by a Cloister client)");
    }
    String[] fields = new String(all, mark + MARK.length, all.length - 1 - mark - MARK.length,
        StandardCharsets.US_ASCII).split(" ");
    if (fields.length != 3) {
      throw new CorruptFileException(file, "its check trailer is malformed");
    }
    int version;
    long length;
    byte[] digest;
    try {
      version = Integer.parseInt(fields[0]);
      length = Long.parseLong(fields[1]);
      digest = HexFormat.of().parseHex(fields[2]);
    } catch (IllegalArgumentException e) {
      throw new CorruptFileException(file, "its check trailer is malformed");
    }
    if (version != VERSION) {
      throw new CorruptFileException(file, "it has format version " + version + ", this client "
          + "reads version " + VERSION + " (written by a newer client?)");
    }
    if (length != mark) {
      throw new CorruptFileException(file, "it holds " + mark + " bytes where " + length
          + " were written (truncated or appended to)");
    }
    byte[] payload = java.util.Arrays.copyOf(all, mark);
    if (!MessageDigest.isEqual(digest, sha256(payload))) {
      throw new CorruptFileException(file, "its SHA-256 does not match its content (damaged)");
    }
    return payload;
  }

  /** Makes a directory (and its parents) that only the owner may enter. */
  public static void createPrivateDirectory(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    Files.createDirectories(dir);
    if (POSIX) {
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    }
  }

  /** A rename is durable only once its directory is: fsync it (POSIX; elsewhere a no-op). */
  static void syncDirectory(Path dir) throws IOException {
    if (!POSIX) {
      return;
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }

  private static int lastIndexOf(byte[] all, byte[] mark) {
    outer:
    for (int i = all.length - mark.length; i >= 0; i--) {
      for (int j = 0; j < mark.length; j++) {
        if (all[i + j] != mark[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
