package dev.cloister.node.events;

import dev.cloister.guild.Guild;
import dev.cloister.guild.GuildDirectory;
import dev.cloister.guild.channel.DataSourceSession;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.guild.group.EncryptionGroup;
import dev.cloister.guild.voice.VoiceChannel;
import dev.cloister.node.metrics.CloisterMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeader;
import java.nio.charset.StandardCharsets;
import org.apache.pekko.Done;
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
import org.apache.pekko.projection.javadsl.Handler;
import org.apache.pekko.projection.javadsl.SourceProvider;
import org.apache.pekko.projection.jdbc.javadsl.JdbcProjection;

/**
 * Publishes the journal's guild, channel and encryption-group events to Kafka, one projection
 * per tag ({@code guild-N}, {@code channel-N}, {@code group-N}, {@code voice-N}) with its offsets in PostgreSQL
 * beside the other projections'. Each record is keyed by guild id, so one guild's events keep
 * their order within a partition, and carries a {@link CloudEvent}.
 *
 * <p>At least once: a batch's offset is stored only after Kafka acknowledged all of it; a
 * failure (Kafka down) fails the batch and the projection restarts from the stored offset after
 * a back-off. The producer is idempotent, so its own retries add no duplicates; a batch sent
 * again after a failure may, and consumers drop those by the event id.
 */
public final class EventStreamProjection extends Handler<List<EventEnvelope<Object>>> {

  public static final String NAME = "event-stream";

  static final int GROUP_SIZE = 200;
  static final Duration GROUP_WITHIN = Duration.ofMillis(50);

