package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.TestServer;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.voice.audio.CapturingSink;
import dev.cloister.client.voice.audio.ToneSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Voice channels end to end: a real node with its own SFU, real clients (registered users with
 * enrolled devices), the gateway's {@code voice_state_update}, the call's MLS group kept by each
 * client, real UDP on loopback. Checks are on decoded audio (the share of each tone in what a
 * member heard) and on every frame a member could not decrypt.
 */
class VoiceChannelEndToEndTest {

  private static TestServer server;
  private final List<Member> members = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    // Keys rotate every 4 s here (30 s by default), so that every test also crosses rekeys.
    server = TestServer.start(java.util.Map.of("cloister.voice.rekey-interval", "4s"));
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @AfterEach
  void leave() {
    for (Member m : members) {
      m.close();
    }
  }

  /** One person in the test: a device, its gateway, and its call once joined. */
  final class Member implements AutoCloseable {
    final CloisterClient client;
    final GatewayClient gateway;
    final AtomicReference<VoiceCall> call = new AtomicReference<>();
    final List<Dispatch> dispatches = new CopyOnWriteArrayList<>();
    final CapturingSink heard = new CapturingSink(10);
    double hz;

    Member(String name) throws Exception {
      client = server.newDevice(name);
      gateway = client.gateway(new GatewayListener() {
        @Override
        public void onDispatch(Dispatch d) {
          dispatches.add(d);
          VoiceCall c = call.get();
          if (c != null) {
            c.onDispatch(d);
          }
        }
      });
      gateway.awaitReady(Duration.ofSeconds(30));
      members.add(this);
    }

    String userId() {
      return client.account().userId();
    }

    void join(Channel channel, double hz) throws Exception {
      join(channel, hz, false);
    }

    void join(Channel channel, double hz, boolean muted) throws Exception {
      this.hz = hz;
      call.set(VoiceCall.join(client, gateway, channel.guildId(), channel.id(), muted,
          VoiceCallTest.TONES, new ToneSource(hz, -12, -1), heard, new VoiceCall.Listener() {
            @Override
            public void notice(String text) {
              System.err.println("[" + userId() + "] " + text);
            }
          },
          Duration.ofSeconds(20)));
    }

    VoiceStats stats() {
      return call.get().engine().stats();
    }

    /** Frames that reached this member and could not be played for want of a key. */
    long dropped() {
      VoiceStats s = stats();
      return s.undecryptable() + s.unknownKey() + s.heldExpired();
    }

    void hangUp() throws Exception {
      call.getAndSet(null).close();
    }

    @Override
    public void close() {
      try {
        VoiceCall c = call.getAndSet(null);
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // closing anyway
      }
      gateway.close();
    }
  }

