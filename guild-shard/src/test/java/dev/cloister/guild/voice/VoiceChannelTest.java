package dev.cloister.guild.voice;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.guild.EntityTestKits;
import dev.cloister.guild.GuildFeed;
import dev.cloister.guild.Permission;
import dev.cloister.sfu.SelectiveForwardingUnit;
import dev.cloister.sfu.SfuConfig;
import dev.cloister.sfu.conference.EndpointView;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The voice channel entity against a real SFU (in this JVM, loopback, ephemeral ports). */
class VoiceChannelTest {

  private static final ActorTestKit testKit = EntityTestKits.create();
  private static SelectiveForwardingUnit sfu;

  private static final String GUILD = "100";
  private static final long MEMBER = Permission.mask(List.of(Permission.VIEW_CHANNEL, Permission.CONNECT,
      Permission.SPEAK));

  /** What the roster side receives: the group id and the devices. */
  record Roster(String groupId, List<String> devices, long version) {}

  private TestProbe<Roster> rosters;
  private EventSourcedBehaviorTestKit<VoiceChannel.Command, VoiceChannel.Event, VoiceRoom> channel;
  private String channelId;

  private static GuildFeed feed;

  /** One feed per actor system (its topic actors have fixed names). */
  private static synchronized GuildFeed feed() {
    if (feed == null) {
      feed = GuildFeed.of(testKit.system());
    }
    return feed;
  }

  @BeforeAll
  static void startSfu() throws Exception {
    sfu = new SelectiveForwardingUnit(SfuConfig.loopbackEphemeral()).start();
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
    sfu.close();
  }

  @BeforeEach
  void newChannel() {
    channelId = Long.toString(300 + System.nanoTime() % 1_000_000);
    rosters = testKit.createTestProbe();
    VoiceChannel.Rosters sink = (groupId, guildId, ch, devices, version) -> {
      rosters.ref().tell(new Roster(groupId, devices, version));
      return CompletableFuture.completedFuture(Done.getInstance());
    };
    channel = EventSourcedBehaviorTestKit.create(testKit.system(), VoiceChannel.create(channelId,
        new EmbeddedSfu(sfu.conferences()), sink, GuildFeed.none(),
        new VoiceChannel.Settings(Duration.ofMillis(200), Duration.ofMillis(250))));
  }

  private StatusReply<VoiceChannel.Joined> join(String user, String device, String session,
      long permissions) {
    return channel.<StatusReply<VoiceChannel.Joined>>runCommand(r -> new VoiceChannel.Join(
        GUILD, user, device, session, false, false, permissions, r)).reply();
  }

  private EndpointView onSfu(String conferenceId, String endpointId) {
    return sfu.conferences().describe(conferenceId).orElseThrow().endpoints().stream()
        .filter(e -> e.endpointId().equals(endpointId)).findFirst().orElse(null);
  }

  @Test
  void membersWithConnectJoinAndGetAnEndpointOnTheSfuInTheCallsConference() {
    assertThat(join("1", "d1", "s1", Permission.mask(List.of(Permission.VIEW_CHANNEL))).getError().getMessage())
        .isEqualTo("forbidden: missing permission CONNECT");

    VoiceChannel.Joined alice = join("1", "d1", "s1", MEMBER).getValue();
    String call = "v" + channelId + ".1";
    assertThat(alice.conferenceId()).isEqualTo(call);
    assertThat(alice.groupId()).isEqualTo(call);
    assertThat(alice.endpoint().udpPort()).isEqualTo(sfu.udpPort());
    assertThat(alice.endpoint().icePwd()).hasSizeGreaterThanOrEqualTo(22);
    assertThat(onSfu(call, alice.endpoint().endpointId())).isNotNull();

    VoiceChannel.Joined bob = join("2", "d1", "s2", MEMBER).getValue();
    assertThat(bob.conferenceId()).isEqualTo(call);
    assertThat(bob.endpoint().ssrc()).isNotEqualTo(alice.endpoint().ssrc());
    assertThat(bob.participants().states()).extracting(VoiceRoom.VoiceState::userId)
        .containsExactlyInAnyOrder("1", "2");

    // Both joins within the window: the call's group hears one roster with both devices.
    Roster roster = rosters.receiveMessage(Duration.ofSeconds(3));
    assertThat(roster.groupId()).isEqualTo(call);
    assertThat(roster.devices()).containsExactly("1/d1", "2/d1");
    rosters.expectNoMessage(Duration.ofMillis(400));

    // The same session asking again gets the same endpoint.
    assertThat(join("1", "d1", "s1", MEMBER).getValue().endpoint()).isEqualTo(alice.endpoint());
  }

