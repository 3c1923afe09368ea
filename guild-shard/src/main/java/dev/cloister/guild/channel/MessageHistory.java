package dev.cloister.guild.channel;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.OptionalLong;
import javax.sql.DataSource;

/**
 * The read model of channel history in PostgreSQL: one row per message, keyed by channel and
 * time-ordered message id, written by {@link MessageHistoryProjection} and paged here.
 */
public final class MessageHistory {

  public static final int MAX_PAGE = 100;

  public static final String SCHEMA = """
      CREATE TABLE IF NOT EXISTS message_history (
        channel_id  TEXT   NOT NULL,
        message_id  BIGINT NOT NULL,
        author_id   TEXT   NOT NULL,
        ciphertext  BYTEA  NOT NULL,
        created_at  BIGINT NOT NULL,
        PRIMARY KEY (channel_id, message_id)
      )""";

  public record StoredMessage(
      long id, String channelId, String authorId, byte[] ciphertext, long createdAtMillis) {}

  private final DataSource dataSource;

  public MessageHistory(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  public static void createSchema(DataSource dataSource) throws SQLException {
    try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
      s.execute(SCHEMA);
    }
  }

  /** Inserts within the caller's transaction; a replayed event finds its row and changes nothing. */
  static void insert(Connection c, String channelId, TextChannel.MessagePosted m)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "INSERT INTO message_history (channel_id, message_id, author_id, ciphertext, created_at) "
            + "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel_id, message_id) DO NOTHING")) {
      ps.setString(1, channelId);
      ps.setLong(2, m.messageId());
      ps.setString(3, m.authorId());
      ps.setBytes(4, m.ciphertext());
      ps.setLong(5, m.createdAtMillis());
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
        "SELECT message_id, author_id, ciphertext, created_at FROM message_history "
            + "WHERE channel_id = ?");
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
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new StoredMessage(
              rs.getLong(1), channelId, rs.getString(2), rs.getBytes(3), rs.getLong(4)));
        }
      }
    }
    if (oldestFirst) {
      Collections.reverse(out);
    }
    return out;
  }

  /** The newest message id the read model holds for a channel, 0 if none. */
  public long latestId(String channelId) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(
            "SELECT COALESCE(MAX(message_id), 0) FROM message_history WHERE channel_id = ?")) {
      ps.setString(1, channelId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }
}
