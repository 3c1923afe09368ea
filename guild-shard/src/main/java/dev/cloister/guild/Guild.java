package dev.cloister.guild;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import dev.cloister.guild.group.Audience;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;

/**
 * A guild: its owner, roles, members, bans, invites and channel directory with permission
 * overwrites. It is the authority on who may see and do what anywhere in the guild; channel
 * entities ask nothing themselves. Every change is an {@link Action} by a requester, authorized
 * here with {@link EffectivePermissions}.
 */
public final class Guild
    extends EventSourcedBehaviorWithEnforcedReplies<Guild.Command, Guild.Event, Guild.State> {

  public static final EntityTypeKey<Command> ENTITY_KEY = EntityTypeKey.create(Command.class, "Guild");

  /** Projection tags {@code guild-0..3}; chosen once, never changed. */
  public static final int TAG_COUNT = 4;

  public static final int MAX_NAME_LENGTH = 100;
  public static final int MAX_NICKNAME_LENGTH = 32;
  public static final int MAX_CHANNELS = 500;
  public static final int MAX_ROLES = 250;
  public static final int MAX_INVITES = 1000;
  /** Bans travel in the guild's state to every gateway node: bounded, as everything in it. */
  public static final int MAX_BANS = 10_000;
  public static final int MAX_OVERWRITES = 100;

  public static void init(ActorSystem<?> system, GuildFeed feed) {
    ClusterSharding.get(system).init(Entity.of(ENTITY_KEY, ctx -> create(ctx.getEntityId(), feed)));
  }

  public static Behavior<Command> create(String guildId) {
    return create(guildId, GuildFeed.none());
  }

  public static Behavior<Command> create(String guildId, GuildFeed feed) {
    return Behaviors.setup(ctx -> new Guild(PersistenceId.of(ENTITY_KEY.name(), guildId), ctx, feed));
  }

  // ---- the guild's parts ----

  /** The @everyone role has the guild's id and always sits at position 0. */
  public record Role(String id, String name, long permissions) implements CborSerializable {}

  public enum OverwriteType { ROLE, MEMBER }

  public record Overwrite(String targetId, OverwriteType type, long allow, long deny)
      implements CborSerializable {}

  public record Channel(
      String id, String name, ChannelType type, String parentId, List<Overwrite> overwrites)
      implements CborSerializable {}

  public record Member(String userId, String nickname, List<String> roleIds, long joinedAtMillis)
      implements CborSerializable {}

  /** {@code maxUses} 0 means unlimited, {@code expiresAtMillis} 0 never. */
  public record Invite(String code, String creatorId, int maxUses, int uses, long expiresAtMillis)
      implements CborSerializable {}

  public record Ban(String userId, String byId, long atMillis) implements CborSerializable {}

  // ---- commands ----

  public sealed interface Command extends CborSerializable {}

  public record Create(
      String name, String ownerId, String textChannelId, String voiceChannelId, long nowMillis,
      ActorRef<StatusReply<GuildView>> replyTo) implements Command {}

  /** A change requested by a user; replies with the guild as the requester now sees it. */
  public record Act(
      String requesterId, Action action, long nowMillis, ActorRef<StatusReply<GuildView>> replyTo)
      implements Command {}

  public record Get(String requesterId, ActorRef<StatusReply<GuildView>> replyTo)
      implements Command {}

  /** Succeeds with the channel and the user's permissions in it if they include {@code permission}. */
  public record CheckChannelAccess(
      String userId, String channelId, Permission permission,
      ActorRef<StatusReply<ChannelAccess>> replyTo) implements Command {}

  /** Succeeds if the user holds {@code permission} guild-wide. */
  public record CheckGuildPermission(
      String userId, Permission permission, ActorRef<StatusReply<GuildView>> replyTo)
      implements Command {}

  /**
   * The whole state and the sequence number of its last event, for a gateway node's copy of the
   * guild; the copy then follows the guild's {@link GuildFeed}. The {@link Replica} comes back as
   * {@link Parts} of at most {@code partBytes} each, tagged {@code transferId}: a guild of any
   * size crosses the network.
   */
  public record GetReplica(long transferId, int partBytes, ActorRef<Parts.Part> replyTo)
      implements Command {}

  /**
   * A page of members in the order of their ids (as numbers), after {@code afterUserId} (null:
   * from the first), at most {@code limit}; answered as {@link Parts} of {@link Members} (a page
   * of members with many roles each can outgrow a frame).
   */
  public record ListMembers(String requesterId, String afterUserId, int limit,
      ActorRef<StatusReply<Parts.Part>> replyTo) implements Command {}

  public record Members(List<Member> members) implements CborSerializable {}

  /** One member, as any member may see them. */
  public record GetMember(String requesterId, String userId, ActorRef<StatusReply<Member>> replyTo)
      implements Command {}

  /** A page of bans, like {@link ListMembers} (in parts of {@link Bans}); needs BAN_MEMBERS. */
  public record ListBans(String requesterId, String afterUserId, int limit,
      ActorRef<StatusReply<Parts.Part>> replyTo) implements Command {}

  public record Bans(List<Ban> bans) implements CborSerializable {}

  /** The most a page of members or bans holds. */
  public static final int MAX_PAGE = 1000;

  /** The guild's encryption groups and their rosters, for the groups' driver; in parts. */
  public record GetAudience(ActorRef<StatusReply<Parts.Part>> replyTo) implements Command {}

  public record Replica(State state, long seqNr) implements CborSerializable {}

  /** The guild's voice channels, for the driver that keeps them to who may CONNECT. */
  public record GetVoiceChannels(ActorRef<StatusReply<VoiceChannels>> replyTo) implements Command {}

  public record VoiceChannels(List<String> channelIds) implements CborSerializable {}

  /** Which of these voice participants ({@code channelId -> userIds}) may no longer be there. */
  public record CheckVoiceAccess(Map<String, List<String>> participants,
      ActorRef<StatusReply<VoiceEvictions>> replyTo) implements Command {}

  /** {@code reason}: banned, removed (kicked or left the guild), lost_connect, channel_deleted. */
  public record VoiceEviction(String channelId, String userId, String reason)
      implements CborSerializable {}

  public record VoiceEvictions(List<VoiceEviction> evictions) implements CborSerializable {}

  /** Every change a user can ask of a guild. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "action")
  @JsonSubTypes({
    @JsonSubTypes.Type(value = Rename.class, name = "Rename"),
    @JsonSubTypes.Type(value = TransferOwnership.class, name = "TransferOwnership"),
    @JsonSubTypes.Type(value = AddChannel.class, name = "AddChannel"),
    @JsonSubTypes.Type(value = UpdateChannel.class, name = "UpdateChannel"),
    @JsonSubTypes.Type(value = DeleteChannel.class, name = "DeleteChannel"),
    @JsonSubTypes.Type(value = SetOverwrite.class, name = "SetOverwrite"),
    @JsonSubTypes.Type(value = RemoveOverwrite.class, name = "RemoveOverwrite"),
    @JsonSubTypes.Type(value = CreateRole.class, name = "CreateRole"),
    @JsonSubTypes.Type(value = UpdateRole.class, name = "UpdateRole"),
    @JsonSubTypes.Type(value = DeleteRole.class, name = "DeleteRole"),
    @JsonSubTypes.Type(value = AssignRole.class, name = "AssignRole"),
    @JsonSubTypes.Type(value = UnassignRole.class, name = "UnassignRole"),
    @JsonSubTypes.Type(value = CreateInvite.class, name = "CreateInvite"),
    @JsonSubTypes.Type(value = RevokeInvite.class, name = "RevokeInvite"),
    @JsonSubTypes.Type(value = AcceptInvite.class, name = "AcceptInvite"),
    @JsonSubTypes.Type(value = Leave.class, name = "Leave"),
    @JsonSubTypes.Type(value = Kick.class, name = "Kick"),
    @JsonSubTypes.Type(value = BanMember.class, name = "BanMember"),
    @JsonSubTypes.Type(value = Unban.class, name = "Unban"),
    @JsonSubTypes.Type(value = SetNickname.class, name = "SetNickname")
  })
  public sealed interface Action extends CborSerializable {}

  public record Rename(String name) implements Action {}

  public record TransferOwnership(String newOwnerId) implements Action {}

  public record AddChannel(String channelId, String name, ChannelType type, String parentId)
      implements Action {}

  /** Null fields stay as they are; {@code parentId} "" takes the channel out of its category. */
  public record UpdateChannel(String channelId, String name, String parentId, Integer position)
      implements Action {}

  public record DeleteChannel(String channelId) implements Action {}

  public record SetOverwrite(String channelId, Overwrite overwrite) implements Action {}

  public record RemoveOverwrite(String channelId, String targetId) implements Action {}

  public record CreateRole(String roleId, String name, long permissions) implements Action {}

  /** Null fields stay as they are. */
  public record UpdateRole(String roleId, String name, Long permissions, Integer position)
      implements Action {}

  public record DeleteRole(String roleId) implements Action {}

  public record AssignRole(String userId, String roleId) implements Action {}

  public record UnassignRole(String userId, String roleId) implements Action {}

  public record CreateInvite(String code, int maxUses, long maxAgeSeconds) implements Action {}

  public record RevokeInvite(String code) implements Action {}

  /** The requester joins through an invite. */
  public record AcceptInvite(String code) implements Action {}

  /** The requester leaves. */
  public record Leave() implements Action {}

  public record Kick(String userId) implements Action {}

  public record BanMember(String userId) implements Action {}

  public record Unban(String userId) implements Action {}

  /** Null or blank clears the nickname. */
  public record SetNickname(String userId, String nickname) implements Action {}

  // ---- replies ----

  /**
   * A member's access to a channel. For a text channel, {@code groupId} is the encryption group
   * its new messages use, and {@code audienceVersion} what that group's roster must have caught
   * up with before it takes a message; {@code guildVersion} is the guild's last event then.
   */
  public record ChannelAccess(Channel channel, long permissions, String groupId,
      long audienceVersion, long guildVersion) implements CborSerializable {}

  /**
   * The guild as one member sees it: channels they can view, their own permissions; invites only
   * with MANAGE_GUILD. Members and bans are not in it, only how many members there are: a view
   * is an answer to almost every request, often across nodes, and must not grow with the guild
   * ({@link ListMembers}, {@link GetMember} and {@link ListBans} page through them).
   */
  public record GuildView(
      String id, String name, String ownerId, List<Role> roles, List<Channel> channels,
      int memberCount, List<Invite> invites, long myPermissions)
      implements CborSerializable {}

  // ---- events ----

  public sealed interface Event extends CborSerializable {}

  public record GuildCreated(String name, String ownerId, List<Channel> channels, long atMillis)
      implements Event {}

  public record GuildRenamed(String name) implements Event {}

  public record OwnershipTransferred(String fromId, String toId) implements Event {}

  public record ChannelAdded(Channel channel) implements Event {}

  public record ChannelUpdated(String channelId, String name, String parentId, int position)
      implements Event {}

  public record ChannelDeleted(String channelId) implements Event {}

  public record OverwriteSet(String channelId, Overwrite overwrite) implements Event {}

  public record OverwriteRemoved(String channelId, String targetId) implements Event {}

  public record RoleCreated(Role role) implements Event {}

  public record RoleUpdated(String roleId, String name, long permissions) implements Event {}

  public record RoleMoved(String roleId, int position) implements Event {}

  public record RoleDeleted(String roleId) implements Event {}

  public record MemberRoleAdded(String userId, String roleId) implements Event {}

  public record MemberRoleRemoved(String userId, String roleId) implements Event {}

  public record InviteCreated(Invite invite) implements Event {}

  public record InviteRevoked(String code) implements Event {}

  public record MemberJoined(String userId, String inviteCode, long atMillis) implements Event {}

  public record MemberLeft(String userId) implements Event {}

  public record MemberKicked(String userId, String byId) implements Event {}

  public record MemberBanned(String userId, String byId, long atMillis) implements Event {}

  public record MemberUnbanned(String userId, String byId) implements Event {}

  public record NicknameChanged(String userId, String nickname) implements Event {}

  // ---- state ----

  /**
   * Roles are ordered bottom to top (index = position, 0 = @everyone); channels in display order.
   * Maps keep insertion order so views are stable.
   */
  public record State(
      String id, String name, String ownerId, List<Role> roles, List<Channel> channels,
      Map<String, Member> members, Map<String, Ban> bans, Map<String, Invite> invites,
      long audienceVersion)
      implements CborSerializable {

    public static State empty(String id) {
      return new State(id, null, null, List.of(), List.of(), Map.of(), Map.of(), Map.of(), 0);
    }

    public boolean exists() {
      return name != null;
    }

    // -- decisions --

    public Decision<Event> create(
        String newName, String owner, String textChannelId, String voiceChannelId, long now) {
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
          new Channel(textChannelId, "general", ChannelType.TEXT, null, List.of()),
          new Channel(voiceChannelId, "General", ChannelType.VOICE, null, List.of())), now));
    }

    public Decision<Event> act(String requester, Action action, long now) {
      if (!exists()) {
        return Decision.reject(Rejection.notFound("unknown guild"));
      }
      if (action instanceof AcceptInvite a) {
        return acceptInvite(requester, a.code(), now);
      }
      if (!members.containsKey(requester)) {
        return Decision.reject(Rejection.forbidden("you are not a member of this guild"));
      }
      if (action instanceof Rename r) {
        return rename(requester, r);
      }
      if (action instanceof TransferOwnership t) {
        return transfer(requester, t);
      }
      if (action instanceof AddChannel a) {
        return addChannel(requester, a);
      }
      if (action instanceof UpdateChannel u) {
        return updateChannel(requester, u);
      }
      if (action instanceof DeleteChannel d) {
        return deleteChannel(requester, d);
      }
      if (action instanceof SetOverwrite s) {
        return setOverwrite(requester, s);
      }
      if (action instanceof RemoveOverwrite r) {
        return removeOverwrite(requester, r);
      }
      if (action instanceof CreateRole c) {
        return createRole(requester, c);
      }
      if (action instanceof UpdateRole u) {
        return updateRole(requester, u);
      }
      if (action instanceof DeleteRole d) {
        return deleteRole(requester, d);
      }
      if (action instanceof AssignRole a) {
        return assignRole(requester, a.userId(), a.roleId(), true);
      }
      if (action instanceof UnassignRole u) {
        return assignRole(requester, u.userId(), u.roleId(), false);
      }
      if (action instanceof CreateInvite c) {
        return createInvite(requester, c, now);
      }
      if (action instanceof RevokeInvite r) {
        return revokeInvite(requester, r);
      }
      if (action instanceof Leave) {
        return leave(requester);
      }
      if (action instanceof Kick k) {
        return kick(requester, k);
      }
      if (action instanceof BanMember b) {
        return ban(requester, b, now);
      }
      if (action instanceof Unban u) {
        return unban(requester, u);
      }
      if (action instanceof SetNickname n) {
        return setNickname(requester, n);
      }
      throw new IllegalStateException("unhandled " + action);
    }

    private Decision<Event> rename(String requester, Rename r) {
      Rejection denied = requireGuild(requester, Permission.MANAGE_GUILD);
      if (denied != null) {
        return Decision.reject(denied);
      }
      String trimmed = r.name() == null ? "" : r.name().strip();
      Rejection bad = checkName("guild", trimmed);
      if (bad != null) {
        return Decision.reject(bad);
      }
      return trimmed.equals(name) ? Decision.accept() : Decision.accept(new GuildRenamed(trimmed));
    }

    private Decision<Event> transfer(String requester, TransferOwnership t) {
      if (!requester.equals(ownerId)) {
        return Decision.reject(Rejection.forbidden("only the owner can transfer ownership"));
      }
      if (!members.containsKey(t.newOwnerId())) {
        return Decision.reject(Rejection.invalid("the new owner must be a member of the guild"));
      }
      return t.newOwnerId().equals(ownerId)
          ? Decision.accept()
          : Decision.accept(new OwnershipTransferred(ownerId, t.newOwnerId()));
    }

    private Decision<Event> addChannel(String requester, AddChannel a) {
      Rejection denied = requireGuild(requester, Permission.MANAGE_CHANNELS);
      if (denied != null) {
        return Decision.reject(denied);
      }
      if (channel(a.channelId()) != null) {
        return Decision.accept(); // a retried creation of the same channel
      }
      String trimmed = a.name() == null ? "" : a.name().strip();
      Rejection bad = checkName("channel", trimmed);
      if (bad == null && a.type() == null) {
        bad = Rejection.invalid("channel type must be \"text\", \"voice\" or \"category\"");
      }
      if (bad == null) {
        bad = checkParent(a.parentId(), a.type());
      }
      if (bad == null && channels.size() >= MAX_CHANNELS) {
        bad = Rejection.conflict("a guild holds at most " + MAX_CHANNELS + " channels");
      }
      if (bad != null) {
        return Decision.reject(bad);
      }
      // A channel created in a category starts with the category's overwrites (synced).
      Channel parent = a.parentId() == null ? null : channel(a.parentId());
      List<Overwrite> overwrites = parent == null ? List.of() : parent.overwrites();
      return Decision.accept(new ChannelAdded(
          new Channel(a.channelId(), trimmed, a.type(), a.parentId(), overwrites)));
    }

    private Rejection checkParent(String parentId, ChannelType type) {
      if (parentId == null || parentId.isEmpty()) {
        return null;
      }
      Channel parent = channel(parentId);
      if (parent == null || parent.type() != ChannelType.CATEGORY) {
        return Rejection.invalid("parentId must be a category of this guild");
      }
      if (type == ChannelType.CATEGORY) {
        return Rejection.invalid("a category cannot be inside another category");
      }
      return null;
    }

    private Decision<Event> updateChannel(String requester, UpdateChannel u) {
      Channel c = channel(u.channelId());
      if (c == null) {
        return Decision.reject(Rejection.notFound("unknown channel"));
      }
      Rejection denied = requireChannel(requester, c, Permission.MANAGE_CHANNELS);
      if (denied != null) {
        return Decision.reject(denied);
      }
      String newName = u.name() == null ? c.name() : u.name().strip();
      Rejection bad = checkName("channel", newName);
      if (bad != null) {
        return Decision.reject(bad);
      }
      String newParent = u.parentId() == null ? c.parentId()
          : u.parentId().isEmpty() ? null : u.parentId();
      bad = checkParent(newParent, c.type());
      if (bad != null) {
        return Decision.reject(bad);
      }
      int current = channels.indexOf(c);
      int position = u.position() == null ? current : u.position();
      if (position < 0 || position >= channels.size()) {
        return Decision.reject(
            Rejection.invalid("position must be within 0.." + (channels.size() - 1)));
      }
      return Decision.accept(new ChannelUpdated(c.id(), newName, newParent, position));
    }

    private Decision<Event> deleteChannel(String requester, DeleteChannel d) {
      Channel c = channel(d.channelId());
      if (c == null) {
        return Decision.reject(Rejection.notFound("unknown channel"));
      }
      Rejection denied = requireChannel(requester, c, Permission.MANAGE_CHANNELS);
      return denied != null ? Decision.reject(denied) : Decision.accept(new ChannelDeleted(c.id()));
    }

    private Decision<Event> setOverwrite(String requester, SetOverwrite s) {
      Channel c = channel(s.channelId());
      if (c == null) {
        return Decision.reject(Rejection.notFound("unknown channel"));
      }
      Rejection denied = requireChannel(requester, c, Permission.MANAGE_ROLES);
      if (denied != null) {
        return Decision.reject(denied);
      }
      Overwrite o = s.overwrite();
      if (o.type() == OverwriteType.ROLE && role(o.targetId()) == null) {
        return Decision.reject(Rejection.notFound("unknown role " + o.targetId()));
      }
      if (o.type() == OverwriteType.MEMBER && !members.containsKey(o.targetId())) {
        return Decision.reject(Rejection.notFound("unknown member " + o.targetId()));
      }
      if ((o.allow() & o.deny()) != 0) {
        return Decision.reject(Rejection.invalid(
            "a permission cannot be both allowed and denied: " + Permission.names(o.allow() & o.deny())));
      }
      long mine = EffectivePermissions.inChannel(this, requester, c);
      long beyond = (o.allow() | o.deny()) & ~mine;
      if (beyond != 0) {
        return Decision.reject(Rejection.forbidden(
            "you cannot allow or deny permissions you do not hold: " + Permission.names(beyond)));
      }
      if (c.overwrites().size() >= MAX_OVERWRITES && overwrite(c, o.targetId()) == null) {
        return Decision.reject(Rejection.conflict("a channel holds at most " + MAX_OVERWRITES
            + " overwrites"));
      }
      return Decision.accept(new OverwriteSet(c.id(), o));
    }

    private Decision<Event> removeOverwrite(String requester, RemoveOverwrite r) {
      Channel c = channel(r.channelId());
      if (c == null) {
        return Decision.reject(Rejection.notFound("unknown channel"));
      }
      Rejection denied = requireChannel(requester, c, Permission.MANAGE_ROLES);
      if (denied != null) {
        return Decision.reject(denied);
      }
      return overwrite(c, r.targetId()) == null
          ? Decision.accept()
          : Decision.accept(new OverwriteRemoved(c.id(), r.targetId()));
    }

    private Decision<Event> createRole(String requester, CreateRole c) {
      Rejection denied = requireGuild(requester, Permission.MANAGE_ROLES);
      if (denied == null) {
        denied = grantable(requester, c.permissions());
      }
      if (denied != null) {
        return Decision.reject(denied);
      }
      String trimmed = c.name() == null ? "" : c.name().strip();
      Rejection bad = checkName("role", trimmed);
      if (bad == null && roles.size() >= MAX_ROLES) {
        bad = Rejection.conflict("a guild holds at most " + MAX_ROLES + " roles");
      }
      if (bad != null) {
        return Decision.reject(bad);
      }
      if (role(c.roleId()) != null) {
        return Decision.accept();
      }
      return Decision.accept(new RoleCreated(new Role(c.roleId(), trimmed, c.permissions())));
    }

    private Decision<Event> updateRole(String requester, UpdateRole u) {
      Role r = role(u.roleId());
      if (r == null) {
        return Decision.reject(Rejection.notFound("unknown role"));
      }
      Rejection denied = manageRole(requester, r);
      if (denied == null && u.permissions() != null) {
        denied = grantable(requester, u.permissions() & ~r.permissions());
      }
      if (denied != null) {
        return Decision.reject(denied);
      }
      boolean everyone = r.id().equals(id);
      String newName = u.name() == null ? r.name() : u.name().strip();
      if (everyone && !newName.equals(r.name())) {
        return Decision.reject(Rejection.invalid("the @everyone role cannot be renamed"));
      }
      Rejection bad = checkName("role", newName);
      if (bad != null) {
        return Decision.reject(bad);
      }
      List<Event> events = new ArrayList<>();
      long permissions = u.permissions() == null ? r.permissions() : u.permissions();
      if (!newName.equals(r.name()) || permissions != r.permissions()) {
        events.add(new RoleUpdated(r.id(), newName, permissions));
      }
      if (u.position() != null && u.position() != roles.indexOf(r)) {
        if (everyone) {
          return Decision.reject(Rejection.invalid("the @everyone role always stays at position 0"));
        }
        int position = u.position();
        if (position < 1 || position >= roles.size()) {
          return Decision.reject(
              Rejection.invalid("position must be within 1.." + (roles.size() - 1)));
        }
        if (!requester.equals(ownerId) && position >= EffectivePermissions.highestPosition(this, requester)) {
          return Decision.reject(Rejection.forbidden(
              "you can only move roles to positions below your highest role"));
        }
        events.add(new RoleMoved(r.id(), position));
      }
      return new Decision.Accept<>(events);
    }

    private Decision<Event> deleteRole(String requester, DeleteRole d) {
      Role r = role(d.roleId());
      if (r == null) {
        return Decision.reject(Rejection.notFound("unknown role"));
      }
      if (r.id().equals(id)) {
        return Decision.reject(Rejection.invalid("the @everyone role cannot be deleted"));
      }
      Rejection denied = manageRole(requester, r);
      return denied != null ? Decision.reject(denied) : Decision.accept(new RoleDeleted(r.id()));
    }

    private Decision<Event> assignRole(String requester, String userId, String roleId, boolean add) {
      Role r = role(roleId);
      if (r == null) {
        return Decision.reject(Rejection.notFound("unknown role"));
      }
      if (r.id().equals(id)) {
        return Decision.reject(Rejection.invalid("every member has the @everyone role"));
      }
      Member m = members.get(userId);
      if (m == null) {
        return Decision.reject(Rejection.notFound("unknown member"));
      }
      Rejection denied = manageRole(requester, r);
      if (denied == null && add) {
        // A role created later sits below older ones (position 1), so rank alone would let a
        // moderator hand out an administrator role made after theirs.
        denied = grantable(requester, r.permissions());
      }
      if (denied != null) {
        return Decision.reject(denied);
      }
      boolean has = m.roleIds().contains(roleId);
      if (add == has) {
        return Decision.accept();
      }
      return Decision.accept(add
          ? new MemberRoleAdded(userId, roleId) : new MemberRoleRemoved(userId, roleId));
    }

    private Decision<Event> createInvite(String requester, CreateInvite c, long now) {
      Rejection denied = requireGuild(requester, Permission.CREATE_INVITE);
      if (denied != null) {
        return Decision.reject(denied);
      }
      if (c.maxUses() < 0 || c.maxUses() > 1_000_000) {
        return Decision.reject(Rejection.invalid("maxUses must be within 0..1000000 (0: unlimited)"));
      }
      if (c.maxAgeSeconds() < 0 || c.maxAgeSeconds() > 30L * 24 * 3600) {
        return Decision.reject(
            Rejection.invalid("maxAgeSeconds must be within 0..2592000 (0: never expires)"));
      }
      if (invites.size() >= MAX_INVITES) {
        return Decision.reject(Rejection.conflict("a guild holds at most " + MAX_INVITES
            + " invites; revoke some"));
      }
      long expires = c.maxAgeSeconds() == 0 ? 0 : now + c.maxAgeSeconds() * 1000;
      return Decision.accept(
          new InviteCreated(new Invite(c.code(), requester, c.maxUses(), 0, expires)));
    }

    private Decision<Event> revokeInvite(String requester, RevokeInvite r) {
      Invite invite = invites.get(r.code());
      if (invite == null) {
        return Decision.reject(Rejection.notFound("unknown invite"));
      }
      if (!invite.creatorId().equals(requester)) {
        Rejection denied = requireGuild(requester, Permission.MANAGE_GUILD);
        if (denied != null) {
          return Decision.reject(denied);
        }
      }
      return Decision.accept(new InviteRevoked(r.code()));
    }

    private Decision<Event> acceptInvite(String requester, String code, long now) {
      Invite invite = invites.get(code);
      if (invite == null) {
        return Decision.reject(Rejection.notFound("unknown or revoked invite"));
      }
      if (bans.containsKey(requester)) {
        return Decision.reject(Rejection.forbidden("you are banned from this guild"));
      }
      if (members.containsKey(requester)) {
        return Decision.accept(); // already in; the invite is not used up for nothing
      }
      if (invite.expiresAtMillis() != 0 && now >= invite.expiresAtMillis()) {
        return Decision.reject(Rejection.notFound("this invite has expired"));
      }
      if (invite.maxUses() != 0 && invite.uses() >= invite.maxUses()) {
        return Decision.reject(Rejection.notFound("this invite has been used up"));
      }
      return Decision.accept(new MemberJoined(requester, code, now));
    }

    private Decision<Event> leave(String requester) {
      if (requester.equals(ownerId)) {
        return Decision.reject(Rejection.conflict(
            "the owner cannot leave; transfer ownership first"));
      }
      return Decision.accept(new MemberLeft(requester));
    }

    private Decision<Event> kick(String requester, Kick k) {
      Rejection denied = requireGuild(requester, Permission.KICK_MEMBERS);
      if (denied == null) {
        denied = outranks(requester, k.userId(), "kick");
      }
      if (denied != null) {
        return Decision.reject(denied);
      }
      if (!members.containsKey(k.userId())) {
        return Decision.reject(Rejection.notFound("unknown member"));
      }
      return Decision.accept(new MemberKicked(k.userId(), requester));
    }

    private Decision<Event> ban(String requester, BanMember b, long now) {
      Rejection denied = requireGuild(requester, Permission.BAN_MEMBERS);
      if (denied == null) {
        denied = outranks(requester, b.userId(), "ban");
      }
      if (denied != null) {
        return Decision.reject(denied);
      }
      if (bans.containsKey(b.userId())) {
        return Decision.accept();
      }
      if (Snowflake.parse(b.userId()).isEmpty()) {
        return Decision.reject(Rejection.invalid("a user id is a positive decimal snowflake"));
      }
      if (bans.size() >= MAX_BANS) {
        return Decision.reject(Rejection.conflict("a guild holds at most " + MAX_BANS
            + " bans; lift old ones first"));
      }
      return Decision.accept(new MemberBanned(b.userId(), requester, now));
    }

    private Decision<Event> unban(String requester, Unban u) {
      Rejection denied = requireGuild(requester, Permission.BAN_MEMBERS);
      if (denied != null) {
        return Decision.reject(denied);
      }
      if (!bans.containsKey(u.userId())) {
        return Decision.reject(Rejection.notFound("that user is not banned"));
      }
      return Decision.accept(new MemberUnbanned(u.userId(), requester));
    }

    private Decision<Event> setNickname(String requester, SetNickname n) {
      Member m = members.get(n.userId());
      if (m == null) {
        return Decision.reject(Rejection.notFound("unknown member"));
      }
      if (!n.userId().equals(requester)) {
        Rejection denied = requireGuild(requester, Permission.MANAGE_GUILD);
        if (denied == null) {
          denied = outranks(requester, n.userId(), "rename");
        }
        if (denied != null) {
          return Decision.reject(denied);
        }
      }
      String nick = n.nickname() == null || n.nickname().isBlank() ? null : n.nickname().strip();
      if (nick != null) {
        Rejection bad = checkName("nickname", nick);
        if (bad == null && nick.length() > MAX_NICKNAME_LENGTH) {
          bad = Rejection.invalid("nickname must be at most " + MAX_NICKNAME_LENGTH + " characters");
        }
        if (bad != null) {
          return Decision.reject(bad);
        }
      }
      return java.util.Objects.equals(nick, m.nickname())
          ? Decision.accept() : Decision.accept(new NicknameChanged(n.userId(), nick));
    }

    // -- questions --

    public Outcome<ChannelAccess> channelAccess(String userId, String channelId, Permission p) {
      if (!exists()) {
        return Outcome.rejected(Rejection.notFound("unknown guild"));
      }
      Channel c = channel(channelId);
      if (c == null) {
        return Outcome.rejected(Rejection.notFound("unknown channel"));
      }
      Rejection denied = requireChannel(userId, c, p);
      return denied == null
          ? Outcome.ok(new ChannelAccess(c, EffectivePermissions.inChannel(this, userId, c),
              null, audienceVersion, 0))
          : Outcome.rejected(denied);
    }

    public List<String> voiceChannelIds() {
      return channels.stream().filter(c -> c.type() == ChannelType.VOICE).map(Channel::id).toList();
    }

    /** Participants of voice channels who may no longer be there, and why. */
    public List<VoiceEviction> voiceEvictions(Map<String, List<String>> participants) {
      List<VoiceEviction> out = new ArrayList<>();
      participants.forEach((channelId, users) -> {
        Channel c = channel(channelId);
        for (String u : users) {
          String reason;
          if (c == null || c.type() != ChannelType.VOICE) {
            reason = "channel_deleted";
          } else if (bans.containsKey(u)) {
            reason = "banned";
          } else if (!members.containsKey(u)) {
            reason = "removed";
          } else if (!Permission.CONNECT.in(EffectivePermissions.inChannel(this, u, c))) {
            reason = "lost_connect";
          } else {
            continue;
          }
          out.add(new VoiceEviction(channelId, u, reason));
        }
      });
      return out;
    }

    public Outcome<GuildView> guildPermission(String userId, Permission p) {
      if (!exists()) {
        return Outcome.rejected(Rejection.notFound("unknown guild"));
      }
      Rejection denied = requireGuild(userId, p);
      return denied == null ? view(userId) : Outcome.rejected(denied);
    }

    public Outcome<GuildView> view(String requesterId) {
      if (!exists()) {
        return Outcome.rejected(Rejection.notFound("unknown guild"));
      }
      if (!members.containsKey(requesterId)) {
        return Outcome.rejected(Rejection.forbidden("you are not a member of this guild"));
      }
      long mine = EffectivePermissions.inGuild(this, requesterId);
      List<Channel> visible = new ArrayList<>();
      for (Channel c : channels) {
        if (Permission.VIEW_CHANNEL.in(EffectivePermissions.inChannel(this, requesterId, c))) {
          visible.add(c);
        }
      }
      return Outcome.ok(new GuildView(id, name, ownerId, roles, visible, members.size(),
          Permission.MANAGE_GUILD.in(mine) ? List.copyOf(invites.values()) : List.of(),
          mine));
    }

    public Outcome<Member> member(String requesterId, String userId) {
      if (!exists()) {
        return Outcome.rejected(Rejection.notFound("unknown guild"));
      }
      if (!members.containsKey(requesterId)) {
        return Outcome.rejected(Rejection.forbidden("you are not a member of this guild"));
      }
      Member m = members.get(userId);
      return m == null ? Outcome.rejected(Rejection.notFound("unknown member")) : Outcome.ok(m);
    }

    /** Who may list members: any member; bans: members with BAN_MEMBERS. */
    public Rejection mayList(String requesterId, boolean bansToo) {
      if (!exists()) {
        return Rejection.notFound("unknown guild");
      }
      return bansToo ? requireGuild(requesterId, Permission.BAN_MEMBERS)
          : members.containsKey(requesterId) ? null
          : Rejection.forbidden("you are not a member of this guild");
    }

    // -- rules --

    private Rejection requireGuild(String userId, Permission p) {
      if (!members.containsKey(userId)) {
        return Rejection.forbidden("you are not a member of this guild");
      }
      return p.in(EffectivePermissions.inGuild(this, userId))
          ? null : Rejection.forbidden("missing permission " + p.name());
    }

    private Rejection requireChannel(String userId, Channel c, Permission p) {
      if (!members.containsKey(userId)) {
        return Rejection.forbidden("you are not a member of this guild");
      }
      long mine = EffectivePermissions.inChannel(this, userId, c);
      if (!Permission.VIEW_CHANNEL.in(mine)) {
        return Rejection.forbidden("missing permission VIEW_CHANNEL");
      }
      return p.in(mine) ? null : Rejection.forbidden("missing permission " + p.name());
    }

    /** MANAGE_ROLES and the role below the requester's highest (the owner manages every role). */
    private Rejection manageRole(String requester, Role r) {
      Rejection denied = requireGuild(requester, Permission.MANAGE_ROLES);
      if (denied != null) {
        return denied;
      }
      if (!requester.equals(ownerId)
          && roles.indexOf(r) >= EffectivePermissions.highestPosition(this, requester)) {
        return Rejection.forbidden("you can only manage roles below your highest role");
      }
      return null;
    }

    /** Nobody grants what they do not hold, unless they are the owner or an administrator. */
    private Rejection grantable(String requester, long permissions) {
      long mine = EffectivePermissions.inGuild(this, requester);
      long beyond = permissions & ~mine;
      return beyond == 0 ? null : Rejection.forbidden(
          "you cannot grant permissions you do not hold: " + Permission.names(beyond));
    }

    private Rejection outranks(String requester, String target, String verb) {
      if (target.equals(ownerId)) {
        return Rejection.forbidden("nobody can " + verb + " the owner");
      }
      if (target.equals(requester)) {
        return Rejection.invalid("you cannot " + verb + " yourself");
      }
      if (requester.equals(ownerId) || !members.containsKey(target)) {
        return null;
      }
      if (EffectivePermissions.highestPosition(this, target)
          >= EffectivePermissions.highestPosition(this, requester)) {
        return Rejection.forbidden(
            "you can only " + verb + " members whose highest role is below yours");
      }
      return null;
    }

    public Channel channel(String channelId) {
      for (Channel c : channels) {
        if (c.id().equals(channelId)) {
          return c;
        }
      }
      return null;
    }

    public Role role(String roleId) {
      for (Role r : roles) {
        if (r.id().equals(roleId)) {
          return r;
        }
      }
      return null;
    }

    static Overwrite overwrite(Channel c, String targetId) {
      for (Overwrite o : c.overwrites()) {
        if (o.targetId().equals(targetId)) {
          return o;
        }
      }
      return null;
    }

    public static Rejection checkName(String what, String name) {
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

    // -- events --

    /**
     * Applies an event; one that may take VIEW_CHANNEL from somebody also counts up
     * {@code audienceVersion}, which a channel's encryption group must have caught up with before
     * it takes another message (see {@code dev.cloister.guild.group.Audience}).
     */
    public State apply(Event event) {
      State next = applied(event);
      return narrowsAudience(event) ? next.withAudienceVersion(audienceVersion + 1) : next;
    }

    private static boolean narrowsAudience(Event e) {
      return e instanceof MemberLeft || e instanceof MemberKicked || e instanceof MemberBanned
          || e instanceof MemberRoleRemoved || e instanceof RoleUpdated || e instanceof RoleDeleted
          || e instanceof OverwriteSet || e instanceof OverwriteRemoved
          || e instanceof OwnershipTransferred || e instanceof ChannelUpdated;
    }

    private State withAudienceVersion(long v) {
      return new State(id, name, ownerId, roles, channels, members, bans, invites, v);
    }

    private State applied(Event event) {
      if (event instanceof GuildCreated c) {
        Map<String, Member> m = new LinkedHashMap<>();
        m.put(c.ownerId(), new Member(c.ownerId(), null, List.of(), c.atMillis()));
        return new State(id, c.name(), c.ownerId(),
            List.of(new Role(id, "@everyone", Permission.EVERYONE_DEFAULT)), c.channels(), m,
            Map.of(), Map.of(), audienceVersion);
      }
      if (event instanceof GuildRenamed r) {
        return withName(r.name());
      }
      if (event instanceof OwnershipTransferred t) {
        return new State(id, name, t.toId(), roles, channels, members, bans,
          invites, audienceVersion);
      }
      if (event instanceof ChannelAdded a) {
        return withChannels(append(channels, a.channel()));
      }
      if (event instanceof ChannelUpdated u) {
        Channel old = channel(u.channelId());
        List<Channel> next = new ArrayList<>(channels);
        next.remove(old);
        next.add(Math.min(u.position(), next.size()),
            new Channel(old.id(), u.name(), old.type(), u.parentId(), old.overwrites()));
        return withChannels(List.copyOf(next));
      }
      if (event instanceof ChannelDeleted d) {
        List<Channel> next = new ArrayList<>();
        for (Channel c : channels) {
          if (c.id().equals(d.channelId())) {
            continue;
          }
          // Children of a deleted category stay, outside any category.
          next.add(d.channelId().equals(c.parentId())
              ? new Channel(c.id(), c.name(), c.type(), null, c.overwrites()) : c);
        }
        return withChannels(List.copyOf(next));
      }
      if (event instanceof OverwriteSet s) {
        return withChannel(s.channelId(), c -> {
        List<Overwrite> next = new ArrayList<>();
        boolean replaced = false;
        for (Overwrite o : c.overwrites()) {
          if (o.targetId().equals(s.overwrite().targetId())) {
            next.add(s.overwrite());
            replaced = true;
          } else {
            next.add(o);
          }
        }
        if (!replaced) {
          next.add(s.overwrite());
        }
        return new Channel(c.id(), c.name(), c.type(), c.parentId(), List.copyOf(next));
      });
      }
      if (event instanceof OverwriteRemoved r) {
        return withChannel(r.channelId(), c -> new Channel(c.id(), c.name(),
          c.type(), c.parentId(), c.overwrites().stream()
              .filter(o -> !o.targetId().equals(r.targetId())).toList()));
      }
      if (event instanceof RoleCreated c) {
        // New roles go just above @everyone, as in Discord.
        List<Role> next = new ArrayList<>(roles);
        next.add(1, c.role());
        return withRoles(List.copyOf(next));
      }
      if (event instanceof RoleUpdated u) {
        return withRoles(roles.stream()
          .map(r -> r.id().equals(u.roleId()) ? new Role(r.id(), u.name(), u.permissions()) : r)
          .toList());
      }
      if (event instanceof RoleMoved m) {
        List<Role> next = new ArrayList<>(roles);
        Role r = role(m.roleId());
        next.remove(r);
        next.add(Math.min(m.position(), next.size()), r);
        return withRoles(List.copyOf(next));
      }
      if (event instanceof RoleDeleted d) {
        Map<String, Member> next = new LinkedHashMap<>();
        members.forEach((k, m) -> next.put(k, new Member(m.userId(), m.nickname(),
            m.roleIds().stream().filter(r -> !r.equals(d.roleId())).toList(), m.joinedAtMillis())));
        List<Channel> chans = channels.stream().map(c -> new Channel(c.id(), c.name(), c.type(),
            c.parentId(), c.overwrites().stream()
                .filter(o -> !o.targetId().equals(d.roleId())).toList())).toList();
        return new State(id, name, ownerId,
            roles.stream().filter(r -> !r.id().equals(d.roleId())).toList(), chans, next, bans,
            invites, audienceVersion);
      }
      if (event instanceof MemberRoleAdded a) {
        return withMember(a.userId(), m -> new Member(m.userId(), m.nickname(),
          append(m.roleIds(), a.roleId()), m.joinedAtMillis()));
      }
      if (event instanceof MemberRoleRemoved r) {
        return withMember(r.userId(), m -> new Member(m.userId(), m.nickname(),
          m.roleIds().stream().filter(x -> !x.equals(r.roleId())).toList(), m.joinedAtMillis()));
      }
      if (event instanceof InviteCreated c) {
        Map<String, Invite> next = new LinkedHashMap<>(invites);
        next.put(c.invite().code(), c.invite());
        return new State(id, name, ownerId, roles, channels, members, bans, next, audienceVersion);
      }
      if (event instanceof InviteRevoked r) {
        Map<String, Invite> next = new LinkedHashMap<>(invites);
        next.remove(r.code());
        return new State(id, name, ownerId, roles, channels, members, bans, next, audienceVersion);
      }
      if (event instanceof MemberJoined j) {
        Map<String, Member> m = new LinkedHashMap<>(members);
        m.put(j.userId(), new Member(j.userId(), null, List.of(), j.atMillis()));
        Map<String, Invite> inv = new LinkedHashMap<>(invites);
        Invite used = inv.get(j.inviteCode());
        if (used != null) {
          inv.put(used.code(), new Invite(used.code(), used.creatorId(), used.maxUses(),
              used.uses() + 1, used.expiresAtMillis()));
        }
        return new State(id, name, ownerId, roles, channels, m, bans, inv, audienceVersion);
      }
      if (event instanceof MemberLeft l) {
        return without(l.userId());
      }
      if (event instanceof MemberKicked k) {
        return without(k.userId());
      }
      if (event instanceof MemberBanned b) {
        State s = without(b.userId());
        Map<String, Ban> next = new LinkedHashMap<>(bans);
        next.put(b.userId(), new Ban(b.userId(), b.byId(), b.atMillis()));
        return new State(id, name, ownerId, roles, s.channels(), s.members(), next, invites, audienceVersion);
      }
      if (event instanceof MemberUnbanned u) {
        Map<String, Ban> next = new LinkedHashMap<>(bans);
        next.remove(u.userId());
        return new State(id, name, ownerId, roles, channels, members, next, invites, audienceVersion);
      }
      if (event instanceof NicknameChanged n) {
        return withMember(n.userId(), m -> new Member(m.userId(), n.nickname(),
          m.roleIds(), m.joinedAtMillis()));
      }
      throw new IllegalStateException("unhandled " + event);
    }

    private State withName(String newName) {
      return new State(id, newName, ownerId, roles, channels, members, bans, invites, audienceVersion);
    }

    private State withChannels(List<Channel> next) {
      return new State(id, name, ownerId, roles, next, members, bans, invites, audienceVersion);
    }

    private State withRoles(List<Role> next) {
      return new State(id, name, ownerId, next, channels, members, bans, invites, audienceVersion);
    }

    private State withChannel(String channelId, java.util.function.UnaryOperator<Channel> change) {
      return withChannels(channels.stream()
          .map(c -> c.id().equals(channelId) ? change.apply(c) : c).toList());
    }

    private State withMember(String userId, java.util.function.UnaryOperator<Member> change) {
      Map<String, Member> next = new LinkedHashMap<>(members);
      next.computeIfPresent(userId, (k, m) -> change.apply(m));
      return new State(id, name, ownerId, roles, channels, next, bans, invites, audienceVersion);
    }

    /** Removes a member and the member overwrites that named them. */
    private State without(String userId) {
      Map<String, Member> next = new LinkedHashMap<>(members);
      next.remove(userId);
      List<Channel> chans = channels.stream().map(c -> new Channel(c.id(), c.name(), c.type(),
          c.parentId(), c.overwrites().stream().filter(o -> !(o.type() == OverwriteType.MEMBER
              && o.targetId().equals(userId))).toList())).toList();
      return new State(id, name, ownerId, roles, chans, next, bans, invites, audienceVersion);
    }

    private static <T> List<T> append(List<T> list, T item) {
      List<T> next = new ArrayList<>(list);
      next.add(item);
      return List.copyOf(next);
    }
  }

  // ---- the persistent shell ----

  private final String guildId;
  private final ActorContext<Command> context;
  private final GuildFeed feed;

  private Guild(PersistenceId persistenceId, ActorContext<Command> context, GuildFeed feed) {
    super(persistenceId);
    this.guildId = persistenceId.entityId();
    this.context = context;
    this.feed = feed;
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
            s.create(c.name(), c.ownerId(), c.textChannelId(), c.voiceChannelId(), c.nowMillis()),
            c.replyTo(), after -> viewOrNull(after, c.ownerId()), this::published))
        .onCommand(Act.class, (s, c) -> Replies.decide(Effect(),
            s.act(c.requesterId(), c.action(), c.nowMillis()),
            c.replyTo(), after -> viewOrNull(after, c.requesterId()), this::published))
        .onCommand(GetReplica.class, (s, c) -> {
          for (Parts.Part p : Parts.split(context.getSystem(), c.transferId(),
              new Replica(s, lastSequenceNumber(context)), c.partBytes())) {
            c.replyTo().tell(p);
          }
          return Effect().noReply();
        })
        .onCommand(ListMembers.class, (s, c) -> {
          Parts.tell(context.getSystem(), c.replyTo(),
              page(s.mayList(c.requesterId(), false), sortedMembers(s), Member::userId,
                  c.afterUserId(), c.limit()).map(Members::new));
          return Effect().noReply();
        })
        .onCommand(ListBans.class, (s, c) -> {
          Parts.tell(context.getSystem(), c.replyTo(),
              page(s.mayList(c.requesterId(), true), sortedBans(s), Ban::userId,
                  c.afterUserId(), c.limit()).map(Bans::new));
          return Effect().noReply();
        })
        .onCommand(GetMember.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            s.member(c.requesterId(), c.userId())))
        .onCommand(CheckChannelAccess.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            withGroup(s, s.channelAccess(c.userId(), c.channelId(), c.permission()))))
        .onCommand(GetAudience.class, (s, c) -> {
          Parts.tell(context.getSystem(), c.replyTo(), s.exists() ? Outcome.ok(plan(s))
              : Outcome.rejected(Rejection.notFound("unknown guild")));
          return Effect().noReply();
        })
        .onCommand(GetVoiceChannels.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            s.exists() ? Outcome.ok(new VoiceChannels(s.voiceChannelIds()))
                : Outcome.rejected(Rejection.notFound("unknown guild"))))
        .onCommand(CheckVoiceAccess.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            s.exists() ? Outcome.ok(new VoiceEvictions(s.voiceEvictions(c.participants())))
                : Outcome.rejected(Rejection.notFound("unknown guild"))))
        .onCommand(CheckGuildPermission.class, (s, c) -> Replies.answer(Effect(), c.replyTo(),
            s.guildPermission(c.userId(), c.permission())))
        .onCommand(Get.class,
            (s, c) -> Replies.answer(Effect(), c.replyTo(), s.view(c.requesterId())))
        .build();
  }

  private Audience.Plan plan;
  private State planOf;
  private List<Member> sortedMembers = List.of();
  private Map<String, Member> sortedMembersOf;
  private List<Ban> sortedBans = List.of();
  private Map<String, Ban> sortedBansOf;

  /** Ids are snowflakes: as numbers, a shorter one is smaller, and equal lengths sort as text. */
  static final java.util.Comparator<String> BY_ID =
      java.util.Comparator.comparingInt(String::length).thenComparing(java.util.Comparator.naturalOrder());

  /** Members in id order, sorted once per change of membership, not once per page. */
  private List<Member> sortedMembers(State s) {
    if (sortedMembersOf != s.members()) {
      sortedMembers = s.members().values().stream()
          .sorted(java.util.Comparator.comparing(Member::userId, BY_ID)).toList();
      sortedMembersOf = s.members();
    }
    return sortedMembers;
  }

  private List<Ban> sortedBans(State s) {
    if (sortedBansOf != s.bans()) {
      sortedBans = s.bans().values().stream()
          .sorted(java.util.Comparator.comparing(Ban::userId, BY_ID)).toList();
      sortedBansOf = s.bans();
    }
    return sortedBans;
  }

  /** The items after {@code after} in {@code sorted}, at most {@code limit} (1..MAX_PAGE). */
  static <T> Outcome<List<T>> page(Rejection denied, List<T> sorted,
      java.util.function.Function<T, String> id, String after, int limit) {
    if (denied != null) {
      return Outcome.rejected(denied);
    }
    if (limit < 1 || limit > MAX_PAGE) {
      return Outcome.rejected(Rejection.invalid("limit must be within 1.." + MAX_PAGE));
    }
    int lo = 0;
    if (after != null) {
      int hi = sorted.size();
      while (lo < hi) { // the first id greater than after
        int mid = (lo + hi) >>> 1;
        if (BY_ID.compare(id.apply(sorted.get(mid)), after) <= 0) {
          lo = mid + 1;
        } else {
          hi = mid;
        }
      }
    }
    return Outcome.ok(List.copyOf(sorted.subList(lo, Math.min(sorted.size(), lo + limit))));
  }

  /** The audience plan of {@code s}, computed once per state (it costs members x channels). */
  private Audience.Plan plan(State s) {
    if (planOf != s) {
      plan = Audience.of(s);
      planOf = s;
    }
    return plan;
  }

  private Outcome<ChannelAccess> withGroup(State s, Outcome<ChannelAccess> access) {
    if (access instanceof Outcome.Ok<ChannelAccess> ok) {
      ChannelAccess a = ok.value();
      return Outcome.ok(new ChannelAccess(a.channel(), a.permissions(),
          plan(s).groupOf(a.channel().id()), s.audienceVersion(), lastSequenceNumber(context)));
    }
    return access;
  }

  /** Tells the guild's gateways, once the events are in the journal. */
  private void published(List<Event> events, State after) {
    long first = lastSequenceNumber(context) - events.size() + 1;
    for (int i = 0; i < events.size(); i++) {
      Event e = events.get(i);
      feed.publish(new GuildFeed.GuildChanged(guildId, first + i, e));
      if (e instanceof GuildCreated c) {
        feed.memberAdded(guildId, c.ownerId());
      } else if (e instanceof MemberJoined j) {
        feed.memberAdded(guildId, j.userId());
      }
    }
  }

  /** After leaving, being kicked or banned the requester sees nothing: the reply carries null. */
  private static GuildView viewOrNull(State s, String requesterId) {
    return s.view(requesterId) instanceof Outcome.Ok<GuildView> ok ? ok.value() : null;
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
