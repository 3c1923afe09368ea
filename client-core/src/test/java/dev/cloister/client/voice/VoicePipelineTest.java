package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.voice.audio.Pcm;
import dev.cloister.client.voice.audio.ToneSource;
import io.github.jaredmdobson.concentus.OpusEncoder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The receive path on a simulated clock, with no network and no scheduler in the way: Opus frames
 * as the engine encodes them, lost and reordered at random, through one sender's stream (jitter
 * buffer, FEC, PLC, decoder). What it plays must still be the tone.
 */
class VoicePipelineTest {
  private static final long MS = 1_000_000L;

  private record Played(short[] audio, VoiceStats.Stream stats) {
  }

  private static Played run(double loss, double reorder, long seed) throws Exception {
    VoiceConfig config = VoiceConfig.defaults().withDtx(false).withComplexity(2);
    OpusEncoder encoder = SendPath.newEncoder(config);
    ReceiveStream stream = new ReceiveStream(42, 3, config);
    ToneSource tone = ToneSource.of(440);
    Random random = new Random(seed);
    short[] pcm = new short[Pcm.FRAME_SAMPLES];
    short[] out = new short[Pcm.FRAME_SAMPLES];
    byte[] opus = new byte[1275];
    int frames = 200; // 4 s
    short[] played = new short[frames * Pcm.FRAME_SAMPLES];
    List<byte[]> delayed = new ArrayList<>();
    List<Integer> delayedSeq = new ArrayList<>();
    long now = 0;
    for (int f = 0; f < frames; f++) {
      tone.read(pcm);
      int n = encoder.encode(pcm, 0, Pcm.FRAME_SAMPLES, opus, 0, opus.length);
      byte[] packet = java.util.Arrays.copyOf(opus, n);
      double r = random.nextDouble();
      for (int i = 0; i < delayed.size(); i++) { // a reordered frame arrives one frame late
        stream.onFrame(delayedSeq.get(i), 960L * delayedSeq.get(i), delayed.get(i), 0, delayed.get(i).length, 20, now);
      }
      delayed.clear();
      delayedSeq.clear();
      if (r < loss) {
        // lost
      } else if (r < loss + reorder) {
        delayed.add(packet);
        delayedSeq.add(f);
      } else {
        stream.onFrame(f, 960L * f, packet, 0, n, 20, now);
      }
      if (stream.playout(now, out)) {
        System.arraycopy(out, 0, played, f * Pcm.FRAME_SAMPLES, Pcm.FRAME_SAMPLES);
      }
      now += 20 * MS;
    }
    return new Played(played, stream.snapshot(now));
  }

  @Test
  void aCleanStreamIsTheToneAlone() throws Exception {
    Played p = run(0, 0, 1);
    short[] last = java.util.Arrays.copyOfRange(p.audio(), p.audio().length - Pcm.SAMPLE_RATE * 2, p.audio().length);
    assertThat(Tones.share(last, 440)).isGreaterThan(0.95);
    assertThat(p.stats().lost()).isZero();
    assertThat(p.stats().concealed() + p.stats().fecRecovered()).isZero();
  }

  @Test
  void fivePercentLossAndReorderingStayTheTone() throws Exception {
    Played p = run(0.05, 0.05, 7);
    short[] last = java.util.Arrays.copyOfRange(p.audio(), p.audio().length - Pcm.SAMPLE_RATE * 2, p.audio().length);
    VoiceStats.Stream s = p.stats();
    assertThat(s.lost()).isBetween(3L, 25L);
    assertThat(s.fecRecovered()).as("lost frames rebuilt from the next packet's FEC: %s", s).isPositive();
    assertThat(s.late()).as("one frame of reordering fits in the playout delay: %s", s).isZero();
    assertThat(Tones.share(last, 440)).as("%s", s).isGreaterThan(0.8);
  }

  @Test
  void twentyPercentLossIsStillMostlyTheTone() throws Exception {
    Played p = run(0.2, 0, 11);
    short[] last = java.util.Arrays.copyOfRange(p.audio(), p.audio().length - Pcm.SAMPLE_RATE * 2, p.audio().length);
    assertThat(Tones.share(last, 440)).as("%s", p.stats()).isGreaterThan(0.5);
  }
}
