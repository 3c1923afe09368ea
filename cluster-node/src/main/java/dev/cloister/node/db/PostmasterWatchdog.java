package dev.cloister.node.db;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A child shell that stops the embedded PostgreSQL when this JVM is gone, however it went
 * ({@code kill -9} included): its stdin is a pipe whose only writer is this JVM, so its read
 * returns at end of file when the JVM exits. It then asks the server in the data directory for a
 * fast shutdown (SIGINT), and for an immediate one (SIGQUIT) if it is still there after 60 s.
 * Started before the server, so no moment of the server's life goes unwatched. A node that stops
 * cleanly stops the server itself and ends the watchdog first.
 */
final class PostmasterWatchdog implements AutoCloseable {

  // $1 data directory (real path), $2 node PID. Ctrl-C and hang-ups are the JVM's to handle.
  private static final String SCRIPT = """
      trap '' INT HUP PIPE
      while read -r _; do :; done
      f="$1/postmaster.pid"
      i=0
      while [ ! -s "$f" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
      [ -s "$f" ] || exit 0
      pid=$(head -n 1 "$f")
      # Only a server working in this directory: the file may be stale and its PID reused.
      if [ -d /proc ]; then
        [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$1" ] || exit 0
      else
        [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = postgres ] || exit 0
      fi
      echo "cloister: node $2 exited without stopping its embedded PostgreSQL (pid $pid); stopping it" >&2
      kill -INT "$pid"
      i=0
      while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done
      kill -0 "$pid" 2>/dev/null && kill -QUIT "$pid"
      exit 0
      """;

  private final Process process;
  // Held, never written: closing it (or this JVM dying) is the signal.
  private final OutputStream lifeline;

  private PostmasterWatchdog(Process process) {
    this.process = process;
    this.lifeline = process.getOutputStream();
  }

  static PostmasterWatchdog start(Path pgData) throws IOException {
    Process p = new ProcessBuilder("/bin/sh", "-c", SCRIPT, "cloister-postgres-watchdog",
        pgData.toRealPath().toString(), Long.toString(ProcessHandle.current().pid()))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    return new PostmasterWatchdog(p);
  }

  /** Lets the watchdog act now, as if this JVM had died, and waits until it has. */
  void stopServerNow() {
    closeLifeline();
    try {
      process.waitFor(70, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Ends the watchdog without letting it act: the node stops (or has stopped) the server itself. */
  @Override
  public void close() {
    process.destroy();
    try {
      process.waitFor(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeLifeline();
  }

  private void closeLifeline() {
    try {
      lifeline.close();
    } catch (IOException ignored) {
      // the shell is gone already
    }
  }
}
