package dev.cloister.guild.user;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Replies;
import java.util.ArrayList;
import java.util.List;
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
 * A user: their username and the guilds they belong to. Keyed by the user's snowflake id. The
 * guild list mirrors what each {@code Guild} records; the guild stays the authority on membership.
 */
public final class User
    extends EventSourcedBehaviorWithEnforcedReplies<User.Command, User.Event, User.State> {

  public static final EntityTypeKey<Command> ENTITY_KEY = EntityTypeKey.create(Command.class, "User");

  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId())));
  }

  public static Behavior<Command> create(String userId) {
    return new User(PersistenceId.of(ENTITY_KEY.name(), userId));
  }

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  /** Idempotent: repeating it for the same username changes nothing. */
  public record Create(String username, ActorRef<StatusReply<Profile>> replyTo) implements Command {}

  /** Idempotent as well. */
  public record JoinGuild(String guildId, ActorRef<StatusReply<Profile>> replyTo)
      implements Command {}

  /** Idempotent as well. */
  public record LeaveGuild(String guildId, ActorRef<StatusReply<Profile>> replyTo)
      implements Command {}

  public record GetProfile(ActorRef<StatusReply<Profile>> replyTo) implements Command {}

  public record Profile(String userId, String username, List<String> guildIds)
      implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record Created(String username) implements Event {}

  public record GuildJoined(String guildId) implements Event {}

  public record GuildLeft(String guildId) implements Event {}

  // ---- state ----

  public record State(String userId, String username, List<String> guildIds)
      implements CborSerializable {

    public static State empty(String userId) {
      return new State(userId, null, List.of());
    }

    public boolean exists() {
      return username != null;
    }

    public Decision<Event> create(String name) {
      if (exists()) {
        return name.equals(username)
            ? Decision.accept()
            : Decision.reject(Rejection.conflict("user already exists as '" + username + "'"));
      }
      return Decision.accept(new Created(name));
    }

    public Decision<Event> joinGuild(String guildId) {
      if (!exists()) {
        return Decision.reject(Rejection.notFound("no such user"));
      }
      return guildIds.contains(guildId) ? Decision.accept() : Decision.accept(new GuildJoined(guildId));
    }

    public Decision<Event> leaveGuild(String guildId) {
      if (!exists()) {
        return Decision.reject(Rejection.notFound("no such user"));
      }
      return guildIds.contains(guildId) ? Decision.accept(new GuildLeft(guildId)) : Decision.accept();
    }

    public Outcome<Profile> profile() {
      return exists()
          ? Outcome.ok(new Profile(userId, username, guildIds))
          : Outcome.rejected(Rejection.notFound("no such user"));
    }

    public State apply(Event event) {
      if (event instanceof Created c) {
        return new State(userId, c.username(), guildIds);
      }
      if (event instanceof GuildJoined j) {
        List<String> next = new ArrayList<>(guildIds);
        next.add(j.guildId());
        return new State(userId, username, List.copyOf(next));
      }
      if (event instanceof GuildLeft l) {
        return new State(userId, username,
            guildIds.stream().filter(g -> !g.equals(l.guildId())).toList());
      }
      throw new IllegalStateException("unknown event " + event);
    }
  }

  // ---- the persistent shell ----

  private final String userId;

  private User(PersistenceId persistenceId) {
    super(persistenceId);
    this.userId = persistenceId.entityId();
  }

  @Override
  public State emptyState() {
    return State.empty(userId);
  }

  @Override
  public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Create.class, (s, c) ->
            Replies.decide(Effect(), s.create(c.username()), c.replyTo(), User::profileOf))
        .onCommand(JoinGuild.class, (s, c) ->
            Replies.decide(Effect(), s.joinGuild(c.guildId()), c.replyTo(), User::profileOf))
        .onCommand(LeaveGuild.class, (s, c) ->
            Replies.decide(Effect(), s.leaveGuild(c.guildId()), c.replyTo(), User::profileOf))
        .onCommand(GetProfile.class, (s, c) -> Replies.answer(Effect(), c.replyTo(), s.profile()))
        .build();
  }

  private static Profile profileOf(State s) {
    return new Profile(s.userId(), s.username(), s.guildIds());
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(State::apply);
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2);
  }
}
