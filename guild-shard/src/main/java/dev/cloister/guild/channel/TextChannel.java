package dev.cloister.guild.channel;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Replies;
import dev.cloister.guild.Snowflake;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import dev.cloister.guild.GuildFeed;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * A text channel: orders and persists the messages posted to it, their edits, deletions and pins.
 * It keeps no history in memory (only its last message id and its pins); history is served from the read model that
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
  public static final int MAX_PINS = 50;

  public static void init(ActorSystem<?> system, Snowflake ids, GuildFeed feed) {
    ClusterSharding.get(system)
        .init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), ids, feed)));
  }

  public static Behavior<Command> create(String channelId, Snowflake ids) {
    return create(channelId, ids, GuildFeed.none());
  }

  public static Behavior<Command> create(String channelId, Snowflake ids, GuildFeed feed) {
    return Behaviors.setup(ctx ->
        new TextChannel(PersistenceId.of(ENTITY_KEY.name(), channelId), ids, ctx, feed));
  }

  public static String tagFor(String channelId) {
    return "channel-" + Math.floorMod(channelId.hashCode(), TAG_COUNT);
  }

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  /** Persist the posts that came in meanwhile, as one journal write. */
  enum FlushPosts implements Command { INSTANCE }

  /** Idempotent for the same guild and name. */
  public record Create(String guildId, String name, ActorRef<StatusReply<Info>> replyTo)
      implements Command {}

  /**
   * {@code guildVersion} is the guild's sequence number when the author's access was checked; the
   * gateways deliver the message to nobody before their copy of the guild has reached it.
   */
  public record Post(String authorId, byte[] ciphertext, long guildVersion,
      ActorRef<StatusReply<Message>> replyTo) implements Command {

    public Post(String authorId, byte[] ciphertext, ActorRef<StatusReply<Message>> replyTo) {
      this(authorId, ciphertext, 0, replyTo);
    }
  }

  /** Authorship is checked by the caller against the read model; the channel checks the id. */
  public record Edit(
      long messageId, String editorId, byte[] ciphertext, ActorRef<StatusReply<Info>> replyTo)
      implements Command {}

  public record Delete(long messageId, String byId, ActorRef<StatusReply<Info>> replyTo)
      implements Command {}

  public record Pin(long messageId, boolean pinned, ActorRef<StatusReply<Info>> replyTo)
      implements Command {}

  public record GetInfo(ActorRef<StatusReply<Info>> replyTo) implements Command {}

  /** {@code version} counts the channel's events: the read model is current once it reaches it. */
  public record Info(
      String id, String guildId, String name, long lastMessageId, long version, List<Long> pinned)
      implements CborSerializable {}

  public record Message(
      long id, String channelId, String authorId, byte[] ciphertext, long createdAtMillis)
      implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record ChannelCreated(String guildId, String name) implements Event {}

  /** {@code guildVersion}: see {@link Post}; 0 in events from before it was recorded. */
  public record MessagePosted(
      long messageId, String authorId, byte[] ciphertext, long createdAtMillis, long guildVersion)
      implements Event {

    public MessagePosted(long messageId, String authorId, byte[] ciphertext, long createdAtMillis) {
      this(messageId, authorId, ciphertext, createdAtMillis, 0);
    }
  }

  public record MessageEdited(long messageId, String editorId, byte[] ciphertext, long editedAtMillis)
      implements Event {}

  public record MessageDeleted(long messageId, String byId) implements Event {}

  public record MessagePinned(long messageId) implements Event {}

  public record MessageUnpinned(long messageId) implements Event {}

  // ---- state ----

  /**
   * {@code deleted}: the ids of deleted messages, ascending (eight bytes each; absent from older
   * snapshots), so that an edit or pin that raced a deletion is refused here, where the order is
   * decided, and not only by the read model the API looked at first.
   */
  public record State(
      String id, String guildId, String name, long lastMessageId, long version, List<Long> pinned,
      long[] deleted)
      implements CborSerializable {

    public State {
      deleted = deleted == null ? new long[0] : deleted;
    }

    public State(String id, String guildId, String name, long lastMessageId, long version,
        List<Long> pinned) {
      this(id, guildId, name, lastMessageId, version, pinned, null);
    }

    public static State empty(String id) {
      return new State(id, null, null, 0, 0, List.of());
    }

    public boolean isDeleted(long messageId) {
      return java.util.Arrays.binarySearch(deleted, messageId) >= 0;
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
      return post(authorId, ciphertext, candidateId, 0);
    }

    public Decision<Event> post(String authorId, byte[] ciphertext, long candidateId,
        long guildVersion) {
      Rejection bad = checkCiphertext(ciphertext);
      if (bad != null) {
        return Decision.reject(bad);
      }
      long id = Math.max(candidateId, lastMessageId + 1);
      return Decision.accept(
          new MessagePosted(id, authorId, ciphertext, Snowflake.timestampOf(id).toEpochMilli(),
              guildVersion));
    }

    public Decision<Event> edit(long messageId, String editorId, byte[] ciphertext, long now) {
      Rejection bad = checkMessage(messageId);
      if (bad == null) {
        bad = checkCiphertext(ciphertext);
      }
      return bad != null ? Decision.reject(bad)
          : Decision.accept(new MessageEdited(messageId, editorId, ciphertext, now));
    }

    public Decision<Event> delete(long messageId, String byId) {
      if (exists() && isDeleted(messageId)) {
        return Decision.accept(); // deleting twice changes nothing
      }
      Rejection bad = checkMessage(messageId);
      return bad != null ? Decision.reject(bad)
          : Decision.accept(new MessageDeleted(messageId, byId));
    }

    public Decision<Event> pin(long messageId, boolean pin) {
      Rejection bad = checkMessage(messageId);
      if (bad != null) {
        return Decision.reject(bad);
      }
      if (pin == pinned.contains(messageId)) {
        return Decision.accept();
      }
      if (pin && pinned.size() >= MAX_PINS) {
        return Decision.reject(Rejection.conflict(
            "a channel holds at most " + MAX_PINS + " pins; unpin one first"));
      }
      return Decision.accept(pin ? new MessagePinned(messageId) : new MessageUnpinned(messageId));
    }

    private Rejection checkMessage(long messageId) {
      if (!exists()) {
        return Rejection.notFound("unknown channel");
      }
      if (messageId <= 0 || messageId > lastMessageId || isDeleted(messageId)) {
        return Rejection.notFound("unknown message");
      }
      return null;
    }

    private Rejection checkCiphertext(byte[] ciphertext) {
      if (!exists()) {
        return Rejection.notFound("unknown channel");
      }
      if (ciphertext == null || ciphertext.length == 0) {
        return Rejection.invalid("ciphertext must not be empty");
      }
      if (ciphertext.length > MAX_CIPHERTEXT_BYTES) {
        return Rejection.invalid("ciphertext is larger than " + MAX_CIPHERTEXT_BYTES + " bytes");
      }
      return null;
    }

    public Outcome<Info> info() {
      return exists()
          ? Outcome.ok(new Info(id, guildId, name, lastMessageId, version, pinned))
          : Outcome.rejected(Rejection.notFound("unknown channel"));
    }

    public State apply(Event event) {
      long v = version + 1;
      if (event instanceof ChannelCreated c) {
        return new State(id, c.guildId(), c.name(), lastMessageId, v, pinned, deleted);
      }
      if (event instanceof MessagePosted p) {
        return new State(id, guildId, name, p.messageId(), v, pinned, deleted);
      }
      if (event instanceof MessageEdited) {
        return new State(id, guildId, name, lastMessageId, v, pinned, deleted);
      }
      if (event instanceof MessageDeleted d) {
        return new State(id, guildId, name, lastMessageId, v, without(d.messageId()),
            withDeleted(d.messageId()));
      }
      if (event instanceof MessagePinned p) {
        List<Long> next = new ArrayList<>(pinned);
        next.add(p.messageId());
        return new State(id, guildId, name, lastMessageId, v, List.copyOf(next), deleted);
      }
      if (event instanceof MessageUnpinned u) {
        return new State(id, guildId, name, lastMessageId, v, without(u.messageId()), deleted);
      }
      throw new IllegalStateException("unknown event " + event);
    }

    private long[] withDeleted(long messageId) {
      int at = java.util.Arrays.binarySearch(deleted, messageId);
      if (at >= 0) {
        return deleted;
      }
      int insert = -at - 1;
      long[] next = new long[deleted.length + 1];
      System.arraycopy(deleted, 0, next, 0, insert);
      next[insert] = messageId;
      System.arraycopy(deleted, insert, next, insert + 1, deleted.length - insert);
      return next;
    }

    private List<Long> without(long messageId) {
      return pinned.stream().filter(p -> p != messageId).toList();
    }
  }

  // ---- the persistent shell ----

  private final String channelId;
  private final Snowflake ids;
  private final ActorContext<Command> context;
  private final GuildFeed feed;
  /**
   * Posts waiting for {@link FlushPosts}: those that arrive while a write is under way go into the
   * next write together, so a busy channel costs one journal write (one fsync) per batch rather
   * than per post; each post is still answered only once its event is in the journal.
   */
  private final List<Post> posts = new ArrayList<>();

  private TextChannel(PersistenceId persistenceId, Snowflake ids, ActorContext<Command> context,
      GuildFeed feed) {
    super(persistenceId);
    this.channelId = persistenceId.entityId();
    this.ids = ids;
    this.context = context;
    this.feed = feed;
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
            s.create(c.guildId(), c.name()), c.replyTo(), TextChannel::infoOf))
        .onCommand(Post.class, (s, c) -> {
          posts.add(c);
          if (posts.size() == 1) {
            // Behind whatever is already in the mailbox (or stashed during a write): those too.
            context.getSelf().tell(FlushPosts.INSTANCE);
          }
          return Effect().noReply();
        })
        .onCommand(FlushPosts.class, this::flushPosts)
        .onCommand(Edit.class, (s, c) -> Replies.decide(Effect(),
            s.edit(c.messageId(), c.editorId(), c.ciphertext(), System.currentTimeMillis()),
            c.replyTo(), TextChannel::infoOf, this::published))
        .onCommand(Delete.class, (s, c) -> Replies.decide(Effect(),
            s.delete(c.messageId(), c.byId()), c.replyTo(), TextChannel::infoOf, this::published))
        .onCommand(Pin.class, (s, c) -> Replies.decide(Effect(),
            s.pin(c.messageId(), c.pinned()), c.replyTo(), TextChannel::infoOf, this::published))
        .onCommand(GetInfo.class, (s, c) -> Replies.answer(Effect(), c.replyTo(), s.info()))
        .build();
  }

  /**
   * Decides every waiting post in order (each gets an id after the one before it) and persists
   * them in one write; each poster is answered with its message once the write is done.
   */
  private ReplyEffect<Event, State> flushPosts(State s, FlushPosts f) {
    List<Post> batch = List.copyOf(posts);
    posts.clear();
    List<Event> events = new ArrayList<>();
    List<Post> accepted = new ArrayList<>();
    List<MessagePosted> posted = new ArrayList<>();
    State state = s;
    for (Post c : batch) {
      Decision<Event> d = state.post(c.authorId(), c.ciphertext(), ids.next(), c.guildVersion());
      if (d instanceof Decision.Reject<Event> r) {
        c.replyTo().tell(StatusReply.error(r.rejection().reason()));
        continue;
      }
      for (Event e : ((Decision.Accept<Event>) d).events()) {
        events.add(e);
        state = state.apply(e);
        if (e instanceof MessagePosted m) {
          accepted.add(c);
          posted.add(m);
        }
      }
    }
    if (events.isEmpty()) {
      return Effect().noReply();
    }
    return Effect().persist(events).thenRun(after -> {
      published(events, after);
      for (int i = 0; i < accepted.size(); i++) {
        Post c = accepted.get(i);
        MessagePosted m = posted.get(i);
        c.replyTo().tell(StatusReply.success(new Message(m.messageId(), channelId, c.authorId(),
            c.ciphertext(), m.createdAtMillis())));
      }
    }).thenNoReply();
  }

  /** Tells the gateways of the channel's guild, once the events are in the journal. */
  private void published(List<Event> events, State after) {
    long first = lastSequenceNumber(context) - events.size() + 1;
    for (int i = 0; i < events.size(); i++) {
      feed.publish(new GuildFeed.ChannelChanged(after.guildId(), channelId, first + i, events.get(i)));
    }
  }

  private static Info infoOf(State s) {
    return new Info(s.id(), s.guildId(), s.name(), s.lastMessageId(), s.version(), s.pinned());
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