  private final EventStream stream;
  private final GuildDirectory directory;
  private final Map<String, String> guildOfChannel = new LinkedHashMap<>(256, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
      return size() > 10_000;
    }
  };

  EventStreamProjection(EventStream stream, GuildDirectory directory) {
    this.stream = stream;
    this.directory = directory;
  }

  /** Runs the projections, spread over the cluster like the others. */
  public static void init(ActorSystem<?> system, DataSource dataSource, EventStream stream) {
    List<String> tags = new ArrayList<>();
    for (int i = 0; i < Guild.TAG_COUNT; i++) {
      tags.add("guild-" + i);
    }
    for (int i = 0; i < TextChannel.TAG_COUNT; i++) {
      tags.add("channel-" + i);
    }
    for (int i = 0; i < EncryptionGroup.TAG_COUNT; i++) {
      tags.add("group-" + i);
    }
    for (int i = 0; i < VoiceChannel.TAG_COUNT; i++) {
      tags.add("voice-" + i);
    }
    GuildDirectory directory = new GuildDirectory(dataSource);
    ShardedDaemonProcess.get(system).init(
        ProjectionBehavior.Command.class,
        NAME,
        tags.size(),
        i -> ProjectionBehavior.create(projection(system, dataSource, tags.get(i),
            new EventStreamProjection(stream, directory))),
        ShardedDaemonProcessSettings.create(system),
        Optional.of(ProjectionBehavior.stopMessage()));
  }

  static GroupedProjection<Offset, EventEnvelope<Object>> projection(ActorSystem<?> system,
      DataSource dataSource, String tag, EventStreamProjection handler) {
    SourceProvider<Offset, EventEnvelope<Object>> source =
        EventSourcedProvider.eventsByTag(system, JdbcReadJournal.Identifier(), tag);
    return JdbcProjection.groupedWithinAsync(ProjectionId.of(NAME, tag), source,
            () -> new DataSourceSession(dataSource), () -> handler, system)
        .withGroup(GROUP_SIZE, GROUP_WITHIN);
  }

  @Override
  public CompletionStage<Done> process(List<EventEnvelope<Object>> envelopes) {
    Duration timeout = stream.settings().sendTimeout();
    // Topics first; then, on the stream's own thread (a send may block while Kafka is away),
    // every record of the batch; then all the acknowledgements.
    return stream.topicsReady().copy()
        .orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
        .thenComposeAsync(ready -> sendAll(envelopes), stream.sender())
        .whenComplete((done, failure) -> {
          if (failure != null) {
            CloisterMetrics.EVENTS_PUBLISH_FAILURES.increment();
          }
        });
  }

  private CompletableFuture<Done> sendAll(List<EventEnvelope<Object>> envelopes) {
    List<CompletableFuture<Void>> acks = new ArrayList<>(envelopes.size());
    for (EventEnvelope<Object> e : envelopes) {
      CloudEvent event;
      try {
        event = envelope(e);
      } catch (Exception ex) {
        return CompletableFuture.failedFuture(ex);
      }
      if (event == null) {
        continue;
      }
      CloudEvent.Family family = family(e.persistenceId());
      String topic = stream.settings().topic(family);
      ProducerRecord<String, String> record =
          new ProducerRecord<>(topic, event.guildId(), event.toJson());
      record.headers().add(new RecordHeader("content-type",
          CloudEvent.CONTENT_TYPE.getBytes(StandardCharsets.UTF_8)));
      record.headers().add(new RecordHeader("ce_id", event.id().getBytes(StandardCharsets.UTF_8)));
      CompletableFuture<Void> ack = new CompletableFuture<>();
      try {
        stream.producer().send(record, (metadata, failure) -> {
          if (failure != null) {
            ack.completeExceptionally(failure);
          } else {
            CloisterMetrics.EVENTS_PUBLISHED.withTag("topic", topic).increment();
            ack.complete(null);
          }
        });
      } catch (RuntimeException ex) {
        ack.completeExceptionally(ex);
      }
      acks.add(ack);
    }
    return CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
        .thenApply(x -> Done.getInstance());
  }

  static CloudEvent.Family family(String persistenceId) {
    String type = persistenceId.substring(0, Math.max(0, persistenceId.indexOf('|')));
    return switch (type) {
      case "Guild" -> CloudEvent.Family.GUILD;
      case "TextChannel" -> CloudEvent.Family.CHANNEL;
      case "EncryptionGroup" -> CloudEvent.Family.GROUP;
      case "VoiceChannel" -> CloudEvent.Family.VOICE;
      default -> null;
    };
  }

  /** The CloudEvent of one journal event; null for entities the stream does not carry. */
  CloudEvent envelope(EventEnvelope<Object> e) throws Exception {
    CloudEvent.Family family = family(e.persistenceId());
    if (family == null) {
      return null;
    }
    String entityId = e.persistenceId().substring(e.persistenceId().indexOf('|') + 1);
    Object event = e.event();
    String guildId;
    String channelId = null;
    switch (family) {
      case GUILD -> {
        guildId = entityId;
        channelId = channelOf(event);
      }
      case CHANNEL -> {
        channelId = entityId;
        guildId = event instanceof TextChannel.ChannelCreated c ? remember(entityId, c.guildId())
            : guildOfChannel(entityId);
      }
      case VOICE -> {
        channelId = entityId;
        guildId = event instanceof VoiceChannel.ParticipantJoined j
            ? remember(entityId, j.guildId())
            : event instanceof VoiceChannel.UserLimitSet u ? remember(entityId, u.guildId())
            : guildOfChannel(entityId);
      }
      default -> {
        if (event instanceof EncryptionGroup.RosterSet r) {
          guildId = r.guildId();
          channelId = r.channelId();
        } else if (entityId.startsWith("g")) {
          guildId = entityId.substring(1);
        } else {
          channelId = channelOfGroup(entityId);
          guildId = guildOfChannel(channelId);
        }
      }
    }
    return CloudEvent.of(family, e.persistenceId(), entityId, e.sequenceNr(), e.timestamp(),
        guildId, channelId, event);
  }

  /** {@code c<channelId>}, or a call's {@code v<channelId>.<call>}. */
  static String channelOfGroup(String groupId) {
    int dot = groupId.indexOf('.');
    return groupId.substring(1, dot > 0 ? dot : groupId.length());
  }

  private String remember(String channelId, String guildId) {
    synchronized (guildOfChannel) {
      guildOfChannel.put(channelId, guildId);
    }
    return guildId;
  }

  private String guildOfChannel(String channelId) throws Exception {
    synchronized (guildOfChannel) {
      String known = guildOfChannel.get(channelId);
      if (known != null) {
        return known;
      }
    }
    return remember(channelId, directory.lookup(GuildDirectory.Kind.CHANNEL, channelId)
        .orElse("unknown"));
  }

  /** A guild event's channel, when it is about one (a component named channelId, or channel). */
  private static String channelOf(Object event) {
    if (event instanceof Guild.ChannelAdded a) {
      return a.channel().id();
    }
    if (event instanceof Record r) {
      for (var c : r.getClass().getRecordComponents()) {
        if (c.getName().equals("channelId") && c.getType() == String.class) {
          try {
            return (String) c.getAccessor().invoke(r);
          } catch (ReflectiveOperationException ex) {
            return null;
          }
        }
      }
    }
    return null;
  }
}
