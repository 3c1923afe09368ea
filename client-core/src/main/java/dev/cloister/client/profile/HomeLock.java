package dev.cloister.client.profile;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One writer at a time for a home's MLS state and message stores, across processes (a {@code
 * listen} and a {@code send} on the same home) and threads. Two writers of one group's state
 * would fork it: a lost update, or worse a message key used twice. Reentrant within a thread.
 *
 * <p>A JVM holds a file lock for the whole process, so threads first take a lock per home here,
 * and the first of them takes the file lock.
 */
public final class HomeLock implements AutoCloseable {

  private static final ConcurrentHashMap<Path, Held> HELD = new ConcurrentHashMap<>();
  private static final boolean POSIX =
      FileSystems.getDefault().supportedFileAttributeViews().contains("posix");

  private static final class Held {
    final ReentrantLock threads = new ReentrantLock();
    FileChannel channel;
    FileLock file;
  }

  private final Held held;

  private HomeLock(Held held) {
    this.held = held;
  }

  /**
   * Waits (at most {@code timeoutSeconds}) for the home's lock.
   *
   * @throws IOException the lock file cannot be opened, or another holder kept it too long
   */
  static HomeLock acquire(Path lockFile, long timeoutSeconds) throws IOException {
    Held h = HELD.computeIfAbsent(lockFile.toAbsolutePath(), p -> new Held());
    try {
      if (!h.threads.tryLock(timeoutSeconds, TimeUnit.SECONDS)) {
        throw new IOException("another task of this process has held " + lockFile + " for over "
            + timeoutSeconds + " s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for " + lockFile);
    }
    if (h.threads.getHoldCount() > 1) {
      return new HomeLock(h);
    }
    try {
      h.channel = POSIX
          ? FileChannel.open(lockFile, java.util.Set.of(StandardOpenOption.CREATE,
              StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(
                  PosixFilePermissions.fromString("rw-------")))
          : FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      while ((h.file = h.channel.tryLock()) == null) {
        if (System.nanoTime() > deadline) {
          throw new IOException("another process has held " + lockFile + " for over "
              + timeoutSeconds + " s");
        }
        Thread.sleep(20);
      }
      return new HomeLock(h);
    } catch (IOException | RuntimeException e) {
      release(h);
      throw e;
    } catch (InterruptedException e) {
      release(h);
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for " + lockFile);
    }
  }

  @Override
  public void close() {
    release(held);
  }

  private static void release(Held h) {
    try {
      if (h.threads.getHoldCount() == 1) {
        if (h.file != null) {
          h.file.release();
        }
        if (h.channel != null) {
          h.channel.close();
        }
      }
    } catch (IOException ignored) {
      // closing the channel releases the lock in any case
    } finally {
      if (h.threads.getHoldCount() == 1) {
        h.file = null;
        h.channel = null;
      }
      h.threads.unlock();
    }
  }
}
