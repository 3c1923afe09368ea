package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.voice.audio.Pcm;
import dev.cloister.client.voice.audio.ToneSource;
import dev.cloister.sfu.stun.StunMessage;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsGroupException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Voice engines in a real call: a real voice-sfu on loopback (endpoints from its HTTP control
 * API), real UDP, STUN binding, Opus, SFrame keyed from a real MLS group run through mls-groups'
 * delivery service. Every check is on decoded audio (the share of a tone in what a party heard)
 * or on the counters the engine keeps of what it dropped.
 */
class VoiceCallTest {
  /**
   * Opus's voice activity detector takes a steady tone for background noise, so with DTX on a
   * tone is mostly not sent: the tone tests turn DTX off ({@code VoiceControlsTest}
   * covers DTX). Complexity 0 keeps three encoders in one JVM real-time on a busy 2-core machine.
   */
  static final VoiceConfig TONES = VoiceConfig.defaults().withDtx(false).withComplexity(0);
  /**
   * A tone is heard when at least this share of the power is at its frequency (a clean two-tone
   * mix gives about 0.5 each; concealment and jitter-buffer skips on a starved machine lower it),
   * and not heard below {@link #ABSENT}: broadband noise puts well under 1e-4 in one Hann-windowed
   * Goertzel bin over a second, and another tone 260 Hz away leaks less than that.
   */
  static final double PRESENT = 0.02;
  static final double ABSENT = 0.002;
  private static SfuFixture sfu;
  private final List<Party> parties = new ArrayList<>();

  @BeforeAll
  static void startSfu() throws Exception {
    sfu = new SfuFixture();
  }

  @AfterAll
  static void stopSfu() {
    sfu.close();
  }

  @AfterEach
  void leave() throws Exception {
    for (Party p : parties) {
      p.close();
    }
  }

  private Party join(String conference, String name, double hz, long frames, VoiceConfig config, boolean impaired)
      throws Exception {
    Party p = Party.join(sfu, conference, name, hz, new ToneSource(hz, -12, frames), config, impaired);
    parties.add(p);
    return p;
  }

  private static void install(VoiceGroup group, Party... ps) throws MlsGroupException {
    for (Party p : ps) {
      p.engine.installEpoch(group.epochOf(p.name));
    }
  }

  private static int leaf(VoiceGroup group, String name) {
    return group.member(name).leafIndex();
  }

  @Test
  void threePeopleEachHearTheOtherTwoAndNotThemselves() throws Exception {
    VoiceGroup group = new VoiceGroup("three", "alice");
    group.add("bob");
    group.add("carol");
    Party alice = join("three", "alice", 440, -1, TONES, false);
    Party bob = join("three", "bob", 700, -1, TONES, false);
    Party carol = join("three", "carol", 1100, -1, TONES, false);
    install(group, alice, bob, carol);
    for (Party p : parties) {
      p.awaitBound();
    }
    awaitPlayed(150);

    for (Party p : parties) {
      short[] heard = p.lastHeard(1000);
      VoiceStats s = p.engine.stats();
      for (Party other : parties) {
        double share = Tones.share(heard, other.hz);
        if (other == p) {
          assertThat(share).as("%s hears its own %s Hz", p.name, other.hz).isLessThan(ABSENT);
        } else {
          // Two tones mixed: each is about half the power when nothing is concealed.
          assertThat(share).as("%s hears %s's %s Hz (%s)", p.name, other.name, other.hz, s).isGreaterThan(PRESENT);
          VoiceStats.Stream from = s.from(leaf(group, other.name)).orElseThrow();
          assertThat(from.lost()).as("%s from %s", p.name, other.name).isZero();
          assertThat(from.played()).as("%s", from).isGreaterThan(50);
        }
      }
      assertThat(s.streams()).hasSize(2);
      assertThat(s.undecryptable()).as("%s", s).isZero();
      assertThat(s.epoch()).isEqualTo(group.member(p.name).epoch());
      assertThat(s.framesSent()).isGreaterThan(50);
    }
    // What the SFU saw: three bound endpoints, every one forwarded to the other two.
    var conference = sfu.conference("three");
    assertThat(conference.get("endpoints")).hasSize(3);
    conference.get("endpoints").forEach(e -> assertThat(e.get("bound").asBoolean()).isTrue());
  }

