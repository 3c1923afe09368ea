package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The jitter buffer on a simulated clock: one poll per 20 ms tick. */
class JitterBufferTest {
  private static final long MS = 1_000_000L;
  private final JitterBuffer buffer = new JitterBuffer(2, 10, 5);
  private long now = 1_000 * MS;
  private final long base = 0xFFFF_F000L; // the RTP timestamp wraps a few frames in

  private int put(int frame) {
    byte[] opus = {(byte) (frame >> 8), (byte) frame, 2};
    return buffer.put((base + 960L * frame) & 0xFFFF_FFFFL, opus, 0, opus.length, now);
  }

  /** Polls one tick; returns "F3" (frame 3), "E4" (FEC from frame 4), "P" (PLC) or "-" (nothing). */
  private String tick() {
    int what = buffer.poll(now);
    now += 20 * MS;
    return switch (what) {
      case JitterBuffer.FRAME -> "F" + frameIn(buffer.data());
      case JitterBuffer.FEC -> "E" + frameIn(buffer.data());
      case JitterBuffer.PLC -> "P";
      default -> "-";
    };
  }

  private static int frameIn(byte[] opus) {
    return (opus[0] & 0xFF) << 8 | (opus[1] & 0xFF);
  }

  private String ticks(int n) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "" : " ").append(tick());
    }
    return b.toString();
  }

  @Test
  void playsInOrderAfterThePlayoutDelayAcrossATimestampWrap() {
    StringBuilder played = new StringBuilder();
    for (int f = 0; f < 10; f++) {
      put(f); // one frame per tick, as a sender sends them
      played.append(f == 0 ? "" : " ").append(tick());
    }
    assertThat(played.toString()).isEqualTo("- - F0 F1 F2 F3 F4 F5 F6 F7");
    assertThat(buffer.skipped()).isZero();
  }

  @Test
  void reorderedFramesArePlayedInOrder() {
    put(1);
    put(0);
    put(3);
    put(2);
    assertThat(ticks(6)).isEqualTo("- - F0 F1 F2 F3");
  }

  @Test
  void aLostFrameIsRebuiltFromTheNextOnesFecOrConcealed() {
    put(0);
    put(2);
    put(5);
    put(6);
    // 1 is lost, 2 carries its FEC; 3 and 4 are lost, only 4 has a successor with FEC
    assertThat(ticks(9)).isEqualTo("- - F0 E2 F2 P E5 F5 F6");
  }

  @Test
  void aLateNetworkStretchesThePlayoutInsteadOfLosingTheFrame() {
    put(0);
    assertThat(ticks(4)).isEqualTo("- - F0 P");
    assertThat(buffer.target()).isEqualTo(3);
    put(1); // arrives late, but the playout waited for it
    put(2);
    assertThat(ticks(2)).isEqualTo("F1 F2");
    assertThat(put(0)).isEqualTo(JitterBuffer.PUT_LATE);
  }

  @Test
  void aStreamThatStopsPausesAfterTheConcealmentLimitAndRestartsLater() {
    put(0);
    assertThat(ticks(3 + 5 + 2)).isEqualTo("- - F0 P P P P P - -");
    assertThat(buffer.playing()).isFalse();
    put(500); // DTX or a return to the top speakers: a fresh playout
    assertThat(ticks(4)).isEqualTo("- - - F500");
  }

  @Test
  void duplicatesAreRefusedAndAJumpFarAheadRestarts() {
    put(0);
    assertThat(put(0)).isEqualTo(JitterBuffer.PUT_DUPLICATE);
    assertThat(ticks(3)).isEqualTo("- - F0");
    assertThat(put(1000)).isEqualTo(JitterBuffer.PUT_RESTART);
    assertThat(ticks(4)).contains("F1000");
  }

  @Test
  void aBacklogBeyondTheTargetIsShedOneFramePerTick() {
    for (int f = 0; f < 12; f++) {
      put(f);
    }
    String played = ticks(12);
    assertThat(buffer.skipped()).isPositive();
    assertThat(buffer.queued()).isLessThanOrEqualTo(buffer.target() + 4);
    assertThat(played).startsWith("- - F");
  }
}
