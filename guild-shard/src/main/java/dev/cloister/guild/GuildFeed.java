package dev.cloister.guild;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import dev.cloister.guild.channel.TextChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.pubsub.Topic;

/**
 * The live feed of a guild: what its entities publish after persisting, one Pekko pub-sub topic
 * per guild, read by the gateway nodes that hold sessions in that guild.
 *
 * <p>Published by the entities themselves, as a side effect after the journal write, rather than
 * by a projection over {@code eventsByTag}: a projection would add its polling interval (100 ms)
 * and a database round trip to every delivery, and the gateway does not need the feed to be
 * complete (pub-sub is at-most-once either way): history and resume do not depend on it, and a
 * gap in a guild's sequence numbers makes a gateway reload that guild's state.
 *
 * <p>One instance per node holds one topic actor per guild, shared by every publisher and
 * subscriber on the node, so that the events of one guild leave a node in the order they were
 * published.
 */
public final class GuildFeed {

  /** Topic of the joins of every guild, for the nodes that hold the joiner's sessions. */
  public static final String MEMBERSHIPS_TOPIC = "cloister-guild-memberships";

  private static final GuildFeed NONE = new GuildFeed(null);

  /** A guild's topic actor here stops after this long unused and without a local subscriber. */
  static final Duration IDLE = Duration.ofMinutes(10);

  private final ActorSystem<?> system;
  private final Map<String, ActorRef<Topic.Command<Item>>> topics = new ConcurrentHashMap<>();
  /** When each guild's topic here was last asked for ({@code System.nanoTime}). */
  private final Map<String, Long> lastUsed = new ConcurrentHashMap<>();
  private final AtomicLong incarnations = new AtomicLong();
  private volatile ActorRef<Topic.Command<MemberAdded>> memberships;

  private GuildFeed(ActorSystem<?> system) {
    this.system = system;
  }

  /** A feed that publishes nothing: for entity tests and tools. */
  public static GuildFeed none() {
    return NONE;
  }

  /**
   * The node's feed. Every minute it stops the topic actors of guilds that nobody here published
   * to or subscribed to for {@link #IDLE} and that have no subscriber here: without that, a node
   * would keep one actor for every guild whose entities ever lived on it.
   */
  public static GuildFeed of(ActorSystem<?> system) {
    GuildFeed feed = new GuildFeed(system);
    system.scheduler().scheduleWithFixedDelay(Duration.ofMinutes(1), Duration.ofMinutes(1),
        () -> feed.sweep(IDLE), system.executionContext());
    return feed;
  }

  public static String topicName(String guildId) {
    return "cloister-guild-" + guildId;
  }

  // ---- what travels on a guild's topic ----

  public sealed interface Item extends CborSerializable {
    String guildId();
  }

  /** {@code seqNr} is the guild entity's sequence number of this event. */
  public record GuildChanged(
      String guildId, long seqNr,
      @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
      @JsonSubTypes({
        @JsonSubTypes.Type(value = Guild.GuildCreated.class, name = "GuildCreated"),
        @JsonSubTypes.Type(value = Guild.GuildRenamed.class, name = "GuildRenamed"),
        @JsonSubTypes.Type(value = Guild.OwnershipTransferred.class, name = "OwnershipTransferred"),
        @JsonSubTypes.Type(value = Guild.ChannelAdded.class, name = "ChannelAdded"),
        @JsonSubTypes.Type(value = Guild.ChannelUpdated.class, name = "ChannelUpdated"),
        @JsonSubTypes.Type(value = Guild.ChannelDeleted.class, name = "ChannelDeleted"),
        @JsonSubTypes.Type(value = Guild.OverwriteSet.class, name = "OverwriteSet"),
        @JsonSubTypes.Type(value = Guild.OverwriteRemoved.class, name = "OverwriteRemoved"),
        @JsonSubTypes.Type(value = Guild.RoleCreated.class, name = "RoleCreated"),
        @JsonSubTypes.Type(value = Guild.RoleUpdated.class, name = "RoleUpdated"),
        @JsonSubTypes.Type(value = Guild.RoleMoved.class, name = "RoleMoved"),
        @JsonSubTypes.Type(value = Guild.RoleDeleted.class, name = "RoleDeleted"),
        @JsonSubTypes.Type(value = Guild.MemberRoleAdded.class, name = "MemberRoleAdded"),
        @JsonSubTypes.Type(value = Guild.MemberRoleRemoved.class, name = "MemberRoleRemoved"),
        @JsonSubTypes.Type(value = Guild.InviteCreated.class, name = "InviteCreated"),
        @JsonSubTypes.Type(value = Guild.InviteRevoked.class, name = "InviteRevoked"),
        @JsonSubTypes.Type(value = Guild.MemberJoined.class, name = "MemberJoined"),
        @JsonSubTypes.Type(value = Guild.MemberLeft.class, name = "MemberLeft"),
        @JsonSubTypes.Type(value = Guild.MemberKicked.class, name = "MemberKicked"),
        @JsonSubTypes.Type(value = Guild.MemberBanned.class, name = "MemberBanned"),
        @JsonSubTypes.Type(value = Guild.MemberUnbanned.class, name = "MemberUnbanned"),
        @JsonSubTypes.Type(value = Guild.NicknameChanged.class, name = "NicknameChanged")
      })
      Guild.Event event) implements Item {}

