package dev.cloister.desktop;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javafx.application.Platform;

/**
 * Where the UI's network and crypto work runs: one background thread, in order (a chat's
 * operations must not overlap), so the FX thread never waits for the server or for MLS. Results
 * and failures come back on the FX thread.
 */
final class Work implements AutoCloseable {

  /** A piece of work that may fail. */
  interface Task<T> {
    T run() throws Exception;
  }

  private final ExecutorService thread;

  Work(String name) {
    this.thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
  }

  /** Runs {@code task} in the background, then {@code done} or {@code failed} on the FX thread. */
  <T> void run(Task<T> task, Consumer<T> done, Consumer<Throwable> failed) {
    thread.execute(() -> {
      T result;
      try {
        result = task.run();
      } catch (Throwable e) {
        Platform.runLater(() -> failed.accept(e));
        return;
      }
      Platform.runLater(() -> done.accept(result));
    });
  }

  @Override
  public void close() {
    thread.shutdownNow();
    try {
      thread.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
