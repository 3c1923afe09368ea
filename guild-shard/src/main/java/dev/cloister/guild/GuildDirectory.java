package dev.cloister.guild;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;

/**
 * Which guild a channel or an invite code belongs to, for the API paths that name only the
 * channel or the code. These are immutable facts, written before the guild event that makes the
 * channel or invite real: a row whose event never followed points at a guild that does not list
 * it, and the guild then answers "unknown". Kept in PostgreSQL rather than in an entity per
 * channel because nothing about it ever changes.
 */
public final class GuildDirectory {

  public enum Kind { CHANNEL, INVITE }

  public static final String SCHEMA = """
      CREATE TABLE IF NOT EXISTS guild_directory (
        kind      TEXT NOT NULL,
        key       TEXT NOT NULL,
        guild_id  TEXT NOT NULL,
        PRIMARY KEY (kind, key)
      )""";

  private static final int MAX_CACHED = 200_000;

  private final DataSource dataSource;
  private final Map<String, String> cache = new ConcurrentHashMap<>();

  public GuildDirectory(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  public static void createSchema(DataSource dataSource) throws SQLException {
    try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
      s.execute(SCHEMA);
    }
  }

  /** Records the fact; fails if the key already belongs to another guild. */
  public void register(Kind kind, String key, String guildId) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO guild_directory (kind, key, guild_id) "
            + "VALUES (?, ?, ?) ON CONFLICT (kind, key) DO NOTHING")) {
      ps.setString(1, kind.name());
      ps.setString(2, key);
      ps.setString(3, guildId);
      if (ps.executeUpdate() == 0 && !lookup(kind, key).orElse("").equals(guildId)) {
        throw new SQLException(kind + " " + key + " already belongs to another guild");
      }
    }
    remember(kind, key, guildId);
  }

  /** What this node already knows, without the database (so callers need no pool thread). */
  public Optional<String> cached(Kind kind, String key) {
    return Optional.ofNullable(cache.get(kind.name() + ":" + key));
  }

  public Optional<String> lookup(Kind kind, String key) throws SQLException {
    Optional<String> known = cached(kind, key);
    if (known.isPresent()) {
      return known;
    }
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(
            "SELECT guild_id FROM guild_directory WHERE kind = ? AND key = ?")) {
      ps.setString(1, kind.name());
      ps.setString(2, key);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        String guildId = rs.getString(1);
        remember(kind, key, guildId);
        return Optional.of(guildId);
      }
    }
  }

  private void remember(Kind kind, String key, String guildId) {
    if (cache.size() >= MAX_CACHED) {
      cache.clear();
    }
    cache.put(kind.name() + ":" + key, guildId);
  }
}