  /**
   * What the SFU forwards is SFrame ciphertext: an eavesdropper bound into the conference (as an
   * SFU operator or anyone holding an endpoint's credentials could be) receives every forwarded
   * packet, and no tone is in them however it decodes them, while the members hear each other.
   */
  @Test
  void whatTheSfuForwardsIsCiphertextThatNoToneCanBeHeardIn() throws Exception {
    VoiceGroup group = new VoiceGroup("wire", "alice");
    group.add("bob");
    Party alice = join("wire", "alice", 440, -1, TONES, false);
    Party bob = join("wire", "bob", 700, -1, TONES, false);
    install(group, alice, bob);
    alice.awaitBound();
    bob.awaitBound();

    Map<Integer, List<byte[]>> payloads = new HashMap<>();
    VoiceServer eve = sfu.allocate("wire", "eve");
    StunBinding binding = new StunBinding(eve, TONES, new java.security.SecureRandom());
    dev.cloister.sfu.rtp.RtpPacket rtp = new dev.cloister.sfu.rtp.RtpPacket();
    dev.cloister.mls.sframe.SFrameHeader header = new dev.cloister.mls.sframe.SFrameHeader();
    int notSFrame = 0;
    try (java.nio.channels.DatagramChannel socket = java.nio.channels.DatagramChannel.open()) {
      socket.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
      socket.configureBlocking(false);
      byte[] buf = new byte[1600];
      java.nio.ByteBuffer in = java.nio.ByteBuffer.wrap(buf);
      long end = System.nanoTime() + Duration.ofSeconds(3).toNanos();
      while (System.nanoTime() < end) {
        long now = System.nanoTime();
        int n = binding.poll(now, buf);
        if (n > 0) {
          socket.send(java.nio.ByteBuffer.wrap(buf, 0, n), eve.address());
        }
        in.clear();
        if (socket.receive(in) == null) {
          Thread.sleep(2);
          continue;
        }
        int len = in.position();
        if (StunMessage.looksLikeStun(buf, 0, len)) {
          binding.onMessage(buf, 0, len, now);
        } else if (rtp.wrap(buf, 0, len) && rtp.payloadType() == VoiceEngine.OPUS_PAYLOAD_TYPE) {
          if (header.decode(buf, rtp.payloadOffset(), rtp.payloadLength()) < 0) {
            notSFrame++;
          }
          payloads.computeIfAbsent(rtp.ssrc(), k -> new ArrayList<>()).add(java.util.Arrays
              .copyOfRange(buf, rtp.payloadOffset(), rtp.payloadOffset() + rtp.payloadLength()));
        }
      }
    }
    assertThat(payloads.keySet()).as("forwarded to the eavesdropper: both speakers")
        .containsExactlyInAnyOrder(alice.engine.server().ssrcInt(), bob.engine.server().ssrcInt());
    assertThat(notSFrame).as("every payload starts with an SFrame header").isZero();
    for (Map.Entry<Integer, List<byte[]>> e : payloads.entrySet()) {
      assertThat(e.getValue()).hasSizeGreaterThan(50);
      // Taken as Opus, as an SFU that read media would: undecodable, or noise with no tone in it.
      io.github.jaredmdobson.concentus.OpusDecoder opus =
          new io.github.jaredmdobson.concentus.OpusDecoder(Pcm.SAMPLE_RATE, 1);
      short[] pcm = new short[e.getValue().size() * Pcm.FRAME_SAMPLES];
      int at = 0;
      for (byte[] payload : e.getValue()) {
        try {
          opus.decode(payload, 0, payload.length, pcm, at, Pcm.FRAME_SAMPLES, false);
        } catch (io.github.jaredmdobson.concentus.OpusException | RuntimeException notOpus) {
          // left silent
        }
        at += Pcm.FRAME_SAMPLES;
      }
      for (Party p : List.of(alice, bob)) {
        assertThat(Tones.share(pcm, p.hz)).as("%s Hz in what the SFU forwarded", p.hz)
            .isLessThan(ABSENT);
      }
    }
    // The same packets, to members with the keys, are the tones.
    assertThat(Tones.share(alice.lastHeard(1000), bob.hz)).isGreaterThan(PRESENT);
    assertThat(Tones.share(bob.lastHeard(1000), alice.hz)).isGreaterThan(PRESENT);
  }

