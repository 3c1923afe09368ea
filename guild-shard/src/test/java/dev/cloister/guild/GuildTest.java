package dev.cloister.guild;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class GuildTest {

  private static final ActorTestKit testKit = EntityTestKits.create();
  private static final String G = "100";
  private static final String OWNER = "1";
  private static final long NOW = 1_800_000_000_000L;

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  /** A pure guild to drive through decisions and events. */
  private static final class World {
    Guild.State state = Guild.State.empty(G);

    World() {
      accept(state.create("Guild", OWNER, "200", "201", NOW));
    }

    Decision<Guild.Event> act(String who, Guild.Action action) {
      return act(who, action, NOW);
    }

    Decision<Guild.Event> act(String who, Guild.Action action, long now) {
      Decision<Guild.Event> d = state.act(who, action, now);
      if (d instanceof Decision.Accept<Guild.Event> a) {
        for (Guild.Event e : a.events()) {
          state = state.apply(e);
        }
      }
      return d;
    }

    void accept(Decision<Guild.Event> d) {
      assertThat(d).isInstanceOf(Decision.Accept.class);
      ((Decision.Accept<Guild.Event>) d).events().forEach(e -> state = state.apply(e));
    }

    void ok(String who, Guild.Action action) {
      assertThat(act(who, action)).as("%s by %s", action, who).isInstanceOf(Decision.Accept.class);
    }

    /** The user joins through a fresh unlimited invite. */
    void join(String userId) {
      String code = "inv" + userId;
      ok(OWNER, new Guild.CreateInvite(code, 0, 0));
      ok(userId, new Guild.AcceptInvite(code));
    }
  }

  private static Rejection rejection(Decision<Guild.Event> d) {
    assertThat(d).isInstanceOf(Decision.Reject.class);
    return ((Decision.Reject<Guild.Event>) d).rejection();
  }

  @Test
  void newGuildHasOwnerEveryoneRoleAndGeneralChannels() {
    World w = new World();
    assertThat(w.state.members()).containsOnlyKeys(OWNER);
    assertThat(w.state.roles()).containsExactly(
        new Guild.Role(G, "@everyone", Permission.EVERYONE_DEFAULT));
    assertThat(w.state.channels()).extracting(Guild.Channel::name, Guild.Channel::type)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("general", ChannelType.TEXT),
            org.assertj.core.groups.Tuple.tuple("General", ChannelType.VOICE));
  }

  @Test
  void invitesExpireRunOutAndNeverAdmitTheBanned() {
    World w = new World();
    w.ok(OWNER, new Guild.CreateInvite("once", 1, 60));
    w.ok("2", new Guild.AcceptInvite("once"));
    assertThat(w.state.members()).containsKey("2");
    assertThat(rejection(w.act("3", new Guild.AcceptInvite("once"))).message()).contains("used up");
    assertThat(w.act("2", new Guild.AcceptInvite("once"))).as("a member re-accepting is a no-op")
        .isEqualTo(Decision.accept());

    w.ok(OWNER, new Guild.CreateInvite("short", 0, 60));
    assertThat(rejection(w.act("3", new Guild.AcceptInvite("short"), NOW + 60_000)).message())
        .contains("expired");
    w.ok("3", new Guild.AcceptInvite("short"));

    w.ok(OWNER, new Guild.BanMember("3"));
    assertThat(w.state.members()).doesNotContainKey("3");
    w.ok(OWNER, new Guild.CreateInvite("open", 0, 0));
    assertThat(rejection(w.act("3", new Guild.AcceptInvite("open"))).code())
        .isEqualTo(Rejection.Code.FORBIDDEN);
    w.ok(OWNER, new Guild.Unban("3"));
    w.ok("3", new Guild.AcceptInvite("open"));

    w.ok(OWNER, new Guild.RevokeInvite("open"));
    assertThat(rejection(w.act("4", new Guild.AcceptInvite("open"))).code())
        .isEqualTo(Rejection.Code.NOT_FOUND);
  }

  @Test
  void rolesCanOnlyBeManagedBelowOnesHighestRole() {
    World w = new World();
    w.join("2");
    w.join("3");
    w.ok(OWNER, new Guild.CreateRole("mod", "Mod", Permission.MANAGE_ROLES.bit | Permission.KICK_MEMBERS.bit));
    w.ok(OWNER, new Guild.CreateRole("helper", "Helper", 0));
    // Order now (bottom to top): @everyone, helper, mod.
    assertThat(w.state.roles()).extracting(Guild.Role::id).containsExactly(G, "helper", "mod");
    w.ok(OWNER, new Guild.AssignRole("2", "mod"));

    w.ok("2", new Guild.AssignRole("3", "helper"));
    assertThat(rejection(w.act("2", new Guild.AssignRole("3", "mod"))).message())
        .isEqualTo("you can only manage roles below your highest role");
    assertThat(rejection(w.act("2", new Guild.UpdateRole("helper", null, Permission.BAN_MEMBERS.bit, null))).message())
        .startsWith("you cannot grant permissions you do not hold");
    assertThat(rejection(w.act("3", new Guild.CreateRole("x", "X", 0))).message())
        .isEqualTo("missing permission MANAGE_ROLES");

    w.ok(OWNER, new Guild.UpdateRole("helper", null, null, 2)); // helper above mod
    assertThat(w.state.roles()).extracting(Guild.Role::id).containsExactly(G, "mod", "helper");
    assertThat(rejection(w.act("2", new Guild.UnassignRole("3", "helper"))).code())
        .isEqualTo(Rejection.Code.FORBIDDEN);

    w.ok(OWNER, new Guild.DeleteRole("helper"));
    assertThat(w.state.members().get("3").roleIds()).isEmpty();
    assertThat(rejection(w.act(OWNER, new Guild.DeleteRole(G))).code()).isEqualTo(Rejection.Code.INVALID);
  }

  @Test
  void aModeratorCannotHandOutARoleCreatedAfterTheirsWithPermissionsTheyLack() {
    World w = new World();
    w.join("2");
    w.join("3");
    w.ok(OWNER, new Guild.CreateRole("mod", "Mod", Permission.MANAGE_ROLES.bit));
    w.ok(OWNER, new Guild.AssignRole("2", "mod"));
    // Created after Mod, so placed below it: rank alone would let the moderator assign it.
    w.ok(OWNER, new Guild.CreateRole("admin", "Admin", Permission.ADMINISTRATOR.bit));
    w.ok(OWNER, new Guild.CreateRole("kicker", "Kicker", Permission.KICK_MEMBERS.bit));
    assertThat(w.state.roles()).extracting(Guild.Role::id).containsExactly(G, "kicker", "admin", "mod");

    assertThat(rejection(w.act("2", new Guild.AssignRole("2", "admin"))).message())
        .isEqualTo("you cannot grant permissions you do not hold: [ADMINISTRATOR]");
    assertThat(rejection(w.act("2", new Guild.AssignRole("3", "kicker"))).message())
        .isEqualTo("you cannot grant permissions you do not hold: [KICK_MEMBERS]");
    assertThat(w.state.members().get("2").roleIds()).containsExactly("mod");
    assertThat(EffectivePermissions.inGuild(w.state, "2") & Permission.ADMINISTRATOR.bit).isZero();

    // What the moderator holds, they may hand out; taking a role away grants nothing.
    w.ok(OWNER, new Guild.CreateRole("lesser", "Lesser", Permission.MANAGE_ROLES.bit));
    w.ok("2", new Guild.AssignRole("3", "lesser"));
    w.ok(OWNER, new Guild.AssignRole("3", "kicker"));
    w.ok("2", new Guild.UnassignRole("3", "kicker"));
  }

  @Test
  void voiceParticipantsWhoMayNoLongerConnectAreNamedWithTheReason() {
    World w = new World();
    for (String u : List.of("2", "3", "4", "5")) {
      w.join(u);
    }
    assertThat(w.state.voiceChannelIds()).containsExactly("201");
    w.ok(OWNER, new Guild.Kick("3"));
    w.ok(OWNER, new Guild.BanMember("4"));
    w.ok(OWNER, new Guild.SetOverwrite("201",
        new Guild.Overwrite("5", Guild.OverwriteType.MEMBER, 0, Permission.CONNECT.bit)));
    var evictions = w.state.voiceEvictions(java.util.Map.of(
        "201", List.of(OWNER, "2", "3", "4", "5"), "999", List.of("2")));
    assertThat(evictions).containsExactlyInAnyOrder(
        new Guild.VoiceEviction("201", "3", "removed"),
        new Guild.VoiceEviction("201", "4", "banned"),
        new Guild.VoiceEviction("201", "5", "lost_connect"),
        new Guild.VoiceEviction("999", "2", "channel_deleted"));
  }

  @Test
  void bansNameRealIdsAndAreBounded() {
    World w = new World();
    assertThat(rejection(w.act(OWNER, new Guild.BanMember("x".repeat(2048)))).message())
        .isEqualTo("a user id is a positive decimal snowflake");
    java.util.Map<String, Guild.Ban> full = new java.util.LinkedHashMap<>();
    for (int i = 0; i < Guild.MAX_BANS; i++) {
      String id = Long.toString(1_000_000 + i);
      full.put(id, new Guild.Ban(id, OWNER, NOW));
    }
    Guild.State s = w.state;
    w.state = new Guild.State(s.id(), s.name(), s.ownerId(), s.roles(), s.channels(), s.members(),
        full, s.invites(), s.audienceVersion());
    assertThat(rejection(w.act(OWNER, new Guild.BanMember("5"))).code())
        .isEqualTo(Rejection.Code.CONFLICT);
    w.ok(OWNER, new Guild.BanMember("1000000")); // already banned: nothing to add
    w.ok(OWNER, new Guild.Unban("1000000"));
    w.ok(OWNER, new Guild.BanMember("5"));
  }

  @Test
  void kicksAndBansRespectTheHierarchyAndSpareTheOwner() {
    World w = new World();
    w.join("2");
    w.join("3");
    w.ok(OWNER, new Guild.CreateRole("mod", "Mod", Permission.KICK_MEMBERS.bit | Permission.BAN_MEMBERS.bit));
    w.ok(OWNER, new Guild.AssignRole("2", "mod"));
    assertThat(rejection(w.act("2", new Guild.Kick(OWNER))).message()).contains("owner");
    assertThat(rejection(w.act("3", new Guild.Kick("2"))).message()).isEqualTo("missing permission KICK_MEMBERS");
    w.ok(OWNER, new Guild.AssignRole("3", "mod"));
    assertThat(rejection(w.act("2", new Guild.Kick("3"))).message()).contains("below yours");
    w.ok(OWNER, new Guild.UnassignRole("3", "mod"));
    w.ok("2", new Guild.Kick("3"));
    assertThat(w.state.members()).doesNotContainKey("3");
    w.ok("2", new Guild.BanMember("99")); // banning a non-member pre-emptively
    assertThat(w.state.bans()).containsKey("99");
  }

  @Test
  void ownershipTransfersOnlyFromTheOwnerToAMemberAndTheOwnerCannotLeave() {
    World w = new World();
    w.join("2");
    assertThat(rejection(w.act(OWNER, new Guild.Leave())).code()).isEqualTo(Rejection.Code.CONFLICT);
    assertThat(rejection(w.act("2", new Guild.TransferOwnership("2"))).code())
        .isEqualTo(Rejection.Code.FORBIDDEN);
    assertThat(rejection(w.act(OWNER, new Guild.TransferOwnership("77"))).code())
        .isEqualTo(Rejection.Code.INVALID);
    w.ok(OWNER, new Guild.TransferOwnership("2"));
    assertThat(w.state.ownerId()).isEqualTo("2");
    w.ok(OWNER, new Guild.Leave());
    assertThat(w.state.members()).containsOnlyKeys("2");
  }

  @Test
  void overwritesHideChannelsAndCannotExceedTheGrantersOwnPermissions() {
    World w = new World();
    w.join("2");
    w.ok(OWNER, new Guild.SetOverwrite("200",
        new Guild.Overwrite("2", Guild.OverwriteType.MEMBER, 0, Permission.VIEW_CHANNEL.bit)));
    assertThat(((Outcome.Ok<Guild.GuildView>) w.state.view("2")).value().channels())
        .extracting(Guild.Channel::id).containsExactly("201");
    assertThat(w.state.channelAccess("2", "200", Permission.SEND_MESSAGES))
        .isEqualTo(Outcome.rejected(Rejection.forbidden("missing permission VIEW_CHANNEL")));

    w.ok(OWNER, new Guild.CreateRole("perm", "Perm", Permission.MANAGE_ROLES.bit));
    w.ok(OWNER, new Guild.AssignRole("2", "perm"));
    assertThat(rejection(w.act("2", new Guild.SetOverwrite("201",
        new Guild.Overwrite(G, Guild.OverwriteType.ROLE, Permission.MANAGE_GUILD.bit, 0)))).message())
        .startsWith("you cannot allow or deny permissions you do not hold");
    assertThat(rejection(w.act(OWNER, new Guild.SetOverwrite("201", new Guild.Overwrite(G,
        Guild.OverwriteType.ROLE, Permission.SPEAK.bit, Permission.SPEAK.bit)))).code())
        .isEqualTo(Rejection.Code.INVALID);
    w.ok(OWNER, new Guild.RemoveOverwrite("200", "2"));
    assertThat(w.state.channelAccess("2", "200", Permission.SEND_MESSAGES))
        .isInstanceOf(Outcome.Ok.class);
  }

  @Test
  void channelsInACategoryInheritItsOverwritesAndSurviveItsDeletion() {
    World w = new World();
    w.ok(OWNER, new Guild.AddChannel("300", "Staff", ChannelType.CATEGORY, null));
    w.ok(OWNER, new Guild.SetOverwrite("300",
        new Guild.Overwrite(G, Guild.OverwriteType.ROLE, 0, Permission.VIEW_CHANNEL.bit)));
    w.ok(OWNER, new Guild.AddChannel("301", "mods", ChannelType.TEXT, "300"));
    assertThat(w.state.channel("301").overwrites()).hasSize(1);
    assertThat(rejection(w.act(OWNER, new Guild.AddChannel("302", "x", ChannelType.CATEGORY, "300"))).code())
        .isEqualTo(Rejection.Code.INVALID);
    w.ok(OWNER, new Guild.UpdateChannel("301", "mod-chat", null, 0));
    assertThat(w.state.channels().get(0).name()).isEqualTo("mod-chat");
    w.ok(OWNER, new Guild.DeleteChannel("300"));
    assertThat(w.state.channel("301").parentId()).isNull();
  }

  @Test
  void nicknamesAreOwnedByTheirMemberOrByModeratorsAbove() {
    World w = new World();
    w.join("2");
    w.ok("2", new Guild.SetNickname("2", "  Bee "));
    assertThat(w.state.members().get("2").nickname()).isEqualTo("Bee");
    assertThat(rejection(w.act("2", new Guild.SetNickname(OWNER, "x"))).code())
        .isEqualTo(Rejection.Code.FORBIDDEN);
    assertThat(rejection(w.act("2", new Guild.SetNickname("2", "x".repeat(33)))).code())
        .isEqualTo(Rejection.Code.INVALID);
    w.ok(OWNER, new Guild.SetNickname("2", null));
    assertThat(w.state.members().get("2").nickname()).isNull();
  }

  @Test
  void nonMembersAreTurnedAwayFromEveryAction() {
    World w = new World();
    for (Guild.Action a : List.of(new Guild.Rename("x"), new Guild.Leave(),
        new Guild.CreateInvite("c", 0, 0), new Guild.Kick(OWNER))) {
      assertThat(rejection(w.act("9", a)).message()).isEqualTo("you are not a member of this guild");
    }
  }

  @Test
  void theEntityPersistsAndRecoversAFullHistory() {
    var guild = EventSourcedBehaviorTestKit.<Guild.Command, Guild.Event, Guild.State>create(
        testKit.system(), Guild.create(G));
    var created = guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Create(" Rust Hangout ", OWNER, "200", "201", NOW, r));
    assertThat(created.reply().getValue().name()).isEqualTo("Rust Hangout");
    guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Act(OWNER, new Guild.CreateInvite("abc", 0, 0), NOW, r));
    var joined = guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Act("2", new Guild.AcceptInvite("abc"), NOW, r));
    assertThat(joined.reply().getValue().myPermissions()).isEqualTo(Permission.EVERYONE_DEFAULT);
    guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Act(OWNER, new Guild.CreateRole("7", "Mod", Permission.KICK_MEMBERS.bit), NOW, r));
    guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Act(OWNER, new Guild.AssignRole("2", "7"), NOW, r));
    var denied = guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Act("2", new Guild.Rename("mine"), NOW, r));
    assertThat(denied.reply().getError().getMessage()).isEqualTo("forbidden: missing permission MANAGE_GUILD");
    assertThat(denied.events()).isEmpty();

    Guild.State before = guild.getState();
    guild.restart();
    assertThat(guild.getState()).isEqualTo(before);
    var stranger = guild.<StatusReply<Guild.GuildView>>runCommand(r -> new Guild.Get("9", r));
    assertThat(stranger.reply().getError().getMessage()).startsWith("forbidden:");
    var unknown = EventSourcedBehaviorTestKit.<Guild.Command, Guild.Event, Guild.State>create(
        testKit.system(), Guild.create("555"))
        .<StatusReply<Guild.GuildView>>runCommand(r -> new Guild.Get(OWNER, r));
    assertThat(unknown.reply().getError().getMessage()).isEqualTo("not_found: unknown guild");
  }
}
