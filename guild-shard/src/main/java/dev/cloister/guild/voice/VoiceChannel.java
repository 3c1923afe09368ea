package dev.cloister.guild.voice;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.GuildFeed;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Replies;
import dev.cloister.guild.group.EncryptionGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;

/**
 * A voice channel: who is in it and their voice state, the SFU endpoint each participant sends to,
 * and the roster of the call's MLS group. The guild decides who may CONNECT, SPEAK or moderate
 * (the caller passes the member's permissions in the channel, as text channels are checked); this
 * entity decides the rest ({@link VoiceRoom}) and wires the side effects: endpoints allocated,
 * updated and freed through {@link MediaServers}, voice states on the {@link GuildFeed}, and the
 * participants' devices sent as the roster of the call's {@link EncryptionGroup} after a short
 * window, so that joins and leaves arriving together cost one commit.
 *
 * <p>Every call (from the first join into an empty channel to the last leave) has its own
 * conference on the SFU and its own MLS group, {@code v<channelId>.<call>}: nothing of an
 * earlier call's keys carries over.
 */
public final class VoiceChannel extends EventSourcedBehaviorWithEnforcedReplies<
    VoiceChannel.Command, VoiceChannel.Event, VoiceRoom> {

  public static final EntityTypeKey<Command> ENTITY_KEY =
      EntityTypeKey.create(Command.class, "VoiceChannel");

  /** Projection tags {@code voice-0..3}; chosen once, never changed. */
  public static final int TAG_COUNT = 4;

  /** The SFU side: allocate, update and free a participant's endpoint in a conference. */
  public interface MediaServers {
    CompletionStage<Endpoint> allocate(String conferenceId, String endpointId);

    /** Applies server mute (nothing of theirs is forwarded) and deafen (nothing sent to them). */
    CompletionStage<Done> update(String conferenceId, String endpointId, boolean serverMuted,
        boolean deafened);

    CompletionStage<Done> free(String conferenceId, String endpointId);

    /**
     * The endpoints the SFU forwards in the conference now, loudest first (empty if none). Fails
     * with {@link ConferenceGone} when the SFU does not hold the conference (it restarted, or the
     * call was placed on an SFU that this node cannot reach), and otherwise when it does not answer.
     */
    CompletionStage<List<String>> speakers(String conferenceId);

    /** The call's SFU failed it: the next allocations in the conference go to a healthy SFU. */
    default void replace(String conferenceId) {}

    /** The call ended (its last participant left): nothing more is asked of its conference. */
    default void callEnded(String conferenceId) {}
  }

  /** The SFU asked does not hold the conference. */
  public static final class ConferenceGone extends RuntimeException {
    public ConferenceGone(String message) {
      super(message, null, false, false);
    }
  }

  /** Where the call's group roster goes (the group's entity, in production). */
  public interface Rosters {
    CompletionStage<?> setRoster(String groupId, String guildId, String channelId,
        List<String> devices, long version);
  }

  /**
   * {@code rosterWindow}: how long joins and leaves gather before the group hears of them;
   * {@code speakingInterval}: how often the SFU is asked who speaks, so how often at most a
   * {@code SPEAKING} change goes out per channel; {@code failoverAfter}: how long the SFU may fail
   * those asks before the call moves to another (at once when it answers that the call is gone).
   */
  public record Settings(Duration rosterWindow, Duration speakingInterval,
      Duration failoverAfter, Duration presenceTimeout) {

    public Settings(Duration rosterWindow, Duration speakingInterval) {
      this(rosterWindow, speakingInterval, Duration.ofSeconds(1), Duration.ofSeconds(20));
    }
  }

  /** How often a channel that came back repeats its roll call (the feed may lose one). */
  private static final Duration ROLL_CALL_EVERY = Duration.ofSeconds(3);
  /**
   * How often a channel with a call tells itself through sharding that it is busy: its own timers
   * do not count as activity, and a passivated channel would stop watching its SFU.
   */
  private static final Duration STAY_AWAKE_EVERY = Duration.ofMinutes(1);

  public static void init(ActorSystem<?> system, MediaServers media, GuildFeed feed,
      Settings settings, Duration askTimeout) {
    ClusterSharding sharding = ClusterSharding.get(system);
    Rosters rosters = (groupId, guildId, channelId, devices, version) -> sharding
        .entityRefFor(EncryptionGroup.ENTITY_KEY, groupId)
        .<EncryptionGroup.Status>askWithStatus(
            r -> new EncryptionGroup.SetRoster(guildId, channelId, devices, version, r),
            askTimeout);
    sharding.init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), media, rosters, feed,
        settings, () -> sharding.entityRefFor(ENTITY_KEY, ctx.getEntityId())
            .tell(StayAwake.INSTANCE))));
  }

  public static Behavior<Command> create(String channelId, MediaServers media, Rosters rosters,
      GuildFeed feed, Settings settings) {
    return create(channelId, media, rosters, feed, settings, () -> { });
  }

  /** {@code stayAwake}: sends {@link StayAwake} to this entity through sharding. */
  static Behavior<Command> create(String channelId, MediaServers media, Rosters rosters,
      GuildFeed feed, Settings settings, Runnable stayAwake) {
    return Behaviors.withTimers(timers -> Behaviors.setup(ctx -> new VoiceChannel(
        PersistenceId.of(ENTITY_KEY.name(), channelId), media, rosters, feed, settings, ctx,
        timers, stayAwake)));
  }

  public static String tagFor(String channelId) {
    return "voice-" + Math.floorMod(channelId.hashCode(), TAG_COUNT);
  }

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  /**
   * Joins (or rejoins from another device or session, which replaces the earlier one).
   * {@code permissions}: the member's permissions in this channel, as the guild computed them.
   */
  public record Join(String guildId, String userId, String deviceId, String sessionId,
      boolean selfMute, boolean selfDeaf, long permissions, ActorRef<StatusReply<Joined>> replyTo)
      implements Command {}

  /**
   * A moderator ({@code byUserId}) moves a member here from {@code fromChannelId} of the same
   * guild: {@code join} is for the session, device and self state the member has there, with the
   * member's permissions here (CONNECT is required of them, as of anyone who joins; the caller
   * checked the moderator's MOVE_MEMBERS in both channels and adds that bit, which lets the member
   * into a full channel as it would let the moderator). Server mute and deafen go along. The
   * member's session learns where to send through a {@link GuildFeed.VoiceServerMoved}; the caller
   * takes the member out of the other channel after this answered.
   */
  public record MoveIn(Join join, String fromChannelId, String byUserId, boolean serverMute,
      boolean serverDeaf) implements Command {}

  /** Leaves, if {@code sessionId} is still the one in the channel (a stale session's is ignored). */
  public record Leave(String userId, String sessionId, ActorRef<StatusReply<Participants>> replyTo)
      implements Command {}

  public record UpdateSelf(String userId, String sessionId, boolean selfMute, boolean selfDeaf,
      ActorRef<StatusReply<Participants>> replyTo) implements Command {}

  /**
   * A moderator's server mute or deafen (null: unchanged); {@code permissions}: the moderator's in
   * this channel.
   */
  public record Moderate(String moderatorId, long permissions, String userId, Boolean mute,
      Boolean deaf, ActorRef<StatusReply<Participants>> replyTo) implements Command {}

  /**
   * The server takes a participant out: kicked, banned, CONNECT lost, session ended, moved, or
   * disconnected by a moderator (whose MOVE_MEMBERS the caller checked).
   */
  public record Disconnect(String userId, String reason,
      ActorRef<StatusReply<Participants>> replyTo) implements Command {}

  /** 0 for no limit; members with MOVE_MEMBERS may join a full channel. */
  public record SetUserLimit(String guildId, int limit,
      ActorRef<StatusReply<Participants>> replyTo) implements Command {}

  public record GetParticipants(ActorRef<StatusReply<Participants>> replyTo) implements Command {}

  /**
   * A gateway session answers a {@link GuildFeed.VoiceRollCall}: it is alive and holds
   * {@code userId}'s place in this channel.
   */
  public record Present(String userId, String sessionId) implements Command {}

  /** Through sharding: a call is going on here (so the entity is not passivated). */
  public enum StayAwake implements Command { INSTANCE }

  /** Time to ask the sessions that have not answered yet again. */
  enum RollCall implements Command { INSTANCE }

  /** The roll call is over: those who did not answer are taken out. */
  enum RollCallOver implements Command { INSTANCE }

  /** Time to send {@link StayAwake} through sharding while a call goes on. */
  enum KeepAwake implements Command { INSTANCE }

  /**
   * An endpoint came back from the SFU for a pending join (or the allocation failed);
   * {@code move}: the join is a moderator's move, else null.
   */
  record Allocated(Join join, MoveIn move, String conferenceId, Endpoint endpoint,
      String failure) implements Command {}

  /** The roster window closed: send the call group its roster. */
  enum FlushRoster implements Command { INSTANCE }

  /** Time to ask the SFU who speaks. */
  enum PollSpeakers implements Command { INSTANCE }

  /** Persist the joins whose endpoints came back meanwhile, as one journal write. */
  enum FlushJoins implements Command { INSTANCE }

  /**
   * The SFU's answer: the speaking endpoints of {@code conferenceId}; or null with why not
   * ({@code gone}: the SFU does not hold the conference).
   */
  record SpeakersSeen(String conferenceId, List<String> endpointIds, boolean gone,
      String failure) implements Command {}

  /**
   * New endpoints for the call's participants on another SFU ({@code failure}: not all could be
   * had; those that were are in {@code moved}, to be freed).
   */
  record Relocated(String conferenceId, List<Moved> moved, String failure) implements Command {}

  /** A participant's endpoint on the SFU the call moved to, and the one it replaces. */
  public record Moved(String userId, String sessionId, String oldEndpointId, Endpoint endpoint)
      implements CborSerializable {}

  /** What an SFU handed out for one participant. */
  public record Endpoint(String endpointId, long ssrc, String iceUfrag, String icePwd,
      String udpHost, int udpPort, int audioLevelExtId) implements CborSerializable {}

  /** What the joiner needs: where to send media, with which SSRC and ICE credentials. */
  public record Joined(String guildId, String channelId, String conferenceId, String groupId,
      Endpoint endpoint, Participants participants) implements CborSerializable {}

  /** The channel's voice states; no ICE credentials. */
  public record Participants(String guildId, String channelId, int userLimit, String groupId,
      List<VoiceRoom.VoiceState> states, long version) implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  /** {@code call}: the call it joins (a new one when nobody else was in the channel). */
  public record ParticipantJoined(String guildId, String userId, String deviceId,
      String sessionId, boolean selfMute, boolean selfDeaf, boolean serverMute, long call,
      String conferenceId, Endpoint endpoint, long atMillis) implements Event {}

  /**
   * {@code reason}: left, replaced, moved, kicked, banned, lost_connect, session_ended,
   * disconnected; with the endpoint the participant held, to free it.
   */
  public record ParticipantLeft(String userId, String reason, String conferenceId,
      String endpointId) implements Event {}

  public record SelfStateChanged(String userId, boolean selfMute, boolean selfDeaf)
      implements Event {}

  public record ServerStateChanged(String userId, boolean serverMute, boolean serverDeaf,
      String byUserId) implements Event {}

  public record UserLimitSet(String guildId, int limit) implements Event {}

  /**
   * The call's SFU failed, and its participants were given endpoints on another: same call, same
   * MLS group and keys; each participant's client is told where to send now.
   */
  public record CallMoved(String conferenceId, List<Moved> moved, String reason)
      implements Event {}

  // ---- the persistent shell ----

  private final String channelId;
  private final MediaServers media;
  private final Rosters rosters;
  private final GuildFeed feed;
  private final Settings settings;
  private final ActorContext<Command> context;
  private final TimerScheduler<Command> timers;
  /** Users whose endpoint is being allocated (not persisted: a restart drops the attempt). */
  private final Map<String, String> allocating = new HashMap<>();
  /**
   * Joins whose endpoints the SFU handed out, waiting for {@link FlushJoins}: a storm of joins
   * costs one journal write per batch instead of one per member (each write waits for the
   * database's fsync, and the entity takes no command meanwhile).
   */
  private final List<Allocated> joining = new ArrayList<>();
  /** The speakers last published (user ids, loudest first). */
  private List<String> speaking = List.of();
  private boolean polling;
  /** When the SFU began failing the speaker polls ({@code System.nanoTime}; 0: it answers). */
  private long failingSince;
  /** A move to another SFU is under way. */
  private boolean relocating;
  /** After a move that could not be made, no new attempt before this ({@code nanoTime}). */
  private long relocateNotBefore;
  private final Runnable stayAwake;
  /**
   * After recovery: the sessions of participants that have not said they are still there (the
   * node that held them may have died with them). Empty when no roll call is going on.
   */
  private final Set<String> unconfirmed = new java.util.HashSet<>();

  private VoiceChannel(PersistenceId id, MediaServers media, Rosters rosters, GuildFeed feed,
      Settings settings, ActorContext<Command> context, TimerScheduler<Command> timers,
      Runnable stayAwake) {
    super(id);
    this.stayAwake = stayAwake;
    this.channelId = id.entityId();
    this.media = media;
    this.rosters = rosters;
    this.feed = feed;
    this.settings = settings;
    this.context = context;
    this.timers = timers;
  }

  @Override
  public VoiceRoom emptyState() {
    return VoiceRoom.empty(channelId);
  }

  @Override
  public CommandHandlerWithReply<Command, Event, VoiceRoom> commandHandler() {
    return newCommandHandlerWithReplyBuilder()
        .forAnyState()
        .onCommand(Join.class, (s, c) -> {
          unconfirmed.remove(c.sessionId());
          return onJoin(s, c, null);
        })
        .onCommand(MoveIn.class, (s, c) -> onJoin(s, c.join(), c))
        .onCommand(Allocated.class, this::onAllocated)
        .onCommand(Leave.class, (s, c) -> decide(s.leave(c.userId(), c.sessionId()), c.replyTo()))
        .onCommand(UpdateSelf.class, (s, c) -> {
          unconfirmed.remove(c.sessionId());
          return decide(s.updateSelf(c.userId(), c.sessionId(), c.selfMute(), c.selfDeaf()),
              c.replyTo());
        })
        .onCommand(Present.class, (s, c) -> {
          unconfirmed.remove(c.sessionId());
          return Effect().noReply();
        })
        .onCommand(RollCall.class, (s, c) -> {
          rollCall(s);
          return Effect().noReply();
        })
        .onCommand(RollCallOver.class, this::rollCallOver)
        .onCommand(StayAwake.class, (s, c) -> Effect().noReply())
        .onCommand(KeepAwake.class, (s, c) -> {
          stayAwake.run();
          return Effect().noReply();
        })
        .onCommand(Moderate.class, (s, c) -> decide(s.moderate(c.moderatorId(),
            c.permissions(), c.userId(), c.mute(), c.deaf()), c.replyTo()))
        .onCommand(Disconnect.class, (s, c) -> decide(s.disconnect(c.userId(), c.reason()),
            c.replyTo()))
        .onCommand(SetUserLimit.class, (s, c) -> decide(s.setUserLimit(c.guildId(), c.limit()),
            c.replyTo()))
        .onCommand(GetParticipants.class, (s, c) ->
            Replies.answer(Effect(), c.replyTo(), Outcome.ok(s.participants())))
        .onCommand(FlushRoster.class, (s, c) -> {
          sendRoster(s);
          return Effect().noReply();
        })
        .onCommand(FlushJoins.class, (s, c) -> flushJoins(s))
        .onCommand(PollSpeakers.class, (s, c) -> {
          pollSpeakers(s);
          return Effect().noReply();
        })
        .onCommand(SpeakersSeen.class, (s, c) -> {
          polling = false;
          if (c.endpointIds() != null) {
            failingSince = 0;
            publishSpeakers(s, c);
          } else {
            sfuFailed(s, c);
          }
          return Effect().noReply();
        })
        .onCommand(Relocated.class, this::onRelocated)
        .build();
  }

  private ReplyEffect<Event, VoiceRoom> onJoin(VoiceRoom s, Join c, MoveIn move) {
    Rejection refused = s.checkJoin(c.guildId(), c.userId(), c.permissions());
    if (refused != null) {
      return Effect().reply(c.replyTo(), StatusReply.error(refused.reason()));
    }
    VoiceRoom.Participant present = s.participant(c.userId());
    if (present != null && present.deviceId().equals(c.deviceId())
        && present.sessionId().equals(c.sessionId())) {
      // The same session asks again (a retry): same endpoint, its self state as asked now.
      Decision<Event> d = s.updateSelf(c.userId(), c.sessionId(), c.selfMute(), c.selfDeaf());
      return Replies.decide(Effect(), d, c.replyTo(), after -> joined(after, c.userId()),
          this::published);
    }
    if (allocating.containsKey(c.userId())) {
      return Effect().reply(c.replyTo(), StatusReply.error(Rejection.conflict(
          "a join of this member is already under way; try again shortly").reason()));
    }
    String conference = s.nextConferenceId(c.userId());
    String endpointId = newEndpointId(c.userId());
    allocating.put(c.userId(), conference);
    context.pipeToSelf(media.allocate(conference, endpointId), (endpoint, failure) ->
        new Allocated(c, move, conference, endpoint,
            failure == null ? null : String.valueOf(failure.getMessage())));
    return Effect().noReply();
  }

  private ReplyEffect<Event, VoiceRoom> onAllocated(VoiceRoom s, Allocated a) {
    Join c = a.join();
    allocating.remove(c.userId());
    if (a.failure() != null) {
      context.getLog().warn("Voice channel {}: no endpoint for {}: {}", channelId, c.userId(),
          a.failure());
      return Effect().reply(c.replyTo(), StatusReply.error(Rejection.conflict(
          "the voice server is not answering; try again shortly").reason()));
    }
    joining.add(a);
    if (joining.size() == 1) {
      // Behind whatever is already in the mailbox (or stashed during a write): those joins too.
      context.getSelf().tell(FlushJoins.INSTANCE);
    }
    return Effect().noReply();
  }

  /**
   * Decides every waiting join in order, each against the channel as the ones before it left it
   * (the channel may also have changed while the SFU answered), and persists them together.
   */
  private ReplyEffect<Event, VoiceRoom> flushJoins(VoiceRoom s) {
    List<Allocated> batch = List.copyOf(joining);
    joining.clear();
    List<Event> events = new ArrayList<>();
    List<Allocated> accepted = new ArrayList<>();
    VoiceRoom state = s;
    long now = System.currentTimeMillis();
    for (Allocated a : batch) {
      Join c = a.join();
      Decision<Event> d = state.join(c.guildId(), c.userId(), c.deviceId(), c.sessionId(),
          c.selfMute(), c.selfDeaf(), c.permissions(), a.conferenceId(), a.endpoint(), now);
      if (d instanceof Decision.Reject<Event> r) {
        media.free(a.conferenceId(), a.endpoint().endpointId());
        c.replyTo().tell(StatusReply.error(r.rejection().reason()));
        continue;
      }
      for (Event e : ((Decision.Accept<Event>) d).events()) {
        events.add(e);
        state = state.apply(e);
      }
      MoveIn move = a.move();
      if (move != null && (move.serverMute() || move.serverDeaf())) {
        // What moderators decided in the other channel goes along.
        Event kept = new ServerStateChanged(c.userId(),
            move.serverMute() || state.participant(c.userId()).serverMute(), move.serverDeaf(),
            move.byUserId());
        events.add(kept);
        state = state.apply(kept);
      }
      accepted.add(a);
    }
    if (events.isEmpty()) {
      return Effect().noReply();
    }
    return Effect().persist(events).thenRun(after -> {
      published(events, after);
      for (Allocated a : accepted) {
        Join c = a.join();
        VoiceRoom.Participant p = after.participant(c.userId());
        if (p != null && p.sessionId().equals(c.sessionId())) {
          MoveIn move = a.move();
          if (move != null && after.guildId() != null) {
            feed.publish(new GuildFeed.VoiceServerMoved(after.guildId(), channelId, p.userId(),
                p.sessionId(), p.conferenceId(), after.groupId(), p.endpoint(),
                move.fromChannelId(), move.byUserId()));
          }
          c.replyTo().tell(StatusReply.success(joined(after, c.userId())));
        } else {
          c.replyTo().tell(StatusReply.error(Rejection.conflict(
              "joined again from another session meanwhile").reason()));
        }
      }
    }).thenNoReply();
  }

  private static String newEndpointId(String userId) {
    return userId + "." + Long.toString(System.nanoTime(), 36);
  }

  private Joined joined(VoiceRoom s, String userId) {
    VoiceRoom.Participant p = s.participant(userId);
    return new Joined(s.guildId(), channelId, p.conferenceId(), s.groupId(), p.endpoint(),
        s.participants());
  }

  private ReplyEffect<Event, VoiceRoom> decide(Decision<Event> d,
      ActorRef<StatusReply<Participants>> replyTo) {
    return Replies.decide(Effect(), d, replyTo, VoiceRoom::participants, this::published);
  }

  /** After the journal write: the SFU, the guild's gateways, and (soon) the call's group. */
  private void published(List<Event> events, VoiceRoom after) {
    for (Event e : events) {
      if (e instanceof ParticipantLeft l) {
        media.free(l.conferenceId(), l.endpointId());
        if (after.participantsByUser().isEmpty()) {
          media.callEnded(l.conferenceId());
        }
      } else if (e instanceof CallMoved m) {
        // The old endpoints are on the SFU that failed: nothing there to free.
        for (Moved moved : m.moved()) {
          VoiceRoom.Participant p = after.participant(moved.userId());
          if (p == null) {
            continue;
          }
          if (p.serverMute() || p.serverDeaf() || p.selfDeaf()) {
            media.update(m.conferenceId(), moved.endpoint().endpointId(), p.serverMute(),
                p.serverDeaf() || p.selfDeaf());
          }
          if (after.guildId() != null) {
            feed.publish(new GuildFeed.VoiceServerMoved(after.guildId(), channelId, p.userId(),
                p.sessionId(), m.conferenceId(), after.groupId(), moved.endpoint()));
          }
        }
      } else if (e instanceof ParticipantJoined j && (j.serverMute() || j.selfDeaf())) {
        media.update(j.conferenceId(), j.endpoint().endpointId(), j.serverMute(), j.selfDeaf());
      } else if (e instanceof ServerStateChanged || e instanceof SelfStateChanged) {
        String userId = e instanceof ServerStateChanged sc ? sc.userId()
            : ((SelfStateChanged) e).userId();
        VoiceRoom.Participant p = after.participant(userId);
        if (p != null) {
          media.update(p.conferenceId(), p.endpoint().endpointId(), p.serverMute(),
              p.serverDeaf() || p.selfDeaf());
        }
      }
      GuildFeed.VoiceStateChanged item = feedItem(after, e);
      if (item != null) {
        feed.publish(item);
      }
    }
    if (events.stream().anyMatch(e -> e instanceof ParticipantJoined
        || e instanceof ParticipantLeft)) {
      if (!timers.isTimerActive(FlushRoster.INSTANCE)) {
        timers.startSingleTimer(FlushRoster.INSTANCE, settings.rosterWindow());
      }
      watchSpeakers(after);
    }
  }

  /** Polls the SFU for speakers while anyone is in the channel; stops when it empties. */
  private void watchSpeakers(VoiceRoom s) {
    boolean anyone = !s.participantsByUser().isEmpty();
    if (anyone && !timers.isTimerActive(PollSpeakers.INSTANCE)) {
      timers.startTimerWithFixedDelay(PollSpeakers.INSTANCE, settings.speakingInterval());
      timers.startTimerWithFixedDelay(KeepAwake.INSTANCE, STAY_AWAKE_EVERY);
    } else if (!anyone) {
      timers.cancel(PollSpeakers.INSTANCE);
      timers.cancel(KeepAwake.INSTANCE);
      if (!speaking.isEmpty() && s.guildId() != null) {
        speaking = List.of();
        feed.publish(new GuildFeed.SpeakingChanged(s.guildId(), channelId, List.of(), List.of()));
      }
    }
  }

  private void pollSpeakers(VoiceRoom s) {
    VoiceRoom.Participant any = s.participantsByUser().values().stream().findFirst().orElse(null);
    if (any == null) {
      watchSpeakers(s);
      return;
    }
    if (polling) {
      return; // the last answer is still out: never pile asks on a slow SFU
    }
    polling = true;
    String conference = any.conferenceId();
    context.pipeToSelf(media.speakers(conference), (ids, failure) -> {
      Throwable cause = failure instanceof CompletionException
          ? failure.getCause() : failure;
      return failure == null ? new SpeakersSeen(conference, ids, false, null)
          : new SpeakersSeen(conference, null, cause instanceof ConferenceGone,
              cause instanceof ConferenceGone ? cause.getMessage() : cause.toString());
    });
  }

  // ---- SFU failover ----

  /**
   * The call's SFU did not answer a speaker poll, or answered that it does not hold the call.
   * The call moves to another SFU when the SFU says so, or once it has failed for
   * {@code failoverAfter}; a participant's media path is dead meanwhile either way.
   */
  private void sfuFailed(VoiceRoom s, SpeakersSeen seen) {
    VoiceRoom.Participant any = s.participantsByUser().values().stream().findFirst().orElse(null);
    if (any == null || !any.conferenceId().equals(seen.conferenceId())) {
      return; // the call ended, or another began, while the SFU was asked
    }
    long now = System.nanoTime();
    if (failingSince == 0) {
      failingSince = now;
      context.getLog().warn("Voice channel {}: its SFU failed call {}: {}", channelId,
          seen.conferenceId(), seen.failure());
    }
    if (seen.gone() || now - failingSince >= settings.failoverAfter().toNanos()) {
      relocate(s, seen.gone() ? "sfu_lost_call" : "sfu_unreachable");
    }
  }

  /** Asks for a new endpoint for every participant, on the SFU the conference is placed on now. */
  private void relocate(VoiceRoom s, String reason) {
    if (relocating || (relocateNotBefore != 0 && System.nanoTime() - relocateNotBefore < 0)) {
      return;
    }
    List<VoiceRoom.Participant> present = List.copyOf(s.participantsByUser().values());
    String conference = present.get(0).conferenceId();
    relocating = true;
    media.replace(conference);
    context.getLog().warn("Voice channel {}: moving call {} ({} participants) to another SFU ({})",
        channelId, conference, present.size(), reason);
    List<CompletableFuture<Moved>> asks = new ArrayList<>();
    for (VoiceRoom.Participant p : present) {
      asks.add(media.allocate(conference, newEndpointId(p.userId())).toCompletableFuture()
          .handle((endpoint, failure) -> failure != null ? null
              : new Moved(p.userId(), p.sessionId(), p.endpoint().endpointId(), endpoint)));
    }
    context.pipeToSelf(CompletableFuture
        .allOf(asks.toArray(CompletableFuture[]::new))
        .thenApply(x -> asks.stream().map(CompletableFuture::join).toList()),
        (moved, failure) -> {
          List<Moved> got = moved.stream().filter(Objects::nonNull).toList();
          return new Relocated(conference, got, got.size() == moved.size() ? null
              : "no SFU gave an endpoint for " + (moved.size() - got.size()) + " of "
                  + moved.size() + " participants");
        });
  }

  private ReplyEffect<Event, VoiceRoom> onRelocated(VoiceRoom s, Relocated r) {
    relocating = false;
    List<Moved> keep = new ArrayList<>();
    for (Moved m : r.moved()) {
      VoiceRoom.Participant p = s.participant(m.userId());
      boolean stillHere = r.failure() == null && p != null
          && p.sessionId().equals(m.sessionId()) && p.conferenceId().equals(r.conferenceId())
          && p.endpoint().endpointId().equals(m.oldEndpointId());
      if (stillHere) {
        keep.add(m);
      } else {
        media.free(r.conferenceId(), m.endpoint().endpointId());
      }
    }
    if (r.failure() != null) {
      context.getLog().warn("Voice channel {}: call {} could not move: {}; trying again shortly",
          channelId, r.conferenceId(), r.failure());
      relocateNotBefore = System.nanoTime() + Math.max(settings.failoverAfter().toNanos(),
          2_000_000_000L);
      return Effect().noReply();
    }
    if (keep.isEmpty()) {
      return Effect().noReply();
    }
    failingSince = 0;
    relocateNotBefore = 0;
    CallMoved moved = new CallMoved(r.conferenceId(), keep, "sfu_failover");
    return Effect().persist(moved).thenRun(after -> published(List.of(moved), after))
        .thenNoReply();
  }

  // ---- roll call after recovery ----

  /**
   * The channel came back with participants: the sessions that held their places may have died
   * with a node (a restart of a single node ends them all). Each is asked to say it is still
   * there; those that do not within {@code presenceTimeout} leave with reason
   * {@code session_ended}, as they would have after their session's grace.
   */
  private void startRollCall(VoiceRoom s) {
    if (s.participantsByUser().isEmpty() || s.guildId() == null) {
      return;
    }
    s.participantsByUser().values().forEach(p -> unconfirmed.add(p.sessionId()));
    context.getLog().debug("Voice channel {} came back with {} participants: asking their sessions "
        + "whether they are still there", channelId, unconfirmed.size());
    rollCall(s);
    timers.startTimerWithFixedDelay(RollCall.INSTANCE, ROLL_CALL_EVERY);
    timers.startSingleTimer(RollCallOver.INSTANCE, settings.presenceTimeout());
  }

  private void rollCall(VoiceRoom s) {
    unconfirmed.retainAll(s.participantsByUser().values().stream()
        .map(VoiceRoom.Participant::sessionId).toList());
    if (unconfirmed.isEmpty()) {
      timers.cancel(RollCall.INSTANCE);
      timers.cancel(RollCallOver.INSTANCE);
      return;
    }
    feed.publish(new GuildFeed.VoiceRollCall(s.guildId(), channelId, List.copyOf(unconfirmed)));
    stayAwake.run(); // not passivated before the roll call is over (its timers would go)
  }

  private ReplyEffect<Event, VoiceRoom> rollCallOver(VoiceRoom s, RollCallOver c) {
    timers.cancel(RollCall.INSTANCE);
    List<Event> gone = new ArrayList<>();
    for (VoiceRoom.Participant p : s.participantsByUser().values()) {
      if (unconfirmed.contains(p.sessionId())) {
        gone.add(new ParticipantLeft(p.userId(), "session_ended", p.conferenceId(),
            p.endpoint().endpointId()));
      }
    }
    unconfirmed.clear();
    if (gone.isEmpty()) {
      return Effect().noReply();
    }
    context.getLog().info("Voice channel {}: {} participants whose sessions did not answer when "
        + "the channel came back are taken out", channelId, gone.size());
    return Effect().persist(gone).thenRun(after -> published(gone, after)).thenNoReply();
  }

  private void publishSpeakers(VoiceRoom s, SpeakersSeen seen) {
    if (seen.endpointIds() == null || s.guildId() == null) {
      return;
    }
    Map<String, VoiceRoom.Participant> byEndpoint = new HashMap<>();
    s.participantsByUser().values().forEach(p -> {
      if (p.conferenceId().equals(seen.conferenceId())) {
        byEndpoint.put(p.endpoint().endpointId(), p);
      }
    });
    List<String> users = new ArrayList<>();
    List<Long> ssrcs = new ArrayList<>();
    for (String endpointId : seen.endpointIds()) {
      VoiceRoom.Participant p = byEndpoint.get(endpointId);
      if (p != null) {
        users.add(p.userId());
        ssrcs.add(p.endpoint().ssrc());
      }
    }
    if (!users.equals(speaking)) {
      speaking = List.copyOf(users);
      feed.publish(new GuildFeed.SpeakingChanged(s.guildId(), channelId, speaking, ssrcs));
    }
  }

  private void sendRoster(VoiceRoom s) {
    if (s.guildId() == null || s.groupId() == null) {
      return;
    }
    org.slf4j.Logger log = context.getLog(); // not from the future's thread
    rosters.setRoster(s.groupId(), s.guildId(), channelId, s.devices(), s.version())
        .whenComplete((x, failure) -> {
          if (failure != null) {
            // The next change sends the whole roster again; a restart sends it on recovery.
            log.warn("Voice channel {}: roster not taken: {}", channelId, failure.getMessage());
          }
        });
  }

  private GuildFeed.VoiceStateChanged feedItem(VoiceRoom after, Event e) {
    if (after.guildId() == null) {
      return null;
    }
    String userId;
    if (e instanceof ParticipantJoined j) {
      userId = j.userId();
    } else if (e instanceof ParticipantLeft l) {
      return new GuildFeed.VoiceStateChanged(after.guildId(), channelId, l.userId(), null,
          null, false, false, false, false, l.reason(), after.version());
    } else if (e instanceof SelfStateChanged sc) {
      userId = sc.userId();
    } else if (e instanceof ServerStateChanged sc) {
      userId = sc.userId();
    } else {
      return null;
    }
    VoiceRoom.Participant p = after.participant(userId);
    if (p == null) {
      return null; // left again in the same batch of events
    }
    return new GuildFeed.VoiceStateChanged(after.guildId(), channelId, userId, p.sessionId(),
        p.deviceId(), p.selfMute(), p.selfDeaf(), p.serverMute(), p.serverDeaf(), null,
        after.version());
  }

  @Override
  public EventHandler<VoiceRoom, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent(VoiceRoom::apply);
  }

  @Override
  public Set<String> tagsFor(Event event) {
    return Set.of(tagFor(channelId));
  }

  @Override
  public RetentionCriteria retentionCriteria() {
    return RetentionCriteria.snapshotEvery(100, 2);
  }

  @Override
  public SignalHandler<VoiceRoom> signalHandler() {
    // After a restart the call group hears the roster again: rosters converge, as text groups'.
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), s -> {
          sendRoster(s);
          watchSpeakers(s);
          startRollCall(s);
        })
        .build();
  }
}
