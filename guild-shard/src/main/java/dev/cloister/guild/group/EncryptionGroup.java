package dev.cloister.guild.group;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.GuildFeed;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Replies;
import dev.cloister.guild.user.Devices;
import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.GroupView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
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
 * One MLS group, with the server as its delivery service and sole external sender. Its journal is
 * the group's handshake log: the roster it was told to hold, the group's creation, the proposals
 * the server signed, the commits it accepted (first valid one per epoch). Replaying it rebuilds
 * the {@link GroupView}, because commit validation is deterministic. Keyed by group id (see
 * {@link Audience}); the rules live in {@link GroupState}, this class only wires persistence,
 * replies, key-package claims and the guild feed.
 */
public final class EncryptionGroup extends EventSourcedBehaviorWithEnforcedReplies<
    EncryptionGroup.Command, EncryptionGroup.Event, GroupState> {

  public static final EntityTypeKey<Command> ENTITY_KEY =
      EntityTypeKey.create(Command.class, "EncryptionGroup");

  /** Projection tags {@code group-0..3}; chosen once, never changed. */
  public static final int TAG_COUNT = 4;

  /** Where the group's Add proposals get their key packages: the devices' User entities. */
  public interface KeyPackageSource {
    CompletionStage<Devices.ClaimedKeyPackage> claim(String userId, String deviceId);
  }

  public record Settings(Duration previousEpochGrace) {}

  public static void init(ActorSystem<?> system, DeliveryService ds, GuildFeed feed,
      Settings settings) {
    ClusterSharding sharding = ClusterSharding.get(system);
    KeyPackageSource packages = (userId, deviceId) -> sharding
        .entityRefFor(dev.cloister.guild.user.User.ENTITY_KEY, userId)
        .askWithStatus(r -> new dev.cloister.guild.user.User.ClaimKeyPackage(deviceId, r),
            Duration.ofSeconds(10));
    sharding.init(Entity.of(ENTITY_KEY,
        ctx -> create(ctx.getEntityId(), ds, packages, feed, settings)));
  }

  public static Behavior<Command> create(String groupId, DeliveryService ds,
      KeyPackageSource packages, GuildFeed feed, Settings settings) {
    return Behaviors.setup(ctx -> new EncryptionGroup(
        PersistenceId.of(ENTITY_KEY.name(), groupId), ds, packages, feed, settings, ctx));
  }

  public static String tagFor(String groupId) {
    return "group-" + Math.floorMod(groupId.hashCode(), TAG_COUNT);
  }

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  /**
   * The devices ({@code userId/deviceId}) that belong in the group as of the guild's
   * {@code audienceVersion}. Idempotent: a roster, not a delta; an older version is ignored.
   */
  public record SetRoster(String guildId, String channelId, List<String> devices,
      long audienceVersion, ActorRef<StatusReply<Status>> replyTo) implements Command {}

  /** A roster device creates the group: its GroupInfo at epoch 0, with itself alone. */
  public record CreateGroup(String device, byte[] groupInfo, long nowMillis,
      ActorRef<StatusReply<Status>> replyTo) implements Command {}

  /**
   * A member's commit of the pending proposals and the Welcome for the devices it adds; optionally
   * the new epoch's GroupInfo (else the committer uploads it once it has applied its commit).
   */
  public record SubmitCommit(String device, byte[] commit, byte[] welcome, byte[] groupInfo,
      long nowMillis, ActorRef<StatusReply<Status>> replyTo) implements Command {}

  /**
   * May a message of {@code epoch} be accepted now? {@code audienceVersion} is the guild's, read
   * when the sender's access was checked.
   */
  public record AdmitPost(long epoch, long audienceVersion, long nowMillis,
      ActorRef<StatusReply<Admission>> replyTo) implements Command {}

  /** A member's GroupInfo of the current epoch, with the ratchet tree (for external joins). */
  public record UploadGroupInfo(String device, byte[] groupInfo,
      ActorRef<StatusReply<Status>> replyTo) implements Command {}

  /** A member cannot process these pending Adds: drop them (see {@link GroupState#revoke}). */
  public record Revoke(String device, List<byte[]> refs, String reason,
      ActorRef<StatusReply<Status>> replyTo) implements Command {}

  /** A device that cannot process the group any more asks to be removed (and then re-added). */
  public record Reset(String device, ActorRef<StatusReply<Status>> replyTo) implements Command {}

  /** The group as {@code device} (or null: anyone) needs to see it to catch up. */
  public record GetStatus(String device, ActorRef<StatusReply<Status>> replyTo)
      implements Command {}

  /** A claimed key package came back (or the claim failed: {@code failure}). */
  record Claimed(String device, byte[] keyPackage, int remaining, String failure)
      implements Command {}

  /** Propose the Adds whose key packages came back meanwhile, as one journal write. */
  enum FlushClaims implements Command { INSTANCE }

  /** What a device needs to know of the group. */
  public record Status(String groupId, String guildId, String channelId, boolean created,
      long epoch, List<GroupViewData.MemberData> members, List<byte[]> pendingProposals,
      byte[] groupInfo, long welcomeSeq, boolean onRoster, long seq) implements CborSerializable {}

  public record Admission(String groupId, long epoch) implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record RosterSet(String guildId, String channelId, List<String> devices,
      long audienceVersion) implements Event {}

  public record GroupCreated(String creator, byte[] groupInfo, long atMillis) implements Event {}

  /** A server-signed external proposal; {@code keyPackage} for an Add. */
  public record ProposalIssued(String kind, String device, int leaf, byte[] ref, byte[] message,
      byte[] keyPackage) implements Event {}

  /** Pending proposals dropped without a commit (their device left the roster). */
  public record ProposalsRevoked(List<byte[]> refs, String reason) implements Event {}

  /** The first valid commit of {@code epoch}; the group is now at {@code epoch + 1}. */
  public record CommitAccepted(String committer, long epoch, byte[] commit, byte[] welcome,
      byte[] groupInfo, List<String> joiners, List<String> removed, long atMillis)
      implements Event {}

  /** The latest GroupInfo of the current epoch, signed by the member who uploaded it. */
  public record GroupInfoUploaded(String device, long epoch, byte[] groupInfo) implements Event {}

  // ---- the persistent shell ----

  private final String groupId;
  private final DeliveryService ds;
  private final KeyPackageSource packages;
  private final GuildFeed feed;
  private final Settings settings;
  private final ActorContext<Command> context;
  private final CommitReplay replay;
  /** Devices whose key package is being claimed right now (not persisted: a restart re-claims). */
  private final Set<String> claiming = new HashSet<>();
  /**
   * Key packages that came back, waiting for {@link FlushClaims}: a roster change of a hundred
   * devices (a join storm) costs a few journal writes instead of a hundred, each of which would
   * keep the group from taking any command (a commit among them) until the database's fsync.
   */
  private final List<Claimed> claimed = new ArrayList<>();

  private EncryptionGroup(PersistenceId id, DeliveryService ds, KeyPackageSource packages,
      GuildFeed feed, Settings settings, ActorContext<Command> context) {
    super(id);
    this.groupId = id.entityId();
    this.ds = ds;
    this.packages = packages;
    this.feed = feed;
    this.settings = settings;
    this.context = context;
    this.replay = new CommitReplay(ds);
  }

  @Override
  public GroupState emptyState() {
    return GroupState.empty(groupId);
  }

  @Override
  public CommandHandlerWithReply<Command, Event, GroupState> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(SetRoster.class, (s, c) -> decide(s.setRoster(c.guildId(), c.channelId(),
            c.devices(), c.audienceVersion(), ds), c.replyTo(), null))
        .onCommand(CreateGroup.class, (s, c) -> decide(
            s.create(c.device(), c.groupInfo(), c.nowMillis(), ds), c.replyTo(), c.device()))
        .onCommand(SubmitCommit.class, (s, c) -> decide(s.commit(c.device(), c.commit(),
            c.welcome(), c.groupInfo(), c.nowMillis(), replay), c.replyTo(), c.device()))
        .onCommand(UploadGroupInfo.class, (s, c) -> decide(
            s.uploadGroupInfo(c.device(), c.groupInfo(), ds), c.replyTo(), c.device()))
        .onCommand(Revoke.class, (s, c) -> decide(s.revoke(c.device(), c.refs(), c.reason()),
            c.replyTo(), c.device()))
        .onCommand(Reset.class, (s, c) -> decide(s.reset(c.device(), ds), c.replyTo(), c.device()))
        .onCommand(AdmitPost.class, (s, c) -> {
          Outcome<Admission> a = s.admitPost(c.epoch(), c.audienceVersion(), c.nowMillis(),
              settings.previousEpochGrace().toMillis());
          return Replies.answer(Effect(), c.replyTo(), a);
        })
        .onCommand(GetStatus.class, (s, c) ->
            Replies.answer(Effect(), c.replyTo(), Outcome.ok(s.status(c.device()))))
        .onCommand(Claimed.class, (s, c) -> {
          claimed.add(c);
          if (claimed.size() == 1) {
            // Behind whatever is already in the mailbox (or stashed during a write): those too.
            context.getSelf().tell(FlushClaims.INSTANCE);
          }
          return Effect().noReply();
        })
        .onCommand(FlushClaims.class, this::flushClaims)
        .build();
  }

  private ReplyEffect<Event, GroupState> decide(Decision<Event> d,
      ActorRef<StatusReply<Status>> replyTo, String device) {
    return Replies.decide(Effect(), d, replyTo, after -> after.status(device), this::published);
  }

  /**
   * Proposes an Add for every key package that came back, each against the group as the ones
   * before it left it, and persists them together.
   */
  private ReplyEffect<Event, GroupState> flushClaims(GroupState s, FlushClaims f) {
    List<Claimed> batch = List.copyOf(claimed);
    claimed.clear();
    List<Event> events = new ArrayList<>();
    GroupState state = s;
    for (Claimed c : batch) {
      claiming.remove(c.device());
      if (c.failure() != null) {
        context.getLog().info("Group {}: no key package for {}: {}", groupId, c.device(),
            c.failure());
        continue;
      }
      if (c.remaining() < Devices.LOW_STOCK) {
        String[] ud = GroupState.split(c.device());
        feed.publish(new GuildFeed.KeyPackagesLow(s.guildId(), ud[0], ud[1], c.remaining()));
      }
      Decision<Event> d = state.proposeAdd(c.device(), c.keyPackage(), ds);
      if (d instanceof Decision.Reject<Event> r) {
        context.getLog().warn("Group {}: Add of {} refused: {}", groupId, c.device(),
            r.rejection().message());
        continue;
      }
      for (Event e : ((Decision.Accept<Event>) d).events()) {
        events.add(e);
        state = state.apply(e, replay);
      }
    }
    if (events.isEmpty()) {
      return Effect().noReply();
    }
    return Effect().persist(events).thenRun(after -> published(events, after)).thenNoReply();
  }

  /** After the journal write: tell the guild's gateways, and claim packages for new Adds. */
  private void published(List<Event> events, GroupState after) {
    long first = after.seq() - events.size() + 1;
    for (int i = 0; i < events.size(); i++) {
      GuildFeed.GroupChanged item = feedItem(after, first + i, events.get(i));
      if (item != null) {
        feed.publish(item);
      }
    }
    claimMissing(after);
  }

  private void claimMissing(GroupState s) {
    for (String device : s.devicesToAdd()) {
      if (claiming.add(device)) {
        String[] ud = GroupState.split(device);
        context.pipeToSelf(packages.claim(ud[0], ud[1]), (kp, failure) -> failure != null
            ? new Claimed(device, null, 0, failure.getMessage())
            : new Claimed(device, kp.message(), kp.remaining(), null));
      }
    }
  }

  @Override
  public EventHandler<GroupState, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent((s, e) -> s.apply(e, replay));
  }

  @Override
  public Set<String> tagsFor(Event event) {
    return Set.of(tagFor(groupId));
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(50, 2);
  }

  @Override
  public org.apache.pekko.persistence.typed.javadsl.SignalHandler<GroupState> signalHandler() {
    // After recovery, claim key packages for Adds that a crash left unissued.
    return newSignalHandlerBuilder()
        .onSignal(org.apache.pekko.persistence.typed.RecoveryCompleted.instance(),
            this::claimMissing)
        .build();
  }

  /** What the guild's gateways hear of an event: never a Welcome (joiners fetch their own). */
  private static GuildFeed.GroupChanged feedItem(GroupState after, long seqNr, Event e) {
    if (after.guildId() == null) {
      return null;
    }
    String kind;
    long epoch = after.view() == null ? -1 : after.view().epoch();
    byte[] message = null;
    List<String> devices = List.of();
    List<String> removed = List.of();
    if (e instanceof GroupCreated) {
      kind = "created";
    } else if (e instanceof ProposalIssued p) {
      kind = "proposal";
      message = p.message();
      devices = List.of(p.device());
    } else if (e instanceof ProposalsRevoked) {
      kind = "revoked";
    } else if (e instanceof CommitAccepted c) {
      kind = "commit";
      epoch = c.epoch();
      message = c.commit();
      devices = c.joiners();
      removed = c.removed();
    } else {
      return null;
    }
    return new GuildFeed.GroupChanged(after.guildId(), after.groupId(), after.channelId(), seqNr,
        kind, epoch, message, devices, removed);
  }
}