  /**
   * A channel that comes back (its node restarted) asks its participants' sessions whether they
   * are still there: the one that answers stays, the one whose session died with the node is
   * taken out after the presence timeout, and its endpoint freed.
   */
  @Test
  void afterARestartParticipantsWhoseSessionsDoNotAnswerTheRollCallAreTakenOut() throws Exception {
    GuildFeed feed = feed();
    TestProbe<GuildFeed.Item> items = testKit.createTestProbe();
    feed.topic(GUILD).tell(Topic.subscribe(items.ref()));
    VoiceChannel.Rosters none = (groupId, guildId, ch, devices, version) ->
        CompletableFuture.completedFuture(Done.getInstance());
    channel = EventSourcedBehaviorTestKit.create(testKit.system(), VoiceChannel.create(channelId,
        new EmbeddedSfu(sfu.conferences()), none, feed, new VoiceChannel.Settings(
            Duration.ofMillis(200), Duration.ofMillis(250), Duration.ofSeconds(1),
            Duration.ofMillis(1500))));
    VoiceChannel.Joined alice = join("1", "d1", "s1", MEMBER).getValue();
    VoiceChannel.Joined bob = join("2", "d1", "s2", MEMBER).getValue();
    Thread.sleep(300); // past the first feed items of the joins

    channel.restart();
    GuildFeed.VoiceRollCall call = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (call == null && System.nanoTime() < deadline) {
      if (items.receiveMessage(Duration.ofSeconds(5)) instanceof GuildFeed.VoiceRollCall rc) {
        call = rc;
      }
    }
    assertThat(call).as("a roll call after the restart").isNotNull();
    assertThat(call.channelId()).isEqualTo(channelId);
    assertThat(call.sessionIds()).containsExactlyInAnyOrder("s1", "s2");
    channel.runCommand(new VoiceChannel.Present("1", "s1"));

    GuildFeed.VoiceStateChanged left = null;
    deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (left == null && System.nanoTime() < deadline) {
      GuildFeed.Item item = items.receiveMessage(Duration.ofSeconds(5));
      if (item instanceof GuildFeed.VoiceRollCall again) {
        assertThat(again.sessionIds()).as("only the silent one is asked again")
            .containsExactly("s2");
      } else if (item instanceof GuildFeed.VoiceStateChanged v && v.left() != null) {
        left = v;
      }
    }
    assertThat(left).as("bob taken out").isNotNull();
    assertThat(left.userId()).isEqualTo("2");
    assertThat(left.left()).isEqualTo("session_ended");
    VoiceChannel.Participants now = channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        VoiceChannel.GetParticipants::new).reply().getValue();
    assertThat(now.states()).extracting(VoiceRoom.VoiceState::userId).containsExactly("1");
    assertThat(onSfu(bob.conferenceId(), bob.endpoint().endpointId())).isNull();
    assertThat(onSfu(alice.conferenceId(), alice.endpoint().endpointId())).isNotNull();
  }

  @Test
  void aCallItsSfuLostMovesWithItsParticipantsWhoAreToldWhereToSendNow() {
    GuildFeed feed = feed();
    TestProbe<GuildFeed.Item> items = testKit.createTestProbe();
    feed.topic(GUILD).tell(Topic.subscribe(items.ref()));
    VoiceChannel.Rosters none = (groupId, guildId, ch, devices, version) ->
        CompletableFuture.completedFuture(Done.getInstance());
    channel = EventSourcedBehaviorTestKit.create(testKit.system(), VoiceChannel.create(channelId,
        new EmbeddedSfu(sfu.conferences()), none, feed,
        new VoiceChannel.Settings(Duration.ofMillis(200), Duration.ofMillis(100))));
    VoiceChannel.Joined alice = join("1", "d1", "s1", MEMBER).getValue();
    VoiceChannel.Joined bob = join("2", "d1", "s2", MEMBER).getValue();
    channel.<StatusReply<VoiceChannel.Participants>>runCommand(r -> new VoiceChannel.Moderate(
        "1", MEMBER | Permission.MUTE_MEMBERS.bit, "2", true, null, r));
    String call = alice.conferenceId();

    // The SFU loses the call (as when it restarts): every endpoint of it is gone.
    sfu.conferences().remove(call, alice.endpoint().endpointId());
    sfu.conferences().remove(call, bob.endpoint().endpointId());
    assertThat(sfu.conferences().holds(call)).isFalse();

    java.util.Map<String, GuildFeed.VoiceServerMoved> moved = new java.util.HashMap<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (moved.size() < 2 && System.nanoTime() < deadline) {
      GuildFeed.Item item = items.receiveMessage(Duration.ofSeconds(10));
      if (item instanceof GuildFeed.VoiceServerMoved m) {
        moved.put(m.userId(), m);
      }
    }
    assertThat(moved).containsOnlyKeys("1", "2");
    GuildFeed.VoiceServerMoved a = moved.get("1");
    assertThat(a.sessionId()).isEqualTo("s1");
    assertThat(a.conferenceId()).isEqualTo(call);
    assertThat(a.groupId()).as("same call, same group and keys").isEqualTo(alice.groupId());
    assertThat(a.endpoint().endpointId()).isNotEqualTo(alice.endpoint().endpointId());
    assertThat(onSfu(call, a.endpoint().endpointId())).isNotNull();
    EndpointView b = onSfu(call, moved.get("2").endpoint().endpointId());
    assertThat(b.serverMuted()).as("a server mute follows the member to the new SFU").isTrue();
    // The same session asking again (a client that missed the dispatch) gets where it is now.
    assertThat(join("1", "d1", "s1", MEMBER).getValue().endpoint()).isEqualTo(a.endpoint());
    assertThat(channel.getState().participant("2").endpoint())
        .isEqualTo(moved.get("2").endpoint());
  }

  @Test
  void aFullChannelTurnsAwayAllButThoseWhoMayMoveMembers() {
    assertThat(channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        r -> new VoiceChannel.SetUserLimit(GUILD, 100, r)).reply().getError().getMessage())
        .startsWith("invalid: a user limit is 0 (none) to 99");
    channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        r -> new VoiceChannel.SetUserLimit(GUILD, 2, r));
    join("1", "d1", "s1", MEMBER).getValue();
    join("2", "d1", "s2", MEMBER).getValue();
    assertThat(join("3", "d1", "s3", MEMBER).getError().getMessage())
        .isEqualTo("conflict: the voice channel is full (2 members)");
    assertThat(join("3", "d1", "s3", MEMBER | Permission.MOVE_MEMBERS.bit).isSuccess()).isTrue();
    assertThat(join("4", "d1", "s4", MEMBER).getError().getMessage()).contains("full");
    assertThat(join("4", "d 1", "s4", MEMBER | Permission.MOVE_MEMBERS.bit).getError().getMessage())
        .startsWith("invalid:");
    assertThat(channel.<StatusReply<VoiceChannel.Joined>>runCommand(r -> new VoiceChannel.Join(
        "999", "5", "d1", "s5", false, false, MEMBER, r)).reply().getError().getMessage())
        .isEqualTo("not_found: unknown channel");
  }

  @Test
  void serverMuteAndDeafenNeedTheirPermissionsAndReachTheSfu() {
    VoiceChannel.Joined listener = join("1", "d1", "s1",
        Permission.mask(List.of(Permission.VIEW_CHANNEL, Permission.CONNECT))).getValue();
    EndpointView e = onSfu(listener.conferenceId(), listener.endpoint().endpointId());
    assertThat(e.serverMuted()).as("without SPEAK nothing of theirs is forwarded").isTrue();

    VoiceChannel.Joined talker = join("2", "d1", "s2", MEMBER).getValue();
    assertThat(channel.<StatusReply<VoiceChannel.Participants>>runCommand(r ->
        new VoiceChannel.Moderate("1", MEMBER, "2", true, null, r)).reply().getError().getMessage())
        .isEqualTo("forbidden: missing permission MUTE_MEMBERS");
    channel.<StatusReply<VoiceChannel.Participants>>runCommand(r -> new VoiceChannel.Moderate(
        "1", MEMBER | Permission.MUTE_MEMBERS.bit | Permission.DEAFEN_MEMBERS.bit, "2", true, true,
        r));
    e = onSfu(talker.conferenceId(), talker.endpoint().endpointId());
    assertThat(e.serverMuted()).isTrue();
    assertThat(e.deafened()).isTrue();
    VoiceRoom.Participant p = channel.getState().participant("2");
    assertThat(p.serverMute()).isTrue();
    assertThat(p.serverDeaf()).isTrue();

    // Self deafen reaches the SFU too (nothing is sent to a deafened member).
    channel.<StatusReply<VoiceChannel.Participants>>runCommand(r -> new VoiceChannel.Moderate(
        "1", MEMBER | Permission.DEAFEN_MEMBERS.bit, "2", null, false, r));
    channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        r -> new VoiceChannel.UpdateSelf("2", "s2", false, true, r));
    assertThat(onSfu(talker.conferenceId(), talker.endpoint().endpointId()).deafened()).isTrue();
    assertThat(channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        r -> new VoiceChannel.UpdateSelf("2", "stale", false, false, r)).reply().isError()).isTrue();
  }

  @Test
  void rejoiningFromAnotherDeviceReplacesTheEndpointAndTheLastLeaveEndsTheCall() {
    VoiceChannel.Joined first = join("1", "d1", "s1", MEMBER).getValue();
    join("2", "d1", "s2", MEMBER).getValue();
    VoiceChannel.Joined moved = join("1", "d2", "s3", MEMBER).getValue();
    assertThat(moved.conferenceId()).isEqualTo(first.conferenceId());
    assertThat(onSfu(first.conferenceId(), first.endpoint().endpointId()))
        .as("the replaced endpoint is freed").isNull();
    assertThat(onSfu(moved.conferenceId(), moved.endpoint().endpointId())).isNotNull();
    assertThat(channel.getState().devices()).containsExactly("1/d2", "2/d1");

    // A stale session's leave changes nothing; the current one's leaves.
    var stale = channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        r -> new VoiceChannel.Leave("1", "s1", r));
    assertThat(stale.events()).isEmpty();
    channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        r -> new VoiceChannel.Leave("1", "s3", r));
    var kicked = channel.<StatusReply<VoiceChannel.Participants>>runCommand(
        r -> new VoiceChannel.Disconnect("2", "kicked", r));
    assertThat(kicked.events()).singleElement().isInstanceOf(VoiceChannel.ParticipantLeft.class);
    assertThat(sfu.conferences().describe(first.conferenceId())).as("an emptied call is freed")
        .isEmpty();

    // The next call has a new conference and a new group: nothing of the last call carries over.
    VoiceChannel.Joined next = join("2", "d1", "s4", MEMBER).getValue();
    assertThat(next.groupId()).isEqualTo("v" + channelId + ".2");

    channel.restart();
    assertThat(channel.getState().groupId()).isEqualTo("v" + channelId + ".2");
    assertThat(channel.getState().devices()).containsExactly("2/d1");
    // After recovery the roster goes out again, so the group converges.
    Roster last = null;
    for (int i = 0; i < 5 && (last == null || !last.groupId().endsWith(".2")
        || !last.devices().equals(List.of("2/d1"))); i++) {
      last = rosters.receiveMessage(Duration.ofSeconds(3));
    }
    assertThat(last.groupId()).isEqualTo("v" + channelId + ".2");
    assertThat(last.devices()).containsExactly("2/d1");
  }
}
