package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.client.voice.audio.Pcm;
import dev.cloister.client.voice.audio.ToneSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Mute, deafen, DTX and consent, each against a real SFU on loopback. */
class VoiceControlsTest {
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

  private Party join(String conference, String name, double hz, AudioSource source, VoiceConfig config)
      throws Exception {
    Party p = Party.join(sfu, conference, name, hz, source, config, false);
    parties.add(p);
    p.awaitBound();
    return p;
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < end) {
      if (condition.getAsBoolean()) {
        return;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("not within 30 s: " + what);
  }

  private static long from(Party listener, int leaf) {
    return listener.engine.stats().from(leaf).map(VoiceStats.Stream::received).orElse(0L);
  }

  @Test
  void muteStopsSendingAndDeafenSilencesWhatIsHeard() throws Exception {
    VoiceGroup group = new VoiceGroup("controls", "alice");
    group.add("bob");
    Party alice = join("controls", "alice", 440, ToneSource.of(440), VoiceCallTest.TONES);
    Party bob = join("controls", "bob", 700, ToneSource.of(700), VoiceCallTest.TONES);
    alice.engine.installEpoch(group.epochOf("alice"));
    bob.engine.installEpoch(group.epochOf("bob"));
    int aliceLeaf = group.member("alice").leafIndex();
    await("bob hears alice", () -> from(bob, aliceLeaf) > 25);

    alice.engine.setMuted(true);
    await("bob hears silence once his buffer has run out", () -> Tones.power(bob.lastHeard(300)) < 1e-7);
    long sent = alice.engine.stats().framesSent();
    long heard = from(bob, aliceLeaf);
    Thread.sleep(500);
    assertThat(alice.engine.stats().framesSent()).as("muted: nothing sent").isEqualTo(sent);
    assertThat(from(bob, aliceLeaf)).isEqualTo(heard);
    assertThat(alice.engine.stats().bound()).as("consent is kept while muted").isTrue();
    // the input level is measured while muted (a level meter and push-to-talk show it): the tone
    // is loud, far above the silence (127) of an empty input
    assertThat(alice.engine.inputLevel()).as("input level of the tone while muted").isLessThan(40);
    alice.engine.setMuted(false);
    await("alice back", () -> from(bob, aliceLeaf) > heard + 10);

    bob.engine.setDeafened(true);
    long before = bob.engine.stats().decrypted();
    await("deafened: silence out", () -> Tones.power(bob.lastHeard(300)) == 0);
    assertThat(bob.engine.stats().decrypted()).as("still received").isGreaterThan(before);
    bob.engine.setDeafened(false);
    await("bob hears again", () -> Tones.share(bob.lastHeard(300), 440) > VoiceCallTest.PRESENT);
  }

  @Test
  void dtxSendsOnlyComfortNoiseUpdatesDuringSilence() throws Exception {
    VoiceGroup group = new VoiceGroup("dtx", "alice");
    group.add("bob");
    AudioSource silence = new AudioSource() {
      @Override
      public boolean read(short[] frame) {
        java.util.Arrays.fill(frame, 0, Pcm.FRAME_SAMPLES, (short) 0);
        return true;
      }

      @Override
      public String describe() {
        return "silence";
      }

      @Override
      public void close() {
      }
    };
    Party alice = join("dtx", "alice", 0, silence, VoiceConfig.defaults().withComplexity(0));
    Party bob = join("dtx", "bob", 700, ToneSource.of(700), VoiceCallTest.TONES);
    alice.engine.installEpoch(group.epochOf("alice"));
    bob.engine.installEpoch(group.epochOf("bob"));
    // Opus encodes the first few frames of silence in full before its DTX starts.
    await("alice captured 1 s", () -> alice.engine.stats().framesCaptured() >= 50);
    VoiceStats a0 = alice.engine.stats();
    await("alice captured 4 s more", () -> alice.engine.stats().framesCaptured() >= a0.framesCaptured() + 200);
    VoiceStats a = alice.engine.stats();
    long captured = a.framesCaptured() - a0.framesCaptured();
    // Only Opus's comfort-noise updates (one frame in about 21) go out.
    assertThat(a.framesSent() - a0.framesSent()).as("%s", a).isBetween(captured / 30, captured / 15);
    assertThat(a.framesNotSent() - a0.framesNotSent()).isGreaterThan(captured * 9 / 10);
  }

  @Test
  void consentIsLostWhenTheSfuForgetsTheEndpointAndMediaStops() throws Exception {
    VoiceGroup group = new VoiceGroup("consent", "alice");
    group.add("bob");
    VoiceConfig quick = VoiceCallTest.TONES.withConsent(Duration.ofMillis(200), Duration.ofSeconds(1));
    Party alice = join("consent", "alice", 440, ToneSource.of(440), quick);
    Party bob = join("consent", "bob", 700, ToneSource.of(700), quick);
    alice.engine.installEpoch(group.epochOf("alice"));
    bob.engine.installEpoch(group.epochOf("bob"));
    int aliceLeaf = group.member("alice").leafIndex();
    await("bob hears alice", () -> from(bob, aliceLeaf) > 10);
    long requests = alice.engine.stats().stunRequests();
    await("consent refreshed", () -> alice.engine.stats().stunRequests() > requests + 2);

    sfu.delete("consent", "alice"); // the entity freed the endpoint: its credentials are gone
    await("alice's consent lapses", () -> !alice.engine.stats().bound());
    Thread.sleep(100); // the media thread may have sent its tick's frame just before the lapse
    long sent = alice.engine.stats().framesSent();
    Thread.sleep(300);
    VoiceStats a = alice.engine.stats();
    assertThat(a.framesSent()).as("no media without consent").isEqualTo(sent);
    assertThat(a.stunErrors()).as("the SFU answers 401 to the unknown ufrag").isPositive();
    assertThat(bob.engine.stats().bound()).isTrue();
  }
}
