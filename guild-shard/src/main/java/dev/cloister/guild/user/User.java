package dev.cloister.guild.user;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Replies;
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
 * A user: their username, the guilds they belong to and their devices with the MLS key packages
 * each uploaded. Keyed by the user's snowflake id. The guild list mirrors what each {@code Guild}
 * records; the guild stays the authority on membership. Device events are tagged {@code user-0..3}
 * so that the encryption groups' driver sees devices come and go.
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

  /** Idempotent for the same signature key. */
  public record AddDevice(String deviceId, byte[] credential, byte[] signatureKey, long nowMillis,
      ActorRef<StatusReply<Devices.DeviceInfo>> replyTo) implements Command {}

  public record RemoveDevice(String deviceId, long nowMillis,
      ActorRef<StatusReply<Profile>> replyTo) implements Command {}

  public record GetDevices(ActorRef<StatusReply<Devices.DeviceList>> replyTo)
      implements Command {}

  /** Key packages already checked against the device (signature, suite, lifetime, credential). */
  public record UploadKeyPackages(String deviceId, List<Devices.StoredKeyPackage> oneTime,
      Devices.StoredKeyPackage lastResort, ActorRef<StatusReply<Devices.KeyPackageStock>> replyTo)
      implements Command {}

  public record GetKeyPackageStock(String deviceId,
      ActorRef<StatusReply<Devices.KeyPackageStock>> replyTo) implements Command {}

  /** Hands out one key package of the device: each one-time package at most once. */
  public record ClaimKeyPackage(String deviceId,
      ActorRef<StatusReply<Devices.ClaimedKeyPackage>> replyTo) implements Command {}

  public record Profile(String userId, String username, List<String> guildIds)
      implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record Created(String username) implements Event {}

  public record GuildJoined(String guildId) implements Event {}

  public record GuildLeft(String guildId) implements Event {}

  public record DeviceAdded(String deviceId, byte[] credential, byte[] signatureKey, long atMillis)
      implements Event {}

  public record DeviceRemoved(String deviceId, long atMillis) implements Event {}

  public record KeyPackagesStored(String deviceId, List<Devices.StoredKeyPackage> oneTime,
      Devices.StoredKeyPackage lastResort) implements Event {}

  public record KeyPackageClaimed(String deviceId, byte[] ref) implements Event {}

  // ---- state ----

  public record State(String userId, String username, List<String> guildIds, Devices devices)
      implements CborSerializable {

    public State {
      devices = devices == null ? Devices.NONE : devices;
    }

    public static State empty(String userId) {
      return new State(userId, null, List.of(), Devices.NONE);
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

    public Decision<Event> addDevice(String deviceId, byte[] credential, byte[] signatureKey,
        long now) {
      if (!exists()) {
        return Decision.reject(Rejection.notFound("no such user"));
      }
      Rejection bad = devices.checkAdd(userId, deviceId, credential, signatureKey);
      if (bad != null) {
        return Decision.reject(bad);
      }
      return devices.device(deviceId) != null ? Decision.accept()
          : Decision.accept(new DeviceAdded(deviceId, credential, signatureKey, now));
    }

    public Decision<Event> removeDevice(String deviceId, long now) {
      if (devices.device(deviceId) == null) {
        return Decision.reject(Rejection.notFound("unknown device " + deviceId));
      }
      return Decision.accept(new DeviceRemoved(deviceId, now));
    }

    public Decision<Event> uploadKeyPackages(String deviceId,
        List<Devices.StoredKeyPackage> oneTime, Devices.StoredKeyPackage lastResort) {
      Rejection bad = devices.checkUpload(deviceId, oneTime, lastResort);
      return bad != null ? Decision.reject(bad)
          : Decision.accept(new KeyPackagesStored(deviceId, List.copyOf(oneTime), lastResort));
    }

    public Outcome<Devices.KeyPackageStock> stock(String deviceId) {
      Devices.Device d = devices.device(deviceId);
      return d == null ? Outcome.rejected(Rejection.notFound("unknown device " + deviceId))
          : Outcome.ok(d.stock());
    }

    public Outcome<Devices.ClaimedKeyPackage> claim(String deviceId) {
      if (devices.device(deviceId) == null) {
        return Outcome.rejected(Rejection.notFound("unknown device " + deviceId));
      }
      Devices.ClaimedKeyPackage next = devices.nextClaim(deviceId);
      return next == null
          ? Outcome.rejected(Rejection.conflict("device " + deviceId + " has no key packages left"))
          : Outcome.ok(next);
    }

    /** The event a claim persists: none for the last-resort package, which stays. */
    public Decision<Event> claimEvent(String deviceId) {
      Devices.Device d = devices.device(deviceId);
      return d == null || d.oneTime().isEmpty() ? Decision.accept()
          : Decision.accept(new KeyPackageClaimed(deviceId, d.oneTime().get(0).ref()));
    }

    public Outcome<Profile> profile() {
      return exists()
          ? Outcome.ok(new Profile(userId, username, guildIds))
          : Outcome.rejected(Rejection.notFound("no such user"));
    }

    public State apply(Event event) {
      if (event instanceof Created c) {
        return new State(userId, c.username(), guildIds, devices);
      }
      if (event instanceof GuildJoined j) {
        List<String> next = new ArrayList<>(guildIds);
        next.add(j.guildId());
        return new State(userId, username, List.copyOf(next), devices);
      }
      if (event instanceof GuildLeft l) {
        return new State(userId, username,
            guildIds.stream().filter(g -> !g.equals(l.guildId())).toList(), devices);
      }
      if (event instanceof DeviceAdded a) {
        return withDevices(
            devices.withDevice(a.deviceId(), a.credential(), a.signatureKey(), a.atMillis()));
      }
      if (event instanceof DeviceRemoved r) {
        return withDevices(devices.withoutDevice(r.deviceId()));
      }
      if (event instanceof KeyPackagesStored k) {
        return withDevices(devices.withPackages(k.deviceId(), k.oneTime(), k.lastResort()));
      }
      if (event instanceof KeyPackageClaimed c) {
        return withDevices(devices.withOneTimeClaimed(c.deviceId(), c.ref()));
      }
      throw new IllegalStateException("unknown event " + event);
    }

    private State withDevices(Devices next) {
      return new State(userId, username, guildIds, next);
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
        .onCommand(AddDevice.class, (s, c) -> Replies.decide(Effect(),
            s.addDevice(c.deviceId(), c.credential(), c.signatureKey(), c.nowMillis()), c.replyTo(),
            after -> after.devices().device(c.deviceId()).info()))
        .onCommand(RemoveDevice.class, (s, c) -> Replies.decide(Effect(),
            s.removeDevice(c.deviceId(), c.nowMillis()), c.replyTo(), User::profileOf))
        .onCommand(GetDevices.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            s.exists() ? Outcome.ok(new Devices.DeviceList(s.devices().infos()))
                : Outcome.rejected(Rejection.notFound("no such user"))))
        .onCommand(UploadKeyPackages.class, (s, c) -> Replies.decide(Effect(),
            s.uploadKeyPackages(c.deviceId(), c.oneTime(), c.lastResort()), c.replyTo(),
            after -> after.devices().device(c.deviceId()).stock()))
        .onCommand(GetKeyPackageStock.class, (s, c) ->
            Replies.answer(Effect(), c.replyTo(), s.stock(c.deviceId())))
        .onCommand(ClaimKeyPackage.class, (s, c) -> {
          Outcome<Devices.ClaimedKeyPackage> claimed = s.claim(c.deviceId());
          if (!(claimed instanceof Outcome.Ok<Devices.ClaimedKeyPackage> ok)) {
            return Replies.answer(Effect(), c.replyTo(), claimed);
          }
          return Replies.decide(Effect(), s.claimEvent(c.deviceId()), c.replyTo(),
              after -> ok.value());
        })
        .build();
  }

  private static Profile profileOf(State s) {
    return new Profile(s.userId(), s.username(), s.guildIds());
  }

  @Override
  public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(State::apply);
  }

  /** Projection tags {@code user-0..3}; chosen once, never changed. */
  public static final int TAG_COUNT = 4;

  public static String tagFor(String userId) {
    return "user-" + Math.floorMod(userId.hashCode(), TAG_COUNT);
  }

  @Override
  public Set<String> tagsFor(Event event) {
    return Set.of(tagFor(userId));
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2);
  }
}
