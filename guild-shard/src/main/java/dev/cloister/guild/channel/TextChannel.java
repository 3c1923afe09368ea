package dev.cloister.guild.channel;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Replies;
import dev.cloister.guild.Snowflake;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * A text channel: orders and persists the messages posted to it. It keeps no history in memory
 * (only its last message id); history is served from the read model that
 * {@link MessageHistoryProjection} builds. Authorization is the guild's job, done before a post
 * reaches the channel. The server never interprets the ciphertext.
 */
public final class TextChannel extends
    EventSourcedBehaviorWithEnforcedReplies<TextChannel.Command, TextChannel.Event, TextChannel.State> {

  public static final EntityTypeKey<Command> ENTITY_KEY =
      EntityTypeKey.create(Command.class, "TextChannel");

  /** Projection tags {@code channel-0..3}; chosen once, never changed. */
  public static final int TAG_COUNT = 4;

  public static final int MAX_CIPHERTEXT_BYTES = 256 * 1024;

  public static void init(ActorSystem<?> system, Snowflake ids) {
    ClusterSharding.get(system)
        .init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), ids)));
  }

  public static Behavior<Command> create(String channelId, Snowflake ids) {
    return new TextChannel(PersistenceId.of(ENTITY_KEY.name(), channelId), ids);
  }

  public static String tagFor(String channelId) {
    return "channel-" + Math.floorMod(channelId.hashCode(), TAG_COUNT);
  }

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  /** Idempotent for the same guild and name. */
  public record Create(String guildId, String name, ActorRef<StatusReply<Info>> replyTo)
      implements Command {}

  public record Post(String authorId, byte[] ciphertext, ActorRef<StatusReply<Message>> replyTo)
      implements Command {}

  public record GetInfo(ActorRef<StatusReply<Info>> replyTo) implements Command {}

  public record Info(String id, String guildId, String name, long lastMessageId)
      implements CborSerializable {}

  public record Message(
      long id, String channelId, String authorId, byte[] ciphertext, long createdAtMillis)
      implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record ChannelCreated(String guildId, String name) implements Event {}

  public record MessagePosted(
      long messageId, String authorId, byte[] ciphertext, long createdAtMillis) implements Event {}

  // ---- state ----

  public record State(String id, String guildId, String name, long lastMessageId)
      implements CborSerializable {

    public static State empty(String id) {
      return new State(id, null, null, 0);
    }

    public boolean exists() {
      return guildId != null;
    }

    public Decision<Event> create(String guild, String channelName) {
      if (exists()) {
        return guild.equals(guildId) && channelName.equals(name)
            ? Decision.accept()
            : Decision.reject(Rejection.conflict("channel already exists"));
      }
      return Decision.accept(new ChannelCreated(guild, channelName));
    }

    /** {@code candidateId} comes from the node's id generator; ids never go backwards here. */
    public Decision<Event> post(String authorId, byte[] ciphertext, long candidateId) {
      if (!exists()) {
        return Decision.reject(Rejection.notFound("unknown channel"));
      }
      if (ciphertext == null || ciphertext.length == 0) {
        return Decision.reject(Rejection.invalid("ciphertext must not be empty"));
      }
      if (ciphertext.length > MAX_CIPHERTEXT_BYTES) {
        return Decision.reject(Rejection.invalid(
            "ciphertext is larger than " + MAX_CIPHERTEXT_BYTES + " bytes"));
      }
      long id = Math.max(candidateId, lastMessageId + 1);
      return Decision.accept(
          new MessagePosted(id, authorId, ciphertext, Snowflake.timestampOf(id).toEpochMilli()));
    }

    public Outcome<Info> info() {
      return exists()
          ? Outcome.ok(new Info(id, guildId, name, lastMessageId))
          : Outcome.rejected(Rejection.notFound("unknown channel"));
    }

    public State apply(Event event) {
      if (event instanceof ChannelCreated c) {
        return new State(id, c.guildId(), c.name(), lastMessageId);
      }
      if (event instanceof MessagePosted p) {
        return new State(id, guildId, name, p.messageId());
      }
      throw new IllegalStateException("unknown event " + event);
    }
  }

  // ---- the persistent shell ----

  private final String channelId;
  private final Snowflake ids;

  private TextChannel(PersistenceId persistenceId, Snowflake ids) {
    super(persistenceId);
    this.channelId = persistenceId.entityId();
    this.ids = ids;
  }

  @Override
  public State emptyState() {
    return State.empty(channelId);
  }

  @Override
  public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Create.class, (s, c) -> Replies.decide(Effect(),
            s.create(c.guildId(), c.name()), c.replyTo(), after -> after.info() instanceof
                Outcome.Ok<Info> ok ? ok.value() : null))
        .onCommand(Post.class, (s, c) -> {
          Decision<Event> d = s.post(c.authorId(), c.ciphertext(), ids.next());
          return Replies.decide(Effect(), d, c.replyTo(), after -> new Message(
              after.lastMessageId(), channelId, c.authorId(), c.ciphertext(),
              Snowflake.timestampOf(after.lastMessageId()).toEpochMilli()));
        })
        .onCommand(GetInfo.class, (s, c) -> Replies.answer(Effect(), c.replyTo(), s.info()))
        .build();
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(State::apply);
  }

  @Override
  public Set<String> tagsFor(Event event) {
    return Set.of(tagFor(channelId));
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2);
  }
}