  /** {@code seqNr} is the channel entity's sequence number of this event. */
  public record ChannelChanged(
      String guildId, String channelId, long seqNr,
      @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
      @JsonSubTypes({
        @JsonSubTypes.Type(value = TextChannel.ChannelCreated.class, name = "ChannelCreated"),
        @JsonSubTypes.Type(value = TextChannel.MessagePosted.class, name = "MessagePosted"),
        @JsonSubTypes.Type(value = TextChannel.MessageEdited.class, name = "MessageEdited"),
        @JsonSubTypes.Type(value = TextChannel.MessageDeleted.class, name = "MessageDeleted"),
        @JsonSubTypes.Type(value = TextChannel.MessagePinned.class, name = "MessagePinned"),
        @JsonSubTypes.Type(value = TextChannel.MessageUnpinned.class, name = "MessageUnpinned")
      })
      TextChannel.Event event) implements Item {}

  /**
   * An encryption group of the guild changed ({@code kind}: created, proposal, revoked, commit).
   * {@code seqNr} is the group's log position; {@code message} the proposal or commit (never a
   * Welcome: joiners fetch their own); {@code devices} the proposal's device or the commit's
   * joiners, {@code removed} the devices a commit removed.
   */
  public record GroupChanged(String guildId, String groupId, String channelId, long seqNr,
      String kind, long epoch, byte[] message, List<String> devices, List<String> removed)
      implements Item {}

  /** A device has few one-time key packages left on the server; it should upload more. */
  public record KeyPackagesLow(String guildId, String userId, String deviceId, int available)
      implements Item {}

  /**
   * A member's voice state in a voice channel changed; {@code left} is the reason they left
   * (then the states are all false and the session null). {@code seqNr} is the voice channel's
   * event count.
   */
  public record VoiceStateChanged(String guildId, String channelId, String userId,
      String sessionId, String deviceId, boolean selfMute, boolean selfDeaf, boolean serverMute,
      boolean serverDeaf, String left, long seqNr) implements Item {}

  /**
   * Where {@code userId}'s session {@code sessionId} sends its voice now, without having asked:
   * the call moved to another SFU ({@code fromChannelId} null: same channel, call and group), or a
   * moderator ({@code byUserId}) moved the member from {@code fromChannelId} into
   * {@code channelId}'s call (another group). Holds the ICE password, so the gateway hands it to
   * that session only.
   */
  public record VoiceServerMoved(String guildId, String channelId, String userId,
      String sessionId, String conferenceId, String groupId,
      dev.cloister.guild.voice.VoiceChannel.Endpoint endpoint, String fromChannelId,
      String byUserId) implements Item {

    /** The call moved to another SFU. */
    public VoiceServerMoved(String guildId, String channelId, String userId, String sessionId,
        String conferenceId, String groupId, dev.cloister.guild.voice.VoiceChannel.Endpoint endpoint) {
      this(guildId, channelId, userId, sessionId, conferenceId, groupId, endpoint, null, null);
    }

    /** A moderator moved the member here from another channel. */
    public boolean channelChanged() {
      return fromChannelId != null;
    }
  }

  /**
   * Ephemeral: a voice channel that came back (a restart of its node, a move to another node, a
   * passivation) asks the gateway sessions it holds participants for to say they are still there
   * ({@link dev.cloister.guild.voice.VoiceChannel.Present}); those that do not, within the
   * channel's presence timeout, are taken out.
   */
  public record VoiceRollCall(String guildId, String channelId, List<String> sessionIds)
      implements Item {}

