package dev.cloister.node.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.channel.TextChannel;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.serialization.jackson.JacksonObjectMapperProvider;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * Where a {@link GatewaySession} puts its state when its node stops gracefully (shard handoff),
 * and where the session's next incarnation, on another node, takes it back: one PostgreSQL row
 * per session, written once and deleted by the read that restores it, so a handed-over session
 * is restored at most once. Rows nobody took are deleted after {@code resume.max-age}.
 *
 * <p>Also reads what the session could not hear while it moved: its text channels' events from
 * the journal, after the last one it dispatched.
 */
public final class SessionHandovers {

  /** A replay buffer entry as saved: its seq, when it was buffered, and its frame's parts. */
  public record Frame(long seq, long atMillis, String head, byte[] body, String tail) {}

  /**
   * A session's state at its handover. {@code positions}: per text channel, the journal sequence
   * number of the last event the session dispatched; {@code detachedAtMillis}: 0 if a connection
   * was attached.
   */
  public record Saved(String userId, String deviceId, String username, String status, long seq,
      List<Frame> buffer, List<String> guildIds, Map<String, Long> positions,
      String voiceGuildId, String voiceChannelId, long savedAtMillis, long detachedAtMillis)
      implements CborSerializable {}

  /** One text channel event read back from the journal. */
  public record ChannelEvent(String channelId, long seqNr, TextChannel.Event event) {}

  private static final String TABLE = "gateway_session_handover";

  private final DataSource db;
  private final Executor blocking;
  private final ObjectMapper cbor;
  private final JdbcReadJournal journal;
  private final ActorSystem<?> system;
  private final Duration maxAge;
  private final Duration lookback;

  /**
   * {@code maxAge}: a row older than this is never restored (the session would have expired);
   * {@code lookback}: how far before its handover a moved session reads a channel it had
   * dispatched nothing from.
   */
  public SessionHandovers(ActorSystem<?> system, DataSource db, Executor blocking, Duration maxAge,
      Duration lookback) throws SQLException {
    this.system = system;
    this.db = db;
    this.blocking = blocking;
    this.maxAge = maxAge;
    this.lookback = lookback;
    this.cbor = JacksonObjectMapperProvider.get(system)
        .getOrCreate("jackson-cbor", Optional.empty());
    this.journal = PersistenceQuery.get(system)
        .getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (session_id VARCHAR(64) PRIMARY KEY, "
          + "saved_at BIGINT NOT NULL, state BYTEA NOT NULL)");
    }
  }

  Duration lookback() {
    return lookback;
  }

  /** Saves (or replaces) {@code sessionId}'s state. */
  CompletionStage<Void> save(String sessionId, Saved state) {
    return CompletableFuture.runAsync(() -> {
      try (Connection c = db.getConnection(); PreparedStatement p = c.prepareStatement(
          "INSERT INTO " + TABLE + " (session_id, saved_at, state) VALUES (?, ?, ?) "
              + "ON CONFLICT (session_id) DO UPDATE SET saved_at = EXCLUDED.saved_at, "
              + "state = EXCLUDED.state")) {
        p.setString(1, sessionId);
        p.setLong(2, state.savedAtMillis());
        p.setBytes(3, cbor.writeValueAsBytes(state));
        p.executeUpdate();
      } catch (SQLException | IOException e) {
        throw new CompletionException(e);
      }
    }, blocking);
  }

  /** Takes {@code sessionId}'s saved state, deleting it: empty if none, or too old. */
  CompletionStage<Optional<Saved>> take(String sessionId) {
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = db.getConnection(); PreparedStatement p = c.prepareStatement(
          "DELETE FROM " + TABLE + " WHERE session_id = ? RETURNING saved_at, state")) {
        p.setString(1, sessionId);
        try (ResultSet r = p.executeQuery()) {
          if (!r.next() || r.getLong(1) < System.currentTimeMillis() - maxAge.toMillis()) {
            return Optional.<Saved>empty();
          }
          return Optional.of(cbor.readValue(r.getBytes(2), Saved.class));
        }
      } catch (SQLException | IOException e) {
        throw new CompletionException(e);
      }
    }, blocking);
  }

  /** Deletes rows older than {@code resume.max-age}; returns how many. */
  public CompletionStage<Integer> purge() {
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = db.getConnection(); PreparedStatement p = c.prepareStatement(
          "DELETE FROM " + TABLE + " WHERE saved_at < ?")) {
        p.setLong(1, System.currentTimeMillis() - maxAge.toMillis());
        return p.executeUpdate();
      } catch (SQLException e) {
        throw new CompletionException(e);
      }
    }, blocking);
  }

  /**
   * The events of {@code channelId} after sequence number {@code after}, or (with {@code after}
   * negative) those written since {@code sinceMillis}, oldest first; at most {@code limit} + 1,
   * so that the caller sees when there were more than it may send.
   */
  CompletionStage<List<ChannelEvent>> channelEvents(String channelId, long after, long sinceMillis,
      int limit) {
    String pid = TextChannel.ENTITY_KEY.name() + "|" + channelId;
    CompletionStage<Long> from = after >= 0 ? CompletableFuture.completedFuture(after + 1)
        : firstSince(pid, sinceMillis, limit);
    return from.thenCompose(seq -> seq == Long.MAX_VALUE
            ? CompletableFuture.completedFuture(List.<EventEnvelope>of())
            : journal.currentEventsByPersistenceId(pid, seq, seq + limit)
                .runWith(Sink.seq(), system))
        .thenApply(envelopes -> {
          List<ChannelEvent> out = new ArrayList<>(envelopes.size());
          for (EventEnvelope e : envelopes) {
            if (e.event() instanceof TextChannel.Event event) {
              out.add(new ChannelEvent(channelId, e.sequenceNr(), event));
            }
          }
          return out;
        });
  }

  /**
   * The first sequence number of {@code pid} written at or after {@code sinceMillis}, looking at
   * most {@code limit} + 1 events back from the newest (a channel that busy is past resuming).
   */
  private CompletionStage<Long> firstSince(String pid, long sinceMillis, int limit) {
    return CompletableFuture.supplyAsync(() -> {
      try (Connection c = db.getConnection(); PreparedStatement p = c.prepareStatement(
          "SELECT sequence_number, write_timestamp FROM event_journal WHERE persistence_id = ? "
              + "ORDER BY sequence_number DESC LIMIT ?")) {
        p.setString(1, pid);
        p.setInt(2, limit + 1);
        long first = Long.MAX_VALUE;
        try (ResultSet r = p.executeQuery()) {
          while (r.next() && r.getLong(2) >= sinceMillis) {
            first = r.getLong(1);
          }
        }
        return first;
      } catch (SQLException e) {
        throw new CompletionException(e);
      }
    }, blocking);
  }
}
