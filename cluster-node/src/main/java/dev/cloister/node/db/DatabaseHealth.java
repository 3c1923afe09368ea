package dev.cloister.node.db;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the journal's database takes writes now. A probe runs every {@code interval} on a
 * connection of its own (a busy pool is load, not an outage) and commits a transaction id; with
 * the embedded server it also watches the postmaster, and starts it again when it has died.
 * {@code /health} and the management {@code /ready} answer from {@link #isUp()}.
 */
public final class DatabaseHealth implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DatabaseHealth.class);
  private static final Duration MAX_RESTART_BACKOFF = Duration.ofSeconds(30);

  private final String url;
  private final Properties connectionProperties = new Properties();
  private final int timeoutSeconds;
  private final EmbeddedServer embedded;
  private final ScheduledExecutorService probes;
  private volatile boolean up;
  private volatile String problem = "not checked yet";

  // Only touched on the probe thread.
  private Connection connection;
  private long downSince;
  private long nextRestartNanos;
  private Duration restartBackoff = Duration.ofSeconds(1);

  DatabaseHealth(String url, String user, String password, Duration timeout,
      EmbeddedServer embedded) {
    this.url = url;
    this.embedded = embedded;
    this.timeoutSeconds = (int) Math.max(1, timeout.toSeconds());
    connectionProperties.setProperty("user", user);
    connectionProperties.setProperty("password", password);
    connectionProperties.setProperty("connectTimeout", Integer.toString(timeoutSeconds));
    connectionProperties.setProperty("socketTimeout", Integer.toString(timeoutSeconds + 1));
    connectionProperties.setProperty("loginTimeout", Integer.toString(timeoutSeconds));
    connectionProperties.setProperty("ApplicationName", "cloister-health");
    this.probes = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "cloister-db-health");
      t.setDaemon(true);
      return t;
    });
  }

  /** Probes once now (the caller learns the state), then every {@code interval}. */
  void start(Duration interval) {
    probe();
    watchPostmaster();
    probes.scheduleWithFixedDelay(this::probe, interval.toMillis(), interval.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** True while the last probe committed. */
  public boolean isUp() {
    return up;
  }

  /** Why the database is down, for logs and error messages. */
  public String problem() {
    return problem;
  }

  private void watchPostmaster() {
    if (embedded != null) {
      embedded.postmaster().onExit().thenRun(() -> probes.execute(this::probe));
    }
  }

  private void probe() {
    try {
      if (embedded != null && !embedded.isRunning()) {
        throw new SQLException("the embedded PostgreSQL server process has exited");
      }
      if (connection == null) {
        connection = DriverManager.getConnection(url, connectionProperties);
      }
      try (Statement s = connection.createStatement()) {
        s.setQueryTimeout(timeoutSeconds);
        // A transaction id makes this a commit: it fails where a journal write would (no server,
        // a read-only standby, a WAL that cannot be flushed), not only where a connection does.
        s.execute("SELECT txid_current()");
      }
      if (!up) {
        if (downSince != 0) {
          log.info("The database is reachable again after {} s; the node serves requests",
              (System.nanoTime() - downSince) / 1_000_000_000);
        }
        up = true;
        restartBackoff = Duration.ofSeconds(1);
      }
    } catch (SQLException | RuntimeException e) {
      closeConnection();
      problem = e.getMessage();
      if (up || downSince == 0) {
        downSince = System.nanoTime();
        log.error("The database is unreachable ({}); the node answers 503 until it is back",
            problem);
      }
      up = false;
      if (embedded != null && !embedded.isRunning()) {
        restartEmbedded();
      }
    }
  }

  private void restartEmbedded() {
    long now = System.nanoTime();
    if (now < nextRestartNanos) {
      return;
    }
    log.warn("Starting the embedded PostgreSQL again (it exited); it recovers from its log");
    if (embedded.restart()) {
      watchPostmaster();
      probes.execute(this::probe);
    } else {
      nextRestartNanos = now + restartBackoff.toNanos();
      restartBackoff = restartBackoff.multipliedBy(2);
      if (restartBackoff.compareTo(MAX_RESTART_BACKOFF) > 0) {
        restartBackoff = MAX_RESTART_BACKOFF;
      }
    }
  }

  private void closeConnection() {
    if (connection != null) {
      try {
        connection.close();
      } catch (SQLException ignored) {
        // it is broken already
      }
      connection = null;
    }
  }

  @Override
  public void close() {
    probes.shutdownNow();
    try {
      probes.awaitTermination(timeoutSeconds + 2L, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    closeConnection();
  }
}
