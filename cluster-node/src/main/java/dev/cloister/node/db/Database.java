package dev.cloister.node.db;

import com.typesafe.config.Config;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.cloister.guild.channel.MessageHistory;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's PostgreSQL: an external one when {@code cloister.db.url} is set, otherwise an
 * embedded server whose data lives in {@code <data-dir>/postgres} and survives restarts.
 */
public final class Database implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Database.class);

  private final EmbeddedPostgres embedded;
  private final String url;
  private final String user;
  private final String password;
  private final HikariDataSource pool;

  private Database(EmbeddedPostgres embedded, String url, String user, String password, int poolSize) {
    this.embedded = embedded;
    this.url = url;
    this.user = user;
    this.password = password;
    HikariConfig hc = new HikariConfig();
    hc.setJdbcUrl(url);
    hc.setUsername(user);
    hc.setPassword(password);
    hc.setMaximumPoolSize(poolSize);
    hc.setMinimumIdle(1);
    hc.setPoolName("cloister-read-model");
    this.pool = new HikariDataSource(hc);
  }

  public static Database start(Config config, Path dataDir) throws IOException {
    Config db = config.getConfig("cloister.db");
    int poolSize = db.getInt("pool-size");
    String externalUrl = db.getString("url");
    if (!externalUrl.isBlank()) {
      log.info("Using external PostgreSQL at {}", externalUrl);
      return new Database(null, externalUrl, db.getString("user"), db.getString("password"), poolSize);
    }
    Path pgData = dataDir.resolve("postgres");
    Files.createDirectories(pgData);
    EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
        .setDataDirectory(pgData)
        .setCleanDataDirectory(false)
        // Stopped by the node's coordinated shutdown, after the entities, not by a racing JVM hook.
        .setRegisterShutdownHook(false)
        .setServerConfig("listen_addresses", "127.0.0.1")
        .setServerConfig("max_connections", "60");
    int port = db.getInt("embedded-port");
    if (port > 0) {
      builder.setPort(port);
    }
    EmbeddedPostgres pg = builder.start();
    String url = pg.getJdbcUrl("postgres", "postgres");
    log.info("Embedded PostgreSQL running on port {} with data in {}", pg.getPort(), pgData);
    return new Database(pg, url, "postgres", "", poolSize);
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

  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  /** Idempotent. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    pool.close();
    if (embedded != null) {
      try {
        embedded.close();
        log.info("Embedded PostgreSQL stopped");
      } catch (IOException e) {
        log.warn("Embedded PostgreSQL did not stop cleanly: {}", e.getMessage());
      }
    }
  }
}
