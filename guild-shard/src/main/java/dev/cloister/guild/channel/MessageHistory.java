package dev.cloister.guild.channel;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import javax.sql.DataSource;

/**
 * The read model of channel history in PostgreSQL: one row per message, keyed by channel and
 * time-ordered message id, written by {@link MessageHistoryProjection} and paged here.
 */
public final class MessageHistory {

  public static final int MAX_PAGE = 100;

  /** Statements, each re-runnable, that bring the tables to the current shape. */
  public static final List<String> SCHEMA = List.of("""
      CREATE TABLE IF NOT EXISTS message_history (
        channel_id  TEXT    NOT NULL,
        message_id  BIGINT  NOT NULL,
        author_id   TEXT    NOT NULL,
        ciphertext  BYTEA   NOT NULL,
        created_at  BIGINT  NOT NULL,
        PRIMARY KEY (channel_id, message_id)
      )""",
      "ALTER TABLE message_history ADD COLUMN IF NOT EXISTS edited_at BIGINT",
      "ALTER TABLE message_history ADD COLUMN IF NOT EXISTS pinned BOOLEAN NOT NULL DEFAULT FALSE",
      "CREATE INDEX IF NOT EXISTS message_history_pins ON message_history (channel_id, message_id)"
          + " WHERE pinned",
      // How far the projection got per channel: the channel's event count it has applied.
      """
      CREATE TABLE IF NOT EXISTS message_history_progress (
        channel_id  TEXT   PRIMARY KEY,
        version     BIGINT NOT NULL
      )""");

  /** {@code editedAtMillis} is 0 for a message never edited. */
  public record StoredMessage(
      long id, String channelId, String authorId, byte[] ciphertext, long createdAtMillis,
      long editedAtMillis, boolean pinned) {}

  private static final String COLUMNS =
      "message_id, author_id, ciphertext, created_at, COALESCE(edited_at, 0), pinned";

  private final DataSource dataSource;

  public MessageHistory(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  public static void createSchema(DataSource dataSource) throws SQLException {
    try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
      for (String sql : SCHEMA) {
        s.execute(sql);
      }
    }
  }

  /**
   * Applies one channel event within the caller's transaction and records the channel's progress.
   * Every statement is idempotent, so a replayed event changes nothing.
   */
  static void apply(Connection c, String channelId, long version, TextChannel.Event event)
      throws SQLException {
    if (event instanceof TextChannel.MessagePosted m) {
      update(c, "INSERT INTO message_history (channel_id, message_id, author_id, ciphertext, "
          + "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, message_id) DO NOTHING",
          channelId, m.messageId(), m.authorId(), m.ciphertext(), m.createdAtMillis());
    } else if (event instanceof TextChannel.MessageEdited e) {
      update(c, "UPDATE message_history SET ciphertext = ?, edited_at = ? "
          + "WHERE channel_id = ? AND message_id = ?",
          e.ciphertext(), e.editedAtMillis(), channelId, e.messageId());
    } else if (event instanceof TextChannel.MessageDeleted d) {
      update(c, "DELETE FROM message_history WHERE channel_id = ? AND message_id = ?",
          channelId, d.messageId());
    } else if (event instanceof TextChannel.MessagePinned p) {
      update(c, "UPDATE message_history SET pinned = TRUE WHERE channel_id = ? AND message_id = ?",
          channelId, p.messageId());
    } else if (event instanceof TextChannel.MessageUnpinned u) {
      update(c, "UPDATE message_history SET pinned = FALSE WHERE channel_id = ? AND message_id = ?",
          channelId, u.messageId());
    }
    update(c, "INSERT INTO message_history_progress (channel_id, version) VALUES (?, ?) "
        + "ON CONFLICT (channel_id) DO UPDATE SET version = GREATEST("
        + "message_history_progress.version, EXCLUDED.version)", channelId, version);
  }

  private static void update(Connection c, String sql, Object... args) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < args.length; i++) {
        ps.setObject(i + 1, args[i]);
      }
      ps.executeUpdate();
    }
  }

  /**
   * Up to {@code limit} messages, newest first. With {@code after}, the ones just after it; with
   * {@code before}, the ones just before it; with both, the newest of the range between them.
   */
  public List<StoredMessage> page(
      String channelId, OptionalLong before, OptionalLong after, int limit) throws SQLException {
    int n = Math.max(1, Math.min(limit, MAX_PAGE));
    boolean oldestFirst = after.isPresent() && before.isEmpty();
    StringBuilder sql = new StringBuilder(
        "SELECT " + COLUMNS + " FROM message_history WHERE channel_id = ?");
    if (before.isPresent()) {
      sql.append(" AND message_id < ?");
    }
    if (after.isPresent()) {
      sql.append(" AND message_id > ?");
    }
    sql.append(oldestFirst ? " ORDER BY message_id ASC" : " ORDER BY message_id DESC");
    sql.append(" LIMIT ?");
    List<StoredMessage> out = new ArrayList<>(n);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql.toString())) {
      int i = 1;
      ps.setString(i++, channelId);
      if (before.isPresent()) {
        ps.setLong(i++, before.getAsLong());
      }
      if (after.isPresent()) {
        ps.setLong(i++, after.getAsLong());
      }
      ps.setInt(i, n);
      read(ps, channelId, out);
    }
    if (oldestFirst) {
      Collections.reverse(out);
    }
    return out;
  }

  private static void read(PreparedStatement ps, String channelId, List<StoredMessage> out)
      throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(new StoredMessage(rs.getLong(1), channelId, rs.getString(2), rs.getBytes(3),
            rs.getLong(4), rs.getLong(5), rs.getBoolean(6)));
      }
    }
  }

  public Optional<StoredMessage> find(String channelId, long messageId) throws SQLException {
    List<StoredMessage> out = new ArrayList<>(1);
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS
            + " FROM message_history WHERE channel_id = ? AND message_id = ?")) {
      ps.setString(1, channelId);
      ps.setLong(2, messageId);
      read(ps, channelId, out);
    }
    return out.stream().findFirst();
  }

  /** The channel's pinned messages, newest first. */
  public List<StoredMessage> pinned(String channelId) throws SQLException {
    List<StoredMessage> out = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM message_history "
            + "WHERE channel_id = ? AND pinned ORDER BY message_id DESC LIMIT "
            + TextChannel.MAX_PINS)) {
      ps.setString(1, channelId);
      read(ps, channelId, out);
    }
    return out;
  }

  /** How many of the channel's events the read model has applied; 0 if none. */
  public long version(String channelId) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(
            "SELECT version FROM message_history_progress WHERE channel_id = ?")) {
      ps.setString(1, channelId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0;
      }
    }
  }
}
