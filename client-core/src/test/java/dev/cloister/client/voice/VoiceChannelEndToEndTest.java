package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static dev.cloister.client.voice.CallMember.assertHears;
import static dev.cloister.client.voice.CallMember.await;
import static dev.cloister.client.voice.CallMember.awaitSameEpoch;
import static dev.cloister.client.voice.CallMember.voiceChannel;

import dev.cloister.client.Channel;
import dev.cloister.client.TestServer;
import dev.cloister.client.http.ApiException;
import dev.cloister.sfu.SelectiveForwardingUnit;
import dev.cloister.sfu.SfuConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Voice channels end to end: a real node placing calls on two standalone SFUs (their own UDP
 * sockets and control APIs, with a secret), real clients (registered users with enrolled devices),
 * the gateway's {@code voice_state_update}, the call's MLS group kept by each client, real UDP on
 * loopback. Checks are on decoded audio (the share of each tone in what a member heard) and on
 * every frame a member could not decrypt. ({@code VoiceCliTest} and {@code VoiceGatewayTest} run
 * the node's embedded SFU.)
 *
 * <p>One test stops the SFU holding its call, which moves to the other: a call outlives its SFU.
 */
class VoiceChannelEndToEndTest {

  private static final String SECRET = "a-secret-the-node-and-sfus-share";
  private static SelectiveForwardingUnit first;
  private static SelectiveForwardingUnit second;
  private static TestServer server;
  private final List<CallMember> members = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    SfuConfig config = SfuConfig.loopbackEphemeral().withIoThreads(1).withControlSecret(SECRET);
    first = new SelectiveForwardingUnit(config).start();
    second = new SelectiveForwardingUnit(config).start();
    server = TestServer.start(Map.of(
        // Keys rotate every 4 s here (30 s by default), so that every test also crosses rekeys.
        "cloister.voice.rekey-interval", "4s",
        "cloister.voice.sfus", "127.0.0.1:" + first.controlPort() + ",127.0.0.1:"
            + second.controlPort(),
        "cloister.voice.sfu-secret", SECRET,
        "cloister.voice.sfu-timeout", "1s",
        "cloister.voice.sfu-health-interval", "500ms"));
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    first.close();
    second.close();
  }

  @AfterEach
  void leave() {
    for (CallMember m : members) {
      m.close();
    }
  }

  private CallMember member(String name) throws Exception {
    CallMember m = new CallMember(server, name);
    members.add(m);
    return m;
  }

  @Test
  void threePeopleHearEachOtherAndAFourthJoinsAndLeavesWithoutAnyoneLosingAFrame()
      throws Exception {
    CallMember alice = member("alice");
    CallMember bob = member("bob");
    CallMember carol = member("carol");
    CallMember dave = member("dave");
    Channel lounge = voiceChannel(alice, bob, carol, dave);

    alice.join(lounge, 440);
    bob.join(lounge, 700);
    carol.join(lounge, 1100);
    List<CallMember> three = List.of(alice, bob, carol);
    awaitSameEpoch(three);
    Thread.sleep(1500); // a second of audio at the settled epoch, past the jitter buffers
    for (CallMember m : three) {
      assertHears(m, three.stream().filter(o -> o != m).toList());
    }
    // Everyone saw the others' voice states, and the joiners got where to send.
    await("voice states", Duration.ofSeconds(10), () -> alice.dispatches.stream()
        .filter(d -> d.type().equals("VOICE_STATE_UPDATE")
            && d.data().path("channelId").asText().equals(lounge.id()))
        .map(d -> d.data().path("userId").asText()).distinct().count() == 3);

    long[] before = three.stream().mapToLong(CallMember::dropped).toArray();
    long epochBefore = alice.stats().epoch();
    // Dave listens (muted): the SFU forwards the three loudest, and three tones already speak.
    dave.join(lounge, 1700, true);
    List<CallMember> four = List.of(alice, bob, carol, dave);
    awaitSameEpoch(four);
    assertThat(alice.stats().epoch()).isGreaterThan(epochBefore);
    Thread.sleep(1500);
    for (CallMember m : three) {
      assertHears(m, three.stream().filter(o -> o != m).toList());
    }
    assertHears(dave, three);
    long daveEpoch = alice.stats().epoch();
    dave.hangUp();
    await("the call to rekey after dave left", Duration.ofSeconds(30),
        () -> three.stream().allMatch(m -> m.stats().epoch() > daveEpoch));
    awaitSameEpoch(three);
    Thread.sleep(1000);
    for (int i = 0; i < three.size(); i++) {
      CallMember m = three.get(i);
      assertThat(m.dropped() - before[i]).as("frames %s could not play across dave's join and "
          + "leave: %s", m.userId(), m.stats()).isZero();
      assertHears(m, three.stream().filter(o -> o != m).toList());
    }
  }

  @Test
  void keysRotateOnTheTimerWithoutAFrameLost() throws Exception {
    CallMember alice = member("alice");
    CallMember bob = member("bob");
    Channel lounge = voiceChannel(alice, bob);
    alice.join(lounge, 440);
    bob.join(lounge, 700);
    List<CallMember> two = List.of(alice, bob);
    awaitSameEpoch(two);
    assertHears(alice, List.of(bob));
    long[] before = two.stream().mapToLong(CallMember::dropped).toArray();
    long epoch = alice.stats().epoch();
    // Nobody comes or goes: only the timer (4 s here) moves the epoch, twice.
    await("two rekeys", Duration.ofSeconds(30), () -> two.stream()
        .allMatch(m -> m.stats().epoch() >= epoch + 2));
    awaitSameEpoch(two);
    for (int i = 0; i < two.size(); i++) {
      CallMember m = two.get(i);
      assertThat(m.dropped() - before[i]).as("frames %s could not play across rekeys: %s",
          m.userId(), m.stats()).isZero();
    }
    assertHears(alice, List.of(bob));
    assertHears(bob, List.of(alice));

    // Bob's mute button (not push-to-talk's presses) is announced: alice sees him self-muted.
    bob.call.get().announce(true, false);
    await("alice to see bob self-muted", Duration.ofSeconds(10), () -> alice.dispatches.stream()
        .anyMatch(d -> d.type().equals("VOICE_STATE_UPDATE")
            && d.data().path("userId").asText().equals(bob.userId())
            && d.data().path("selfMute").asBoolean()));
  }

  @Test
  void aKickedMemberIsTakenOutOfTheCallAndCannotDecryptTheNextEpoch() throws Exception {
    CallMember alice = member("alice");
    CallMember bob = member("bob");
    CallMember mallory = member("mallory");
    Channel lounge = voiceChannel(alice, bob, mallory);
    alice.join(lounge, 440);
    bob.join(lounge, 700);
    mallory.join(lounge, 1100);
    awaitSameEpoch(List.of(alice, bob, mallory));
    long shared = alice.stats().epoch();

    alice.client.api().kick(lounge.guildId(), mallory.userId());
    await("alice and bob to move past the epoch mallory had", Duration.ofSeconds(30),
        () -> alice.stats().epoch() > shared && bob.stats().epoch() > shared);
    await("mallory's voice state to be gone", Duration.ofSeconds(10), () -> alice.dispatches
        .stream().anyMatch(d -> d.type().equals("VOICE_STATE_UPDATE")
            && d.data().path("userId").asText().equals(mallory.userId())
            && d.data().path("channelId").isNull()));
    Thread.sleep(1000);
    // Mallory still holds the old epoch's keys: nothing of the new one reaches or opens for her.
    VoiceStats m = mallory.stats();
    assertThat(m.epoch()).isEqualTo(shared);
    long heardFromNewEpoch = mallory.heard.last(48_000).length == 0 ? 0
        : Math.round(Tones.share(mallory.heard.last(24_000), 440) * 1000);
    assertThat(heardFromNewEpoch).as("mallory hears alice after the kick: %s", m).isZero();
    assertHears(alice, List.of(bob));
    assertHears(bob, List.of(alice));
    // And she cannot come back in.
    assertThatThrownBy(() -> mallory.gateway.joinVoice(lounge.guildId(), lounge.id(), false,
        false).get()).hasCauseInstanceOf(ApiException.class);
  }

  @Test
  void aModeratorMovesAMemberIntoAnotherChannelsCallAndNobodyLosesAFrame() throws Exception {
    CallMember alice = member("alice");
    CallMember bob = member("bob");
    CallMember carol = member("carol");
    CallMember dave = member("dave");
    Channel lounge = voiceChannel(alice, bob, carol, dave);
    Channel stage = alice.client.api().createChannel(lounge.guildId(), "Stage", "voice", null);
    alice.join(lounge, 440);
    bob.join(lounge, 700);
    carol.join(lounge, 1100);
    dave.join(stage, 1700);
    List<CallMember> lounging = List.of(alice, bob, carol);
    awaitSameEpoch(lounging);
    awaitSameEpoch(List.of(dave));
    for (CallMember m : lounging) {
      assertHears(m, lounging.stream().filter(o -> o != m).toList());
    }
    VoiceCall bobsCall = bob.call.get();
    String loungeGroup = bobsCall.groupId();
    long loungeEpoch = alice.stats().epoch();
    long[] before = {alice.dropped(), carol.dropped(), dave.dropped()};

    alice.client.api().moveVoice(lounge.id(), bob.userId(), stage.id());

    await("bob's call to become the stage's", Duration.ofSeconds(20),
        () -> stage.id().equals(bobsCall.channelId()));
    assertThat(bob.call.get()).isSameAs(bobsCall); // the same call object, audio going on
    assertThat(bobsCall.groupId()).isNotEqualTo(loungeGroup);
    List<CallMember> onStage = List.of(bob, dave);
    List<CallMember> left = List.of(alice, carol);
    awaitSameEpoch(onStage);
    await("the lounge to rekey without bob", Duration.ofSeconds(30),
        () -> left.stream().allMatch(m -> m.stats().epoch() > loungeEpoch));
    awaitSameEpoch(left);
    Thread.sleep(1500); // a second of audio in both calls, past the jitter buffers
    assertHears(bob, List.of(dave));
    assertHears(dave, List.of(bob));
    assertHears(alice, List.of(carol));
    assertHears(carol, List.of(alice));
    for (CallMember m : left) {
      assertThat(Tones.share(m.heard.last(48_000), bob.hz)).as("%s still hears bob", m.userId())
          .isLessThan(VoiceCallTest.ABSENT);
    }
    assertThat(Tones.share(bob.heard.last(48_000), alice.hz)).as("bob still hears alice")
        .isLessThan(VoiceCallTest.ABSENT);
    long[] after = {alice.dropped(), carol.dropped(), dave.dropped()};
    List<CallMember> staying = List.of(alice, carol, dave);
    for (int i = 0; i < staying.size(); i++) {
      assertThat(after[i] - before[i]).as("frames %s could not play across bob's move: %s",
          staying.get(i).userId(), staying.get(i).stats()).isZero();
    }
    assertThat(alice.client.rest().get("/api/v1/channels/" + stage.id() + "/voice")
        .path("voiceStates").findValuesAsText("userId"))
        .containsExactlyInAnyOrder(bob.userId(), dave.userId());
    assertThat(alice.client.rest().get("/api/v1/channels/" + lounge.id() + "/voice")
        .path("voiceStates").findValuesAsText("userId"))
        .containsExactlyInAnyOrder(alice.userId(), carol.userId());

    // And back: bob's device joins the lounge's group again (it was removed from it meanwhile).
    alice.client.api().moveVoice(stage.id(), bob.userId(), lounge.id());
    await("bob's call to be the lounge's again", Duration.ofSeconds(20),
        () -> lounge.id().equals(bobsCall.channelId()));
    assertThat(bobsCall.groupId()).isEqualTo(loungeGroup);
    awaitSameEpoch(lounging);
    Thread.sleep(1500);
    for (CallMember m : lounging) {
      assertHears(m, lounging.stream().filter(o -> o != m).toList());
    }
  }

  @Test
  void whenTheCallsSfuStopsTheCallMovesAndEveryoneHearsEachOtherAgain() throws Exception {
    // The call's keys may rotate on the 4 s timer meanwhile; the move itself needs none.
    CallMember alice = member("alice");
    CallMember bob = member("bob");
    CallMember carol = member("carol");
    Channel lounge = voiceChannel(alice, bob, carol);
    alice.join(lounge, 440);
    bob.join(lounge, 700);
    carol.join(lounge, 1100);
    List<CallMember> three = List.of(alice, bob, carol);
    awaitSameEpoch(three);
    for (CallMember m : three) {
      assertHears(m, three.stream().filter(o -> o != m).toList());
    }
    String call = alice.call.get().groupId(); // the call's conference has its group's id
    SelectiveForwardingUnit holding = first.conferences().holds(call) ? first : second;
    SelectiveForwardingUnit other = holding == first ? second : first;
    assertThat(holding.conferences().holds(call)).isTrue();
    assertThat(other.conferences().holds(call)).isFalse();
    long[] dropped = three.stream().mapToLong(CallMember::dropped).toArray();

    holding.close();

    await("every member to be moved to the other SFU and bound there", Duration.ofSeconds(20),
        () -> three.stream().allMatch(m -> m.call.get().engine().moves() == 1
            && m.stats().bound()));
    assertThat(other.conferences().holds(call)).isTrue();
    assertThat(other.conferences().describe(call).orElseThrow().endpoints()).hasSize(3);
    for (CallMember m : three) {
      assertThat(m.call.get().engine().server().udpPort()).isEqualTo(other.udpPort());
      assertThat(m.dispatches).anyMatch(d -> d.type().equals("VOICE_SERVER_UPDATE")
          && d.data().path("moved").asBoolean());
    }
    Thread.sleep(1500); // a second of audio through the new SFU, past the jitter buffers
    for (CallMember m : three) {
      assertHears(m, three.stream().filter(o -> o != m).toList());
    }
    for (int i = 0; i < three.size(); i++) {
      CallMember m = three.get(i);
      assertThat(m.dropped() - dropped[i]).as("frames %s could not decrypt across the move: %s",
          m.userId(), m.stats()).isZero();
    }
  }
}