  @Test
  void aRekeyMidStreamLosesNoFrameEvenForAReceiverThatIsLate() throws Exception {
    VoiceGroup group = new VoiceGroup("rekey", "alice");
    group.add("bob");
    group.add("carol");
    long frames = 150; // 3 s each, then the sources end, so every frame sent can be accounted for
    Party alice = join("rekey", "alice", 440, frames, TONES, false);
    Party bob = join("rekey", "bob", 700, frames, TONES, false);
    Party carol = join("rekey", "carol", 1100, frames, TONES, false);
    for (Party p : parties) {
      p.awaitBound();
    }
    install(group, alice, bob, carol);
    long before = group.member("alice").epoch();
    awaitPlayed(25);

    // What each heard before the rekey, then what each had sent (in that order, so every frame
    // sent after the second snapshot arrives after the first).
    Map<String, Long> receivedBefore = new HashMap<>();
    for (Party p : parties) {
      for (Party other : parties) {
        if (other != p) {
          receivedBefore.put(p.name + "<" + other.name,
              p.engine.stats().from(leaf(group, other.name)).map(VoiceStats.Stream::received).orElse(0L));
        }
      }
    }
    Map<String, Long> sentBefore = new HashMap<>();
    for (Party p : parties) {
      sentBefore.put(p.name, p.engine.stats().framesSent());
    }
    group.add("dave"); // a member joins (not live here): a new epoch for everyone who stays
    VoiceEpoch next = group.epochOf("alice");
    assertThat(next.epoch()).isEqualTo(before + 1);
    alice.engine.installEpoch(group.epochOf("alice"));
    carol.engine.installEpoch(group.epochOf("carol"));
    Thread.sleep(150); // bob processes the commit 150 ms after the others started sending under it
    bob.engine.installEpoch(group.epochOf("bob"));
    alice.engine.installEpoch(group.epochOf("alice")); // the same epoch again: no effect, no counter reset
    assertThatThrownBy(() -> alice.engine.installEpoch(new VoiceEpoch(before, 0, new byte[16])))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("older");
    assertThatThrownBy(() -> alice.engine.installEpoch(new VoiceEpoch(before + 1, 0, new byte[16])))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("another key");

    awaitSourcesEnded();
    awaitQuiet();
    for (Party p : parties) {
      VoiceStats s = p.engine.stats();
      assertThat(s.epoch()).isEqualTo(before + 1);
      assertThat(s.undecryptable()).as("%s: %s", p.name, s).isZero();
      for (Party other : parties) {
        if (other == p) {
          continue;
        }
        VoiceStats.Stream from = s.from(leaf(group, other.name)).orElseThrow();
        long sent = other.engine.stats().framesSent();
        assertThat(from.lost()).as("%s from %s: %s", p.name, other.name, from).isZero();
        assertThat(from.late()).as("%s from %s: %s", p.name, other.name, from).isZero();
        // Every frame sent from the rekey on arrived and opened.
        assertThat(from.received() - receivedBefore.get(p.name + "<" + other.name))
            .as("%s from %s: %s, sent %d", p.name, other.name, from, sent)
            .isGreaterThanOrEqualTo(sent - sentBefore.get(other.name));
        assertThat(from.received()).isLessThanOrEqualTo(sent);
        // Played, or skipped by the jitter buffer to shed delay (a busy machine stalls the media threads).
        assertThat(from.played() + from.fecRecovered() + from.skipped()).as("%s", from)
            .isGreaterThanOrEqualTo(from.received() - 1);
      }
    }
    assertThat(bob.engine.stats().heldThenDecrypted())
        .as("bob held the frames of the epoch he had not reached, then opened them").isPositive();
    assertThat(alice.engine.stats().replayed()).isZero();
  }

