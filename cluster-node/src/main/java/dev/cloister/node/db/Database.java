package dev.cloister.node.db;

import com.typesafe.config.Config;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.cloister.guild.channel.MessageHistory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's PostgreSQL: an external one when {@code cloister.db.url} is set, otherwise an
 * {@link EmbeddedServer} whose data lives in {@code <data-dir>/postgres} and survives restarts;
 * the read model's connection pool; and the {@link DatabaseHealth} probe.
 */
public final class Database implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Database.class);

  private final EmbeddedServer embedded;
  private final DatabaseHealth health;
  private final String url;
  private final String user;
  private final String password;
  private final HikariDataSource pool;

  private Database(EmbeddedServer embedded, DatabaseHealth health, String url, String user,
      String password, int poolSize, Duration connectTimeout) {
    this.embedded = embedded;
    this.health = health;
    this.url = url;
    this.user = user;
    this.password = password;
    HikariConfig hc = new HikariConfig();
    hc.setJdbcUrl(url);
    hc.setUsername(user);
    hc.setPassword(password);
    hc.setMaximumPoolSize(poolSize);
    hc.setMinimumIdle(1);
    // While the database is down a request waits this long for a connection, then fails (503).
    hc.setConnectionTimeout(connectTimeout.toMillis());
    hc.setPoolName("cloister-read-model");
    this.pool = new HikariDataSource(hc);
  }

  /**
   * Connects to the external PostgreSQL, or starts the embedded one in {@code <dataDir>/postgres}
   * (after stopping one that a dead node left running there); returns once a probe has run.
   */
  public static Database start(Config config, Path dataDir) throws IOException {
    Config db = config.getConfig("cloister.db");
    String externalUrl = db.getString("url");
    EmbeddedServer embedded = null;
    String url;
    String user;
    String password;
    if (!externalUrl.isBlank()) {
      log.info("Using external PostgreSQL at {}", externalUrl);
      url = externalUrl;
      user = db.getString("user");
      password = db.getString("password");
    } else {
      embedded = EmbeddedServer.start(dataDir, db);
      log.info("Embedded PostgreSQL on port {}, data in {}", embedded.port(),
          embedded.dataDirectory());
      url = embedded.jdbcUrl();
      user = "postgres";
      password = "";
    }
    Duration timeout = db.getDuration("connect-timeout");
    DatabaseHealth health = new DatabaseHealth(url, user, password, timeout, embedded);
    try {
      health.start(db.getDuration("health-interval"));
      return new Database(embedded, health, url, user, password, db.getInt("pool-size"), timeout);
    } catch (RuntimeException e) {
      health.close();
      if (embedded != null) {
        embedded.close();
      }
      throw e;
    }
  }

  /** Creates what is missing of the journal, snapshot and read-model tables; safe to re-run. */
  public void migrate() throws SQLException, IOException {
    String journal;
    try (InputStream in = Database.class.getResourceAsStream("/db/journal-schema.sql")) {
      if (in == null) {
        throw new IOException("db/journal-schema.sql is missing from the classpath");
      }
      journal = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    try (Connection c = pool.getConnection(); Statement s = c.createStatement()) {
      for (String statement : journal.split(";")) {
        String sql = statement.lines().filter(l -> !l.strip().startsWith("--"))
            .reduce("", (a, b) -> a + "\n" + b).strip();
        if (!sql.isEmpty()) {
          s.execute(sql);
        }
      }
    }
    MessageHistory.createSchema(pool);
    dev.cloister.guild.GuildDirectory.createSchema(pool);
  }

  public String url() {
    return url;
  }

  public String user() {
    return user;
  }

  public String password() {
    return password;
  }

  public DataSource dataSource() {
    return pool;
  }

  public boolean isEmbedded() {
    return embedded != null;
  }

  /** Whether the database takes writes now. */
  public DatabaseHealth health() {
    return health;
  }

  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  /** Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    health.close(); // first: it would start the embedded server again
    pool.close();
    if (embedded != null) {
      embedded.close();
      log.info("Embedded PostgreSQL stopped");
    }
  }
}
