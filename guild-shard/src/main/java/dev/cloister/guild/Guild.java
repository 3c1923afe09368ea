package dev.cloister.guild;

import java.util.ArrayList;
import java.util.List;
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
 * A guild: its name, owner, members and channel directory. It is the authority on who may see and
 * do what in its channels; channel entities ask nothing themselves.
 */
public final class Guild
    extends EventSourcedBehaviorWithEnforcedReplies<Guild.Command, Guild.Event, Guild.State> {

  public static final EntityTypeKey<Command> ENTITY_KEY = EntityTypeKey.create(Command.class, "Guild");

  /** Projection tags {@code guild-0..3}; chosen once, never changed. */
  public static final int TAG_COUNT = 4;

  public static final int MAX_NAME_LENGTH = 100;
  public static final int MAX_CHANNELS = 500;

  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId())));
  }

  public static Behavior<Command> create(String guildId) {
    return new Guild(PersistenceId.of(ENTITY_KEY.name(), guildId));
  }

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  public record Create(
      String name, String ownerId, String textChannelId, String voiceChannelId,
      ActorRef<StatusReply<GuildView>> replyTo) implements Command {}

  public record AddChannel(
      String requesterId, String channelId, String name, ChannelType type,
      ActorRef<StatusReply<ChannelInfo>> replyTo) implements Command {}

  /** Succeeds with the channel if the user holds {@code permission} in it. */
  public record CheckChannelAccess(
      String userId, String channelId, Permission permission,
      ActorRef<StatusReply<ChannelInfo>> replyTo) implements Command {}

  /** Succeeds if the user holds {@code permission} guild-wide. */
  public record CheckGuildPermission(
      String userId, Permission permission, ActorRef<StatusReply<GuildView>> replyTo)
      implements Command {}

  public record Get(String requesterId, ActorRef<StatusReply<GuildView>> replyTo)
      implements Command {}

  public record ChannelInfo(String id, String guildId, String name, ChannelType type)
      implements CborSerializable {}

  public record GuildView(
      String id, String name, String ownerId, List<ChannelInfo> channels, List<String> memberIds)
      implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record GuildCreated(String name, String ownerId, List<ChannelInfo> channels)
      implements Event {}

  public record ChannelAdded(ChannelInfo channel) implements Event {}

  // ---- state ----

  public record State(
      String id, String name, String ownerId, List<String> memberIds, List<ChannelInfo> channels)
      implements CborSerializable {

    public static State empty(String id) {
      return new State(id, null, null, List.of(), List.of());
    }

    public boolean exists() {
      return name != null;
    }

    public Decision<Event> create(
        String newName, String owner, String textChannelId, String voiceChannelId) {
      String trimmed = newName == null ? "" : newName.strip();
      if (exists()) {
        return owner.equals(ownerId) && trimmed.equals(name)
            ? Decision.accept() // a retried creation
            : Decision.reject(Rejection.conflict("guild already exists"));
      }
      Rejection bad = checkName("guild", trimmed);
      if (bad != null) {
        return Decision.reject(bad);
      }
      return Decision.accept(new GuildCreated(trimmed, owner, List.of(
          new ChannelInfo(textChannelId, id, "general", ChannelType.TEXT),
          new ChannelInfo(voiceChannelId, id, "General", ChannelType.VOICE))));
    }

    public Decision<Event> addChannel(
        String requesterId, String channelId, String channelName, ChannelType type) {
      Rejection denied = require(requesterId, Permission.MANAGE_CHANNELS);
      if (denied != null) {
        return Decision.reject(denied);
      }
      if (channel(channelId) != null) {
        return Decision.accept(); // a retried creation of the same channel
      }
      String trimmed = channelName == null ? "" : channelName.strip();
      Rejection bad = checkName("channel", trimmed);
      if (bad != null) {
        return Decision.reject(bad);
      }
      if (type == null) {
        return Decision.reject(Rejection.invalid("channel type must be \"text\" or \"voice\""));
      }
      if (channels.size() >= MAX_CHANNELS) {
        return Decision.reject(
            Rejection.conflict("a guild holds at most " + MAX_CHANNELS + " channels"));
      }
      return Decision.accept(new ChannelAdded(new ChannelInfo(channelId, id, trimmed, type)));
    }

    public Outcome<ChannelInfo> channelAccess(String userId, String channelId, Permission p) {
      ChannelInfo c = channel(channelId);
      if (c == null) {
        return Outcome.rejected(Rejection.notFound("unknown channel"));
      }
      Rejection denied = require(userId, p);
      return denied == null ? Outcome.ok(c) : Outcome.rejected(denied);
    }

    public Outcome<GuildView> guildPermission(String userId, Permission p) {
      Rejection denied = require(userId, p);
      return denied == null ? view(userId) : Outcome.rejected(denied);
    }

    public Outcome<GuildView> view(String requesterId) {
      if (!exists()) {
        return Outcome.rejected(Rejection.notFound("unknown guild"));
      }
      if (!memberIds.contains(requesterId)) {
        return Outcome.rejected(Rejection.forbidden("you are not a member of this guild"));
      }
      return Outcome.ok(new GuildView(id, name, ownerId, channels, memberIds));
    }

    /** Owner: everything. Members: the @everyone defaults (roles arrive with the guild domain). */
    public long permissionsOf(String userId) {
      if (!exists() || !memberIds.contains(userId)) {
        return 0;
      }
      if (userId.equals(ownerId)) {
        return -1L;
      }
      return Permission.mask(Permission.EVERYONE_DEFAULT);
    }

    private Rejection require(String userId, Permission p) {
      if (!exists()) {
        return Rejection.notFound("unknown guild");
      }
      if (!memberIds.contains(userId)) {
        return Rejection.forbidden("you are not a member of this guild");
      }
      if (!p.in(permissionsOf(userId))) {
        return Rejection.forbidden("missing permission " + p.name());
      }
      return null;
    }

    private ChannelInfo channel(String channelId) {
      for (ChannelInfo c : channels) {
        if (c.id().equals(channelId)) {
          return c;
        }
      }
      return null;
    }

    private static Rejection checkName(String what, String name) {
      if (name.isEmpty() || name.length() > MAX_NAME_LENGTH) {
        return Rejection.invalid(what + " name must be 1 to " + MAX_NAME_LENGTH + " characters");
      }
      for (int i = 0; i < name.length(); i++) {
        if (Character.isISOControl(name.charAt(i))) {
          return Rejection.invalid(what + " name must not contain control characters");
        }
      }
      return null;
    }

    public State apply(Event event) {
      if (event instanceof GuildCreated c) {
        return new State(id, c.name(), c.ownerId(), List.of(c.ownerId()), c.channels());
      }
      if (event instanceof ChannelAdded a) {
        List<ChannelInfo> next = new ArrayList<>(channels);
        next.add(a.channel());
        return new State(id, name, ownerId, memberIds, List.copyOf(next));
      }
      throw new IllegalStateException("unknown event " + event);
    }
  }

  // ---- the persistent shell ----

  private final String guildId;

  private Guild(PersistenceId persistenceId) {
    super(persistenceId);
    this.guildId = persistenceId.entityId();
  }

  @Override
  public State emptyState() {
    return State.empty(guildId);
  }

  @Override
  public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Create.class, (s, c) -> Replies.decide(Effect(),
            s.create(c.name(), c.ownerId(), c.textChannelId(), c.voiceChannelId()),
            c.replyTo(), after -> after.view(c.ownerId()) instanceof Outcome.Ok<GuildView> ok
                ? ok.value() : null))
        .onCommand(AddChannel.class, (s, c) -> Replies.decide(Effect(),
            s.addChannel(c.requesterId(), c.channelId(), c.name(), c.type()),
            c.replyTo(), after -> after.channel(c.channelId())))
        .onCommand(CheckChannelAccess.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            s.channelAccess(c.userId(), c.channelId(), c.permission())))
        .onCommand(CheckGuildPermission.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            s.guildPermission(c.userId(), c.permission())))
        .onCommand(Get.class,
            (s, c) -> Replies.answer(Effect(), c.replyTo(), s.view(c.requesterId())))
        .build();
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(State::apply);
  }

  @Override
  public Set<String> tagsFor(Event event) {
    return Set.of("guild-" + Math.floorMod(guildId.hashCode(), TAG_COUNT));
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2);
  }
}