  private static void await(String what, Duration within, BooleanSupplier done)
      throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(50);
    }
  }

  /** Every member is at the same epoch of the call's group, and it has exactly them. */
  private static void awaitSameEpoch(List<Member> in) throws InterruptedException {
    try {
      await("the call's group to settle on " + in.size() + " members", Duration.ofSeconds(30),
          () -> {
            long epoch = in.get(0).stats().epoch();
            return epoch >= 0 && in.stream().allMatch(m -> m.stats().epoch() == epoch
                && m.stats().bound());
          });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; epochs: " + in.stream().map(m -> m.userId()
          + "@" + m.stats().epoch() + (m.stats().bound() ? "" : " unbound")).toList());
    }
  }

  /**
   * Within a few seconds, a second of what {@code m} heard contains each other's tone and not its
   * own (polled: on a starved 2-core machine a jitter buffer may shed a burst first).
   */
  private static void assertHears(Member m, List<Member> others) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      short[] last = m.heard.last(48_000);
      boolean all = others.stream().allMatch(o -> Tones.share(last, o.hz) > VoiceCallTest.PRESENT);
      if (all || System.nanoTime() > deadline) {
        for (Member o : others) {
          assertThat(Tones.share(last, o.hz)).as("%s hears %s Hz (%s)", m.userId(), o.hz,
              m.stats()).isGreaterThan(VoiceCallTest.PRESENT);
        }
        assertThat(Tones.share(last, m.hz)).as("%s hears itself", m.userId())
            .isLessThan(VoiceCallTest.ABSENT);
        return;
      }
      Thread.sleep(250);
    }
  }

  private Channel voiceChannel(Member owner, Member... invited) {
    Guild g = owner.client.api().createGuild("Voice " + System.nanoTime());
    Channel channel = owner.client.api().createChannel(g.id(), "Lounge", "voice", null);
    String code = owner.client.api().createInvite(g.id()).code();
    for (Member m : invited) {
      m.client.api().useInvite(code);
    }
    return channel;
  }

  @Test
  void threePeopleHearEachOtherAndAFourthJoinsAndLeavesWithoutAnyoneLosingAFrame()
      throws Exception {
    Member alice = new Member("alice");
    Member bob = new Member("bob");
    Member carol = new Member("carol");
    Member dave = new Member("dave");
    Channel lounge = voiceChannel(alice, bob, carol, dave);

    alice.join(lounge, 440);
    bob.join(lounge, 700);
    carol.join(lounge, 1100);
    List<Member> three = List.of(alice, bob, carol);
    awaitSameEpoch(three);
    Thread.sleep(1500); // a second of audio at the settled epoch, past the jitter buffers
    for (Member m : three) {
      assertHears(m, three.stream().filter(o -> o != m).toList());
    }
    // Everyone saw the others' voice states, and the joiners got where to send.
    await("voice states", Duration.ofSeconds(10), () -> alice.dispatches.stream()
        .filter(d -> d.type().equals("VOICE_STATE_UPDATE")
            && d.data().path("channelId").asText().equals(lounge.id()))
        .map(d -> d.data().path("userId").asText()).distinct().count() == 3);

    long[] before = three.stream().mapToLong(Member::dropped).toArray();
    long epochBefore = alice.stats().epoch();
    // Dave listens (muted): the SFU forwards the three loudest, and three tones already speak.
    dave.join(lounge, 1700, true);
    List<Member> four = List.of(alice, bob, carol, dave);
    awaitSameEpoch(four);
    assertThat(alice.stats().epoch()).isGreaterThan(epochBefore);
    Thread.sleep(1500);
    for (Member m : three) {
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
      Member m = three.get(i);
      assertThat(m.dropped() - before[i]).as("frames %s could not play across dave's join and "
          + "leave: %s", m.userId(), m.stats()).isZero();
      assertHears(m, three.stream().filter(o -> o != m).toList());
    }
  }

  @Test
  void keysRotateOnTheTimerWithoutAFrameLost() throws Exception {
    Member alice = new Member("alice");
    Member bob = new Member("bob");
    Channel lounge = voiceChannel(alice, bob);
    alice.join(lounge, 440);
    bob.join(lounge, 700);
    List<Member> two = List.of(alice, bob);
    awaitSameEpoch(two);
    assertHears(alice, List.of(bob));
    long[] before = two.stream().mapToLong(Member::dropped).toArray();
    long epoch = alice.stats().epoch();
    // Nobody comes or goes: only the timer (4 s here) moves the epoch, twice.
    await("two rekeys", Duration.ofSeconds(30), () -> two.stream()
        .allMatch(m -> m.stats().epoch() >= epoch + 2));
    awaitSameEpoch(two);
    for (int i = 0; i < two.size(); i++) {
      Member m = two.get(i);
      assertThat(m.dropped() - before[i]).as("frames %s could not play across rekeys: %s",
          m.userId(), m.stats()).isZero();
    }
    assertHears(alice, List.of(bob));
    assertHears(bob, List.of(alice));
  }

  @Test
  void aKickedMemberIsTakenOutOfTheCallAndCannotDecryptTheNextEpoch() throws Exception {
    Member alice = new Member("alice");
    Member bob = new Member("bob");
    Member mallory = new Member("mallory");
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
}
