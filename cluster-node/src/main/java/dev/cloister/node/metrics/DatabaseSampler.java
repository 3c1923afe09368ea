package dev.cloister.node.metrics;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Samples, every few seconds, what only the database knows: how far each projection is behind
 * the journal (from its stored offsets, so it covers every projection, ours or guild-shard's),
 * and the PostgreSQL basics (size, connections, commits). One query each, on one daemon thread.
 */
public final class DatabaseSampler implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(DatabaseSampler.class);

  /** Backlogs are counted up to this many events per projection key, so a sample stays cheap. */
  static final int BACKLOG_CAP = 100_000;

  private static final String LAG = """
      SELECT o.projection_name, l.backlog, l.oldest
      FROM pekko_projection_offset_store o
      CROSS JOIN LATERAL (
        SELECT count(*) AS backlog, min(j.write_timestamp) AS oldest
        FROM (SELECT t.event_id FROM event_tag t
              WHERE t.tag = o.projection_key AND t.event_id > CAST(o.current_offset AS BIGINT)
              ORDER BY t.event_id LIMIT ?) x
        JOIN event_journal j ON j.ordering = x.event_id) l
      WHERE o.manifest = 'SEQ'
      """;

  private static final String BASICS = """
      SELECT pg_database_size(current_database()),
             (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
             xact_commit, xact_rollback
      FROM pg_stat_database WHERE datname = current_database()
      """;

  private final DataSource dataSource;
  private final BooleanSupplier databaseUp;
  private final ScheduledExecutorService timer;
  private long lastCommits = -1;
  private long lastRollbacks = -1;

  private DatabaseSampler(DataSource dataSource, BooleanSupplier databaseUp) {
    this.dataSource = dataSource;
    this.databaseUp = databaseUp;
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "cloister-metrics-db");
      t.setDaemon(true);
      return t;
    });
  }

  public static DatabaseSampler start(DataSource dataSource, BooleanSupplier databaseUp,
      Duration interval) {
    DatabaseSampler s = new DatabaseSampler(dataSource, databaseUp);
    s.timer.scheduleWithFixedDelay(s::sampleQuietly, 0, interval.toMillis(),
        TimeUnit.MILLISECONDS);
    return s;
  }

  private void sampleQuietly() {
    boolean up = databaseUp.getAsBoolean();
    CloisterMetrics.DATABASE_UP.update(up ? 1 : 0);
    if (!up) {
      return;
    }
    try {
      sample();
    } catch (SQLException | RuntimeException e) {
      log.debug("Metrics: database sample failed: {}", e.toString());
    }
  }

  void sample() throws SQLException {
    long now = System.currentTimeMillis();
    Map<String, Long> backlog = new HashMap<>();
    Map<String, Long> oldest = new HashMap<>();
    try (Connection c = dataSource.getConnection()) {
      try (PreparedStatement s = c.prepareStatement(LAG)) {
        s.setInt(1, BACKLOG_CAP);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) {
            String name = r.getString(1);
            backlog.merge(name, r.getLong(2), Long::sum);
            long t = r.getLong(3);
            if (!r.wasNull()) {
              oldest.merge(name, t, Math::min);
            } else {
              oldest.putIfAbsent(name, now);
            }
          }
        }
      }
      try (PreparedStatement s = c.prepareStatement(BASICS); ResultSet r = s.executeQuery()) {
        if (r.next()) {
          CloisterMetrics.DATABASE_SIZE.update(r.getLong(1));
          CloisterMetrics.DATABASE_CONNECTIONS.update(r.getLong(2));
          lastCommits = addDelta(CloisterMetrics.DATABASE_COMMITS, lastCommits, r.getLong(3));
          lastRollbacks = addDelta(CloisterMetrics.DATABASE_ROLLBACKS, lastRollbacks,
              r.getLong(4));
        }
      }
    }
    backlog.forEach((name, events) -> {
      // Projection names are fixed in code (message-history, group-rosters, event-stream).
      CloisterMetrics.PROJECTION_BACKLOG.withTag("projection", name).update(events);
      CloisterMetrics.PROJECTION_LAG.withTag("projection", name)
          .update(Math.max(0, now - oldest.get(name)) / 1000.0);
    });
  }

  private static long addDelta(kamon.metric.Counter counter, long last, long current) {
    if (last >= 0 && current > last) {
      counter.increment(current - last);
    }
    return current;
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
