package dev.cloister.node.db;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * PostgreSQL's {@code postmaster.pid} in a data directory: the postmaster's PID (line 1), its data
 * directory (line 2) and port (line 4). It exists while a server runs there, and after one dies.
 */
record PostmasterPidFile(long pid, Path dataDir, int port) {

  static final String NAME = "postmaster.pid";

  /** The file in {@code pgData}, if there is one that can be read. */
  static Optional<PostmasterPidFile> read(Path pgData) {
    List<String> lines;
    try {
      lines = Files.readAllLines(pgData.resolve(NAME));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
    if (lines.size() < 4) {
      return Optional.empty(); // being written by a starting server
    }
    try {
      return Optional.of(new PostmasterPidFile(Long.parseLong(lines.get(0).strip()),
          Path.of(lines.get(1).strip()), Integer.parseInt(lines.get(3).strip())));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** The process the file names, if it runs and is a PostgreSQL server working in {@code pgData}. */
  Optional<ProcessHandle> runningServerIn(Path pgData) {
    Optional<ProcessHandle> process = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
    if (process.isEmpty()) {
      return Optional.empty();
    }
    // The PID may have been reused since the file was written (a reboot): check what runs there.
    String command = process.get().info().command().orElse("");
    if (!command.endsWith("/postgres") && !command.endsWith("/postmaster")) {
      return Optional.empty();
    }
    try {
      // A postmaster works in its data directory (Linux shows it as the process's cwd).
      Path cwd = Path.of("/proc", Long.toString(pid), "cwd");
      if (Files.exists(cwd) && !Files.isSameFile(cwd.toRealPath(), pgData.toRealPath())) {
        return Optional.empty();
      }
      if (!Files.isSameFile(dataDir, pgData)) {
        return Optional.empty();
      }
    } catch (IOException e) {
      return Optional.empty();
    }
    return process;
  }
}
