package dev.cloister.guild.channel;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.ShardedDaemonProcessSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ShardedDaemonProcess;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.projection.ProjectionBehavior;
import org.apache.pekko.projection.ProjectionId;
import org.apache.pekko.projection.eventsourced.EventEnvelope;
import org.apache.pekko.projection.eventsourced.javadsl.EventSourcedProvider;
import org.apache.pekko.projection.javadsl.GroupedProjection;
import org.apache.pekko.projection.javadsl.SourceProvider;
import org.apache.pekko.projection.jdbc.javadsl.JdbcHandler;
import org.apache.pekko.projection.jdbc.javadsl.JdbcProjection;

/**
 * Feeds {@link MessageHistory} from the text channels' events, one projection per tag, run by a
 * sharded daemon process so each tag is projected by exactly one node. Events are applied in
 * groups (up to {@link #GROUP_SIZE} or {@link #GROUP_WITHIN}); a group's rows and its offset commit
 * in one transaction: exactly once, without a commit per message.
 */
public final class MessageHistoryProjection
    extends JdbcHandler<List<EventEnvelope<TextChannel.Event>>, DataSourceSession> {

  static final int GROUP_SIZE = 500;
  static final Duration GROUP_WITHIN = Duration.ofMillis(20);


  public static final String NAME = "message-history";

  public static void init(ActorSystem<?> system, DataSource dataSource) {
    ShardedDaemonProcess.get(system).init(
        ProjectionBehavior.Command.class,
        NAME,
        TextChannel.TAG_COUNT,
        i -> ProjectionBehavior.create(projection(system, dataSource, "channel-" + i)),
        ShardedDaemonProcessSettings.create(system),
        Optional.of(ProjectionBehavior.stopMessage()));
  }

  static GroupedProjection<Offset, EventEnvelope<TextChannel.Event>> projection(
      ActorSystem<?> system, DataSource dataSource, String tag) {
    SourceProvider<Offset, EventEnvelope<TextChannel.Event>> source =
        EventSourcedProvider.eventsByTag(system, JdbcReadJournal.Identifier(), tag);
    return JdbcProjection.groupedWithin(
            ProjectionId.of(NAME, tag),
            source,
            () -> new DataSourceSession(dataSource),
            MessageHistoryProjection::new,
            system)
        .withGroup(GROUP_SIZE, GROUP_WITHIN);
  }

  @Override
  public void process(DataSourceSession session, List<EventEnvelope<TextChannel.Event>> envelopes)
      throws Exception {
    session.withConnection(c -> {
      for (EventEnvelope<TextChannel.Event> envelope : envelopes) {
        String channelId = envelope.persistenceId().substring(
            envelope.persistenceId().indexOf('|') + 1);
        MessageHistory.apply(c, channelId, envelope.sequenceNr(), envelope.event());
      }
      return null;
    });
  }
}