  /**
   * Waits until every party has played at least {@code frames} frames of every other party (at
   * most 60 s): a busy machine slows the media threads down, and the checks are about what was
   * heard, not how fast.
   */
  private void awaitPlayed(long frames) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < end) {
      boolean all = true;
      for (Party p : parties) {
        VoiceStats s = p.engine.stats();
        all &= s.streams().size() == parties.size() - 1;
        for (VoiceStats.Stream st : s.streams()) {
          all &= st.played() + st.fecRecovered() + st.concealed() >= frames;
        }
      }
      if (all) {
        return;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("not every party played " + frames + " frames of every other within 60 s");
  }

  /** Waits until nobody has decrypted anything for 1.5 s (at most 30 s): a starved media thread may pause. */
  private void awaitQuiet() throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    long last = -1;
    while (System.nanoTime() < end) {
      long sum = 0;
      for (Party p : parties) {
        sum += p.engine.stats().decrypted();
      }
      if (sum == last) {
        return;
      }
      last = sum;
      Thread.sleep(1500);
    }
    throw new AssertionError("frames still arriving after 30 s");
  }

  private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < end) {
      if (condition.getAsBoolean()) {
        return;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("not within 30 s: " + what);
  }

  private void awaitSourcesEnded() throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (System.nanoTime() < end) {
      boolean all = true;
      for (Party p : parties) {
        all &= p.engine.stats().framesCaptured() == 150;
      }
      if (all) {
        return;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("sources did not end");
  }

  @Test
  void aRemovedMemberNeitherHearsNorIsHeardOnceTheGraceEnds() throws Exception {
    VoiceGroup group = new VoiceGroup("removal", "alice");
    group.add("bob");
    group.add("carol");
    VoiceConfig config = TONES.withEpochGrace(Duration.ofMillis(300));
    Party alice = join("removal", "alice", 440, -1, config, false);
    Party bob = join("removal", "bob", 700, -1, config, false);
    Party carol = join("removal", "carol", 1100, -1, config, false);
    for (Party p : parties) {
      p.awaitBound();
    }
    install(group, alice, bob, carol);
    awaitPlayed(50);
    await("carol hears alice", () -> Tones.share(carol.lastHeard(1000), 440) > PRESENT);

    int carolLeaf = leaf(group, "carol");
    GroupMember gone = group.remove("carol");
    assertThat(gone.status()).isEqualTo(GroupMember.Status.REMOVED);
    assertThatThrownBy(() -> VoiceEpoch.of(gone)).isInstanceOf(MlsGroupException.class);
    install(group, alice, bob);
    // carol's client goes on sending under the epoch it has; the SFU still forwards her (the
    // entity's removal of her endpoint is not part of this test: the keys alone lock her out).
    Thread.sleep(1200); // past the grace, and past what was in flight
    long carolOpened = carol.engine.stats().decrypted();
    Map<String, Long> fromCarol = new HashMap<>();
    for (Party p : List.of(alice, bob)) {
      fromCarol.put(p.name, p.engine.stats().from(carolLeaf).orElseThrow().received());
    }
    Thread.sleep(1000);

    VoiceStats c = carol.engine.stats();
    assertThat(c.decrypted()).as("carol opens nothing of the new epoch: %s", c).isEqualTo(carolOpened);
    assertThat(c.heldExpired()).as("new-epoch frames carol waited for in vain").isPositive();
    await("carol hears silence", () -> Tones.power(carol.lastHeard(500)) < 1e-6);
    for (Party p : List.of(alice, bob)) {
      VoiceStats s = p.engine.stats();
      assertThat(s.unknownKey()).as("%s drops carol's old-epoch frames after the grace: %s", p.name, s).isPositive();
      assertThat(s.from(carolLeaf).orElseThrow().received()).as("%s opens nothing more of carol's", p.name)
          .isEqualTo(fromCarol.get(p.name));
      await(p.name + " no longer hears carol", () -> Tones.share(p.lastHeard(500), 1100) < ABSENT);
      Party other = p == alice ? bob : alice;
      await(p.name + " still hears " + other.name, () -> Tones.share(p.lastHeard(500), other.hz) > PRESENT);
      assertThat(s.forged() + s.replayed()).isZero();
    }
  }

  @Test
  void junkForgedAndReplayedPacketsAreDroppedSilentlyAndCounted() throws Exception {
    VoiceGroup group = new VoiceGroup("attack", "alice");
    group.add("bob");
    Party alice = join("attack", "alice", 440, -1, TONES, false);
    Party bob = join("attack", "bob", 700, -1, TONES, true);
    bob.path.impair(new ImpairedPath.Impairment(0, 0, 0.1, 0.1, 0.1), ImpairedPath.Impairment.NONE);
    for (Party p : parties) {
      p.awaitBound();
    }
    install(group, alice, bob);
    awaitPlayed(1);
    // Junk from an address that is not the SFU's, straight at bob's socket.
    try (var stranger = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
      for (int i = 0; i < 20; i++) {
        byte[] junk = new byte[100 + i];
        new java.util.Random(i).nextBytes(junk);
        junk[0] = (byte) 0x80; // looks like RTP
        stranger.send(new java.net.DatagramPacket(junk, junk.length, bob.engine.localAddress()));
      }
    }
    awaitPlayed(120);

    VoiceStats s = bob.engine.stats();
    assertThat(s.foreignSource()).isEqualTo(20);
    assertThat(s.replayed()).as("%s", s).isPositive().isLessThanOrEqualTo(bob.path.replayed.get());
    assertThat(s.forged()).as("%s", s).isPositive().isLessThanOrEqualTo(bob.path.forged.get());
    assertThat(s.malformed()).as("%s", s).isPositive().isLessThanOrEqualTo(bob.path.junk.get());
    assertThat(s.unknownKey() + s.heldExpired()).isZero();
    VoiceStats.Stream fromAlice = s.from(leaf(group, "alice")).orElseThrow();
    assertThat(fromAlice.lost()).as("every genuine frame got through: %s", fromAlice).isZero();
    assertThat(fromAlice.received()).isEqualTo(s.decrypted());
    assertThat(Tones.share(bob.lastHeard(1000), 440)).as("bob hears alice undisturbed").isGreaterThan(PRESENT);
    assertThat(Tones.share(bob.lastHeard(1000), 700)).as("bob does not hear himself").isLessThan(ABSENT);
    assertThat(bob.engine.running()).isTrue();
  }

  @Test
  void fivePercentLossAndReorderingBothWaysAreConcealed() throws Exception {
    VoiceGroup group = new VoiceGroup("lossy", "alice");
    group.add("bob");
    Party alice = join("lossy", "alice", 440, -1, TONES, false);
    Party bob = join("lossy", "bob", 700, -1, TONES, true);
    ImpairedPath.Impairment bad = new ImpairedPath.Impairment(0.05, 0.05, 0, 0, 0);
    bob.path.impair(bad, bad);
    for (Party p : parties) {
      p.awaitBound();
    }
    install(group, alice, bob);
    awaitPlayed(170);

    for (Party p : parties) {
      Party other = p == alice ? bob : alice;
      VoiceStats s = p.engine.stats();
      VoiceStats.Stream from = s.from(leaf(group, other.name)).orElseThrow();
      assertThat(from.lost()).as("%s from %s: %s", p.name, other.name, from).isPositive();
      assertThat(from.fecRecovered() + from.concealed()).as("%s", from).isPositive();
      assertThat(from.late()).as("%s", from).isLessThan(from.received() / 20);
      assertThat(s.undecryptable()).isZero();
      assertThat(Tones.share(p.lastHeard(1500), other.hz)).as("%s hears %s through the loss", p.name, other.name)
          .isGreaterThan(PRESENT);
      assertThat(Tones.share(p.lastHeard(1500), p.hz)).isLessThan(ABSENT);
    }
    assertThat(bob.path.dropped.get()).isPositive();
    assertThat(bob.path.reordered.get()).isPositive();
  }
}