  /**
   * Ephemeral: who the SFU forwards in a voice channel now (its top speakers, loudest first), sent
   * when that changes, at most once per poll of the SFU. {@code ssrcs} match {@code userIds}.
   */
  public record SpeakingChanged(String guildId, String channelId, List<String> userIds,
      List<Long> ssrcs) implements Item {}

  /** Ephemeral: never journaled. */
  public record TypingStarted(String guildId, String channelId, String userId, long atMillis)
      implements Item {}

  /**
   * Ephemeral: {@code status} is online, idle or offline, as the sessions on {@code node} (its
   * cluster address) add up to; null from a node that did not say.
   */
  public record PresenceChanged(String guildId, String userId, String status, String node)
      implements Item {}

  /**
   * Ephemeral: the gateway copy of the guild on {@code node} (a cluster address) has just started
   * and asks the others what their sessions' users' presence is ({@link PresenceHeld}), so that
   * its sessions learn who is online elsewhere.
   */
  public record PresenceAsked(String guildId, String node) implements Item {}

  /**
   * Ephemeral: the presence of the users with sessions on {@code node}'s gateway copy of the
   * guild, in answer to a {@link PresenceAsked}; offline users are left out.
   */
  public record PresenceHeld(String guildId, String node, Map<String, String> statuses)
      implements Item {}

  /** On {@link #MEMBERSHIPS_TOPIC}: a user became a member (or created the guild). */
  public record MemberAdded(String guildId, String userId) implements CborSerializable {}

  // ---- publishing and subscribing ----

  public void publish(Item item) {
    if (system != null) {
      topic(item.guildId()).tell(Topic.publish(item));
    }
  }

  public void memberAdded(String guildId, String userId) {
    if (system != null) {
      memberships().tell(Topic.publish(new MemberAdded(guildId, userId)));
    }
  }

  /**
   * The node's topic actor of one guild, started on first use (again after a sweep stopped it:
   * a subscriber should watch it and subscribe again when it stops).
   */
  public ActorRef<Topic.Command<Item>> topic(String guildId) {
    if (system == null) {
      throw new IllegalStateException("this feed publishes nothing");
    }
    lastUsed.put(guildId, System.nanoTime());
    return topics.computeIfAbsent(guildId, g -> system.systemActorOf(
        Topic.create(Item.class, topicName(g)),
        "guild-feed-" + g + "-" + incarnations.incrementAndGet(), Props.empty()));
  }

  /** Guild topic actors on this node now. */
  public int topicCount() {
    return topics.size();
  }

  /**
   * Stops the topic actors of guilds unused here for {@code idle} that have no local subscriber;
   * completes with how many it stopped. A publish racing the stop is lost, as pub-sub may lose
   * any (a gateway copy reloads on the gap it leaves).
   */
  public CompletionStage<Integer> sweep(Duration idle) {
    List<CompletableFuture<Boolean>> stopped = new ArrayList<>();
    long now = System.nanoTime();
    topics.forEach((guildId, ref) -> {
      Long used = lastUsed.get(guildId);
      if (used != null && now - used < idle.toNanos()) {
        return;
      }
      stopped.add(AskPattern.<Topic.Command<Item>, Topic.TopicStats>ask(ref,
              Topic::getTopicStats, Duration.ofSeconds(5), system.scheduler())
          .toCompletableFuture()
          .thenApply(stats -> {
            Long again = lastUsed.get(guildId);
            boolean idleStill = again == null || System.nanoTime() - again >= idle.toNanos();
            if (stats.localSubscriberCount() > 0 || !idleStill || !topics.remove(guildId, ref)) {
              return false;
            }
            lastUsed.remove(guildId, again);
            Adapter.toClassic(system).stop(Adapter.toClassic(ref));
            return true;
          })
          .exceptionally(e -> false));
    });
    return CompletableFuture.allOf(stopped.toArray(CompletableFuture[]::new))
        .thenApply(x -> (int) stopped.stream().filter(CompletableFuture::join).count());
  }

  public ActorRef<Topic.Command<MemberAdded>> memberships() {
    if (system == null) {
      throw new IllegalStateException("this feed publishes nothing");
    }
    ActorRef<Topic.Command<MemberAdded>> m = memberships;
    if (m == null) {
      synchronized (this) {
        if (memberships == null) {
          memberships = system.systemActorOf(
              Topic.create(MemberAdded.class, MEMBERSHIPS_TOPIC), "guild-memberships", Props.empty());
        }
        m = memberships;
      }
    }
    return m;
  }
}
