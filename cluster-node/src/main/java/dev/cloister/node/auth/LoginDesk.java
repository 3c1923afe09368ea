package dev.cloister.node.auth;

import dev.cloister.guild.CborSerializable;
import java.math.BigInteger;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;

/**
 * The login desk of one username, sharded by a keyed hash of the name (so a login id, which
 * starts with the desk's key, does not tell the name): it holds that name's half-finished SRP
 * exchanges and its failure back-off ({@link UsernameLogins}). Any node routes a
 * {@code login/start} and a {@code login/finish} here, so the two may reach different nodes.
 *
 * <p>The private ephemeral b is made here, on the node that hosts the desk, and never leaves it:
 * no message, journal or table carries it. The state is not persisted: when the desk stops (its
 * node stops or dies, or it was idle for {@code max(login-timeout, max-login-backoff)}), its
 * pending logins end (their finish is refused; the client starts again) and its back-off is
 * forgotten. The modular exponentiations run on the hosting node's bounded SRP pool.
 */
public final class LoginDesk extends AbstractBehavior<LoginDesk.Command> {

  public static final EntityTypeKey<Command> ENTITY_KEY =
      EntityTypeKey.create(Command.class, "LoginDesk");

  /** Desks one node keeps at once; beyond it the least recently used is stopped. */
  static final int MAX_DESKS_PER_NODE = 100_000;

  /** What a desk needs from its node. */
  record Settings(Duration timeout, SrpLogins.Limits limits, Executor srpWork, Clock clock) {}

  static void init(ActorSystem<?> system, Settings settings) {
    ClusterShardingSettings defaults = ClusterShardingSettings.create(system);
    Duration idle = settings.timeout().compareTo(settings.limits().maxBackoff()) > 0
        ? settings.timeout() : settings.limits().maxBackoff();
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> Behaviors.<Command>setup(c ->
            Behaviors.withTimers(t -> new LoginDesk(c, t, ctx.getEntityId(), settings))))
        .withSettings(defaults.withPassivationStrategy(defaults.passivationStrategySettings()
            .withIdleEntityPassivation(idle.plusSeconds(1))
            .withActiveEntityLimit(MAX_DESKS_PER_NODE)
            .withLeastRecentlyUsedReplacement())));
  }

  public sealed interface Command extends CborSerializable {}

  /**
   * Start a login for {@code username}. {@code userId} and {@code verifier} are null for an
   * unknown name ({@code salt} is then the stable fake one); {@code origin} hears when the login
   * ends, wherever it ends.
   */
  record Start(String username, BigInteger a, String userId, byte[] salt, byte[] verifier,
      ActorRef<SrpLogins.Ended> origin, ActorRef<StartAnswer> replyTo) implements Command {}

  /** Exactly one of the fields but {@code retryAfterSeconds} is set. */
  record StartAnswer(String loginId, byte[] salt, BigInteger serverPublic, String refused,
      String throttled, long retryAfterSeconds, boolean busy) implements CborSerializable {}

  record Finish(String loginId, BigInteger m1, ActorRef<FinishAnswer> replyTo) implements Command {}

  /** {@code userId} null: refused (unknown, expired, spent or wrong). */
  record FinishAnswer(String userId, BigInteger m2) implements CborSerializable {}

  private record Prepared(Start start, String loginId, UsernameLogins.Prepared prepared,
      Throwable failure) implements Command {}

  private record Sweep() implements Command {}

  private static final Duration SWEEP = Duration.ofSeconds(10);

  private final String deskKey;
  private final Settings settings;
  private final TimerScheduler<Command> timers;
  private final SecureRandom random = new SecureRandom();
  private UsernameLogins<ActorRef<SrpLogins.Ended>> logins;

  private LoginDesk(ActorContext<Command> ctx, TimerScheduler<Command> timers, String deskKey,
      Settings settings) {
    super(ctx);
    this.timers = timers;
    this.deskKey = deskKey;
    this.settings = settings;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Start.class, this::onStart)
        .onMessage(Prepared.class, this::onPrepared)
        .onMessage(Finish.class, this::onFinish)
        .onMessage(Sweep.class, m -> {
          if (logins != null) {
            logins.expire(settings.clock().instant()).forEach((id, origin) ->
                origin.tell(new SrpLogins.Ended(id)));
            if (logins.pendingCount() == 0) {
              timers.cancel("sweep");
            }
          }
          return this;
        })
        .onSignal(PostStop.class, s -> {
          if (logins != null) {
            logins.pendingOrigins().forEach((id, origin) -> origin.tell(new SrpLogins.Ended(id)));
          }
          return this;
        })
        .build();
  }

  private Behavior<Command> onStart(Start s) {
    if (logins == null) {
      logins = new UsernameLogins<>(s.username(), settings.timeout(), settings.limits());
    } else if (!logins.username().equals(s.username())) {
      // Two names with one key: a 96-bit keyed hash makes this practically impossible.
      s.replyTo().tell(new StartAnswer(null, null, null, "this login cannot start here", null, 0,
          false));
      return this;
    }
    long wait = logins.waitSeconds(settings.clock().instant());
    if (wait > 0) {
      s.replyTo().tell(new StartAnswer(null, null, null, null,
          "too many failed logins for this username; try again in " + wait + " s", wait, false));
      return this;
    }
    String loginId = UsernameLogins.newLoginId(deskKey, random);
    BigInteger verifier = s.verifier() != null ? new BigInteger(1, s.verifier())
        // An unknown name: a random verifier, so the answer looks like a known one's.
        : new BigInteger(SrpLogins.GROUP.getN().bitLength() - 2, random);
    CompletableFuture<UsernameLogins.Prepared> work;
    try {
      work = CompletableFuture.supplyAsync(() -> {
        try {
          return UsernameLogins.prepare(s.a(), verifier, random);
        } catch (SrpLogins.LoginRefused e) {
          throw new CompletionException(e);
        }
      }, settings.srpWork());
    } catch (RejectedExecutionException e) {
      work = CompletableFuture.failedFuture(e);
    }
    getContext().pipeToSelf(work, (p, failure) -> new Prepared(s, loginId, p, failure));
    return this;
  }

  private Behavior<Command> onPrepared(Prepared m) {
    Start s = m.start();
    Throwable f = m.failure() instanceof CompletionException c && c.getCause() != null
        ? c.getCause() : m.failure();
    if (f instanceof SrpLogins.LoginRefused r) {
      s.replyTo().tell(new StartAnswer(null, null, null, r.getMessage(), null, 0, false));
    } else if (f != null) {
      s.replyTo().tell(new StartAnswer(null, null, null, null, null, 0, true));
    } else {
      logins.keep(m.loginId(), s.userId(), s.origin(), m.prepared(), settings.clock().instant());
      if (!timers.isTimerActive("sweep")) {
        timers.startTimerWithFixedDelay("sweep", new Sweep(), SWEEP);
      }
      s.replyTo().tell(new StartAnswer(m.loginId(), s.salt(), m.prepared().serverPublic(), null,
          null, 0, false));
    }
    return this;
  }

  private Behavior<Command> onFinish(Finish f) {
    if (logins == null) {
      f.replyTo().tell(new FinishAnswer(null, null));
      return this;
    }
    logins.originOf(f.loginId()).ifPresent(origin -> origin.tell(new SrpLogins.Ended(f.loginId())));
    var done = logins.finish(f.loginId(), f.m1(), settings.clock().instant());
    f.replyTo().tell(done.map(d -> new FinishAnswer(d.userId(), d.m2()))
        .orElse(new FinishAnswer(null, null)));
    return this;
  }
}
