package dev.cloister.guild.user;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Replies;
import java.util.regex.Pattern;
import org.apache.pekko.Done;
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
 * The login record of one username: which user it belongs to and the SRP salt and verifier. The
 * entity id is the username itself, so a name can be claimed exactly once. No password ever
 * reaches the server.
 */
public final class Account
    extends EventSourcedBehaviorWithEnforcedReplies<Account.Command, Account.Event, Account.State> {

  public static final EntityTypeKey<Command> ENTITY_KEY =
      EntityTypeKey.create(Command.class, "Account");

  /** Lower-case letters, digits, '_' and '.', 2 to 32 of them (as Discord's usernames). */
  public static final Pattern USERNAME = Pattern.compile("[a-z0-9_.]{2,32}");

  public static final int MAX_SALT_BYTES = 64;
  public static final int MAX_VERIFIER_BYTES = 512;

  public static void init(ActorSystem<?> system) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId())));
  }

  public static Behavior<Command> create(String username) {
    return new Account(PersistenceId.of(ENTITY_KEY.name(), username));
  }

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  public record Register(
      String userId, String username, byte[] salt, byte[] verifier,
      ActorRef<StatusReply<Credentials>> replyTo) implements Command {}

  public record GetCredentials(ActorRef<StatusReply<Credentials>> replyTo) implements Command {}

  public record Credentials(String userId, String username, byte[] salt, byte[] verifier)
      implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record Registered(String userId, String username, byte[] salt, byte[] verifier)
      implements Event {}

  // ---- state ----

  public record State(Credentials credentials) implements CborSerializable {

    public static final State EMPTY = new State(null);

    public Decision<Event> register(String userId, String username, byte[] salt, byte[] verifier) {
      if (!USERNAME.matcher(username).matches()) {
        return Decision.reject(Rejection.invalid(
            "username must be 2 to 32 lower-case letters, digits, '_' or '.'"));
      }
      if (salt.length == 0 || salt.length > MAX_SALT_BYTES) {
        return Decision.reject(Rejection.invalid("salt must be 1 to " + MAX_SALT_BYTES + " bytes"));
      }
      if (verifier.length == 0 || verifier.length > MAX_VERIFIER_BYTES) {
        return Decision.reject(
            Rejection.invalid("verifier must be 1 to " + MAX_VERIFIER_BYTES + " bytes"));
      }
      if (credentials != null) {
        if (credentials.userId().equals(userId)
            || (java.util.Arrays.equals(credentials.salt(), salt)
                && java.util.Arrays.equals(credentials.verifier(), verifier))) {
          // A retried registration (the API picks a new user id per attempt): it answers the
          // first attempt's user id, so a registration whose User step failed can be finished.
          return Decision.accept();
        }
        return Decision.reject(Rejection.conflict("username '" + username + "' is taken"));
      }
      return Decision.accept(new Registered(userId, username, salt, verifier));
    }

    public Outcome<Credentials> credentialsOrReject() {
      return credentials == null
          ? Outcome.rejected(Rejection.notFound("no such account"))
          : Outcome.ok(credentials);
    }

    public State apply(Event event) {
      if (event instanceof Registered r) {
        return new State(new Credentials(r.userId(), r.username(), r.salt(), r.verifier()));
      }
      throw new IllegalStateException("unknown event " + event);
    }
  }

  // ---- the persistent shell ----

  private final String username;

  private Account(PersistenceId persistenceId) {
    super(persistenceId);
    this.username = persistenceId.entityId();
  }

  @Override
  public State emptyState() {
    return State.EMPTY;
  }

  @Override
  public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Register.class, (state, c) -> Replies.decide(Effect(),
            username.equals(c.username())
                ? state.register(c.userId(), c.username(), c.salt(), c.verifier())
                : Decision.reject(Rejection.invalid("username does not match the account")),
            c.replyTo(), State::credentials))
        .onCommand(GetCredentials.class,
            (state, c) -> Replies.answer(Effect(), c.replyTo(), state.credentialsOrReject()))
        .build();
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
