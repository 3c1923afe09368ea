package dev.cloister.node.db;

import com.typesafe.config.Config;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import io.zonky.test.db.postgres.util.LinuxUtils;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dev-mode PostgreSQL server, data in {@code <data-dir>/postgres}, run durably (fsync,
 * synchronous commit and full-page writes on; the embedded library's test defaults turn them off)
 * and never left behind:
 * <ul>
 *   <li>one node per data directory ({@code <data-dir>/node.lock});
 *   <li>a server left running by a node that died ({@code kill -9}) is found by its
 *       {@code postmaster.pid} and stopped before this one starts;
 *   <li>a {@link PostmasterWatchdog}, started before the server, stops it if this JVM dies;
 *   <li>if the server dies while the node runs, {@link #restart()} starts it again on the same
 *       port, so the connection pools find it where they left it.
 * </ul>
 * The server's own log goes to {@code <data-dir>/postgres.log}.
 */
final class EmbeddedServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedServer.class);

  private final EmbeddedPostgres postgres;
  private final Path pgData;
  private final Path logFile;
  private final Path pgCtl;
  private final Map<String, String> settings;
  private final Duration startupTimeout;
  private final FileChannel lockChannel;
  private final FileLock nodeLock;
  private final PostmasterWatchdog watchdog;
  private volatile ProcessHandle postmaster;

  private EmbeddedServer(EmbeddedPostgres postgres, Path pgData, Path logFile, Path pgCtl,
      Map<String, String> settings, Duration startupTimeout, FileChannel lockChannel,
      FileLock nodeLock, PostmasterWatchdog watchdog, ProcessHandle postmaster) {
    this.postgres = postgres;
    this.pgData = pgData;
    this.logFile = logFile;
    this.pgCtl = pgCtl;
    this.settings = settings;
    this.startupTimeout = startupTimeout;
    this.lockChannel = lockChannel;
    this.nodeLock = nodeLock;
    this.watchdog = watchdog;
    this.postmaster = postmaster;
  }

  /** Starts the server in {@code <dataDir>/postgres} with the settings under {@code cloister.db}. */
  static EmbeddedServer start(Path dataDir, Config db) throws IOException {
    Path pgData = dataDir.resolve("postgres");
    Files.createDirectories(pgData);
    Path logFile = dataDir.resolve("postgres.log");
    FileChannel lockChannel = FileChannel.open(dataDir.resolve("node.lock"),
        StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock nodeLock;
    try {
      nodeLock = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      nodeLock = null;
    }
    if (nodeLock == null) {
      lockChannel.close();
      throw new IllegalStateException("The data directory " + dataDir + " is in use by another "
          + "running Cloister node (it holds " + dataDir.resolve("node.lock") + "). Stop that "
          + "node first, or give this one its own data directory (CLOISTER_DATA_DIR).");
    }
    try {
      stopOrphan(pgData);

      Map<String, String> settings = new LinkedHashMap<>();
      settings.put("listen_addresses", "127.0.0.1");
      settings.put("timezone", "UTC");
      db.getConfig("embedded-settings").entrySet().forEach(
          e -> settings.put(e.getKey(), String.valueOf(e.getValue().unwrapped())));
      Duration startupTimeout = db.getDuration("embedded-startup-timeout");
      EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
          .setDataDirectory(pgData)
          .setCleanDataDirectory(false)
          // Stopped by the node after its actor system, not by a racing JVM hook.
          .setRegisterShutdownHook(false)
          .setPGStartupWait(startupTimeout)
          .setOutputRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
          .setErrorRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
      settings.forEach(builder::setServerConfig);
      int port = db.getInt("embedded-port");
      if (port > 0) {
        builder.setPort(port);
      }
      PostmasterWatchdog watchdog = PostmasterWatchdog.start(pgData);
      EmbeddedPostgres postgres;
      ProcessHandle postmaster;
      Path pgCtl;
      try {
        postgres = builder.start();
        postmaster = runningPostmaster(pgData).orElseThrow(() -> new IOException(
            "its postmaster.pid names no running server"));
        pgCtl = Path.of(postmaster.info().command().orElseThrow(() -> new IOException(
            "the path of its executable is unknown"))).resolveSibling("pg_ctl");
      } catch (IOException | RuntimeException e) {
        watchdog.stopServerNow(); // whatever part of it did start
        throw new IllegalStateException("The embedded PostgreSQL in " + pgData + " did not start ("
            + e.getMessage() + "). The end of its log, " + logFile + ":\n" + tail(logFile, 15), e);
      }
      return new EmbeddedServer(postgres, pgData, logFile, pgCtl, settings, startupTimeout,
          lockChannel, nodeLock, watchdog, postmaster);
    } catch (IOException | RuntimeException e) {
      nodeLock.release();
      lockChannel.close();
      throw e;
    }
  }

  int port() {
    return postgres.getPort();
  }

  String jdbcUrl() {
    return postgres.getJdbcUrl("postgres", "postgres");
  }

  Path dataDirectory() {
    return pgData;
  }

  /** The running postmaster's process, for tests and for watching it. */
  ProcessHandle postmaster() {
    return postmaster;
  }

  boolean isRunning() {
    return postmaster.isAlive();
  }

  /**
   * Starts the server again after it died, on the same port and settings; crash recovery replays
   * its write-ahead log. False if it did not start (for instance while the dead server's last
   * processes still hold its shared memory): try again later.
   */
  synchronized boolean restart() {
    if (postmaster.isAlive()) {
      return true;
    }
    List<String> options = new ArrayList<>(List.of("-p", Integer.toString(port())));
    settings.forEach((k, v) -> options.add("-c " + k + "=" + v));
    try {
      Process p = new ProcessBuilder(pgCtl(pgCtl, "-D", pgData.toString(),
          "-l", logFile.toString(), "-o", String.join(" ", options),
          "-w", "-t", Long.toString(startupTimeout.toSeconds()), "start"))
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
          .start();
      if (!p.waitFor(startupTimeout.toSeconds() + 5, TimeUnit.SECONDS)) {
        p.destroyForcibly();
      }
      Optional<ProcessHandle> started = runningPostmaster(pgData);
      if (started.isPresent()) {
        postmaster = started.get();
        return true;
      }
      log.error("The embedded PostgreSQL did not start again (pg_ctl exit {}); will retry. The "
          + "end of {}:\n{}", p.isAlive() ? "timeout" : p.exitValue(), logFile, tail(logFile, 5));
      return false;
    } catch (IOException e) {
      log.error("Could not run {} to restart the embedded PostgreSQL: {}", pgCtl, e.toString());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Fast shutdown (sessions end, a checkpoint is written), then the watchdog and lock go. */
  @Override
  public void close() {
    ProcessHandle last = postmaster;
    try {
      postgres.close();
      // pg_ctl gives up waiting after 5 s; the server finishes its shutdown checkpoint anyway.
      last.onExit().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("The embedded PostgreSQL (pid {}) did not stop within 60 s: {}", last.pid(),
          e.toString());
    } finally {
      watchdog.close();
      try {
        nodeLock.release();
        lockChannel.close();
      } catch (IOException e) {
        log.warn("Could not release {}: {}", pgData.resolveSibling("node.lock"), e.toString());
      }
    }
  }

  /**
   * A pg_ctl command line. PostgreSQL refuses to run as root; as root the embedded library runs
   * it in a user namespace ({@code unshare -U}), and so must every pg_ctl that reaches its server.
   */
  static List<String> pgCtl(Path pgCtl, String... args) {
    List<String> command = new ArrayList<>(unsharePrefix());
    command.add(pgCtl.toString());
    command.addAll(List.of(args));
    return command;
  }

  private static List<String> unsharePrefix() {
    return LinuxUtils.isUnshareAvailable() ? List.of("unshare", "-U") : List.of();
  }

  private static Optional<ProcessHandle> runningPostmaster(Path pgData) {
    return PostmasterPidFile.read(pgData).flatMap(f -> f.runningServerIn(pgData));
  }

  /**
   * Stops a server that a dead node left running in {@code pgData}: it holds the data directory,
   * so no new one could start. Only called with the node lock held, so it is no live node's.
   */
  private static void stopOrphan(Path pgData) {
    Optional<PostmasterPidFile> file = PostmasterPidFile.read(pgData);
    if (file.isEmpty()) {
      return;
    }
    long pid = file.get().pid();
    Optional<ProcessHandle> orphan = file.get().runningServerIn(pgData);
    if (orphan.isEmpty()) {
      if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
        // PostgreSQL would refuse to start, taking this process for a server of its own.
        throw new IllegalStateException(pgData.resolve(PostmasterPidFile.NAME) + " names PID "
            + pid + ", which runs but is not a PostgreSQL server in this directory (a stale file, "
            + "for instance after a reboot). Check with `ps -p " + pid + " -o args`; if it is not "
            + "PostgreSQL, delete " + pgData.resolve(PostmasterPidFile.NAME) + " and start again.");
      }
      return; // a dead server's file: PostgreSQL replaces it itself
    }
    ProcessHandle server = orphan.get();
    List<ProcessHandle> children = server.descendants().toList();
    log.warn("An embedded PostgreSQL (pid {}) is still running in {}, left by a node that did not "
        + "stop cleanly; stopping it (fast shutdown)", pid, pgData);
    Path pgCtl = Path.of(server.info().command().orElseThrow()).resolveSibling("pg_ctl");
    try {
      Process stop = new ProcessBuilder(pgCtl(pgCtl, "-D", pgData.toString(), "stop",
          "-m", "fast", "-w", "-t", "30")).redirectErrorStream(true).start();
      String output = new String(stop.getInputStream().readAllBytes()).strip();
      boolean stopped = stop.waitFor(40, TimeUnit.SECONDS) && stop.exitValue() == 0;
      try {
        // Gone once its parent (init, for an orphan) has reaped it.
        server.onExit().get(stopped ? 30 : 1, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        log.warn("The left-over PostgreSQL (pid {}) did not stop ({}); killing it", pid,
            output.isEmpty() ? "no answer" : output);
        server.destroyForcibly();
        server.onExit().get(10, TimeUnit.SECONDS);
      }
      // Its server processes must be gone too: they hold the shared memory a new server needs.
      for (ProcessHandle child : children) {
        if (child.isAlive()) {
          child.destroyForcibly();
          child.onExit().get(10, TimeUnit.SECONDS);
        }
      }
    } catch (Exception e) {
      throw new IllegalStateException("An embedded PostgreSQL (pid " + pid + ") left running in "
          + pgData + " could not be stopped (" + e + "). Stop it yourself (`kill " + pid + "`, "
          + "or `kill -9 " + pid + "` if it stays) and start the node again.", e);
    }
    log.warn("Stopped the left-over PostgreSQL (pid {}); starting a new one", pid);
  }

  /** The last {@code lines} lines of a log that may be long. */
  private static String tail(Path file, int lines) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long from = Math.max(0, ch.size() - 8192);
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) (ch.size() - from));
      ch.read(buf, from);
      List<String> all = new String(buf.array(), 0, buf.position(),
          java.nio.charset.StandardCharsets.UTF_8).lines().toList();
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }
}
