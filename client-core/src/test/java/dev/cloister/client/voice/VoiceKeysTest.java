package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.sframe.SFrameContext;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Epoch keys as the engine uses them: one device sending, another receiving, on a simulated clock. */
class VoiceKeysTest {
  private static final long MS = 1_000_000L;
  private final byte[] meta = {1, 2, 3, 4, 5, 6, 7, 8};
  private final byte[] opus = "an opus frame".getBytes();
  private final byte[] frame = new byte[200];
  private final byte[] plain = new byte[200];

  private static VoiceEpoch epoch(long n, int sender) {
    byte[] key = new byte[16];
    Arrays.fill(key, (byte) n);
    return new VoiceEpoch(n, sender, key);
  }

  private int seal(VoiceKeys k) {
    return k.protect(meta, 0, 8, opus, 0, opus.length, frame, 0);
  }

  private int open(VoiceKeys k, int len) {
    return k.unprotect(meta, 0, 8, frame, 0, len, plain, 0);
  }

  @Test
  void thePreviousEpochOpensDuringTheGraceAndNotAfter() {
    VoiceKeys alice = new VoiceKeys(300 * MS);
    VoiceKeys bob = new VoiceKeys(300 * MS);
    alice.install(epoch(5, 0), 0);
    bob.install(epoch(5, 1), 0);
    int old = seal(alice);
    assertThat(open(bob, old)).isEqualTo(opus.length);

    bob.install(epoch(6, 1), 1000 * MS);
    int stillOld = seal(alice); // alice has not processed the commit yet
    bob.expire(1200 * MS);
    assertThat(open(bob, stillOld)).as("inside the grace").isEqualTo(opus.length);
    int late = seal(alice);
    bob.expire(1300 * MS);
    assertThat(bob.previousEpoch()).isEqualTo(-1);
    assertThat(open(bob, late)).as("after the grace").isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
    assertThat(bob.mayBeAhead(frame, 0, late)).as("epoch 5 is behind bob, not ahead").isFalse();
  }

  /**
   * A burst of commits (joins arriving one after another): bob passes through epochs 6, 7 and 8
   * at once while alice, slower, still sends under 6. Every epoch bob passed keeps its grace from
   * when it was replaced, not only the last one.
   */
  @Test
  void everyEpochOfABurstOpensThroughItsGrace() {
    VoiceKeys alice = new VoiceKeys(300 * MS);
    VoiceKeys bob = new VoiceKeys(300 * MS);
    alice.install(epoch(5, 0), 0);
    bob.install(epoch(5, 1), 0);
    alice.install(epoch(6, 0), 1000 * MS);
    bob.install(epoch(6, 1), 1000 * MS);
    bob.install(epoch(7, 1), 1001 * MS);
    bob.install(epoch(8, 1), 1002 * MS);
    int atSix = seal(alice);
    bob.expire(1250 * MS);
    assertThat(open(bob, atSix)).as("epoch 6, two commits behind bob").isEqualTo(opus.length);
    int late = seal(alice);
    bob.expire(1400 * MS);
    assertThat(bob.previousEpoch()).isEqualTo(-1);
    assertThat(open(bob, late)).as("after the grace").isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
  }

  /**
   * The agreed switch: alice takes the commit at once, bob 200 ms later; both switch at the moment
   * they heard of it plus 300 ms. Alice's frames stay on epoch 5 until then, so bob opens every
   * one without holding any; after the switch both send under 6, and 5 opens until the grace
   * after the switch, not after bob's install.
   */
  @Test
  void sendingMovesToANewEpochAtTheAgreedSwitchAndTheOldOneOpensUntilTheGraceAfterIt() {
    VoiceKeys alice = new VoiceKeys(300 * MS);
    VoiceKeys bob = new VoiceKeys(300 * MS);
    alice.install(epoch(5, 0), 0);
    bob.install(epoch(5, 1), 0);
    long heard = 1000 * MS;
    alice.install(epoch(6, 0), 1010 * MS, heard + 300 * MS);
    assertThat(alice.current().epoch()).isEqualTo(6);
    assertThat(alice.sending().epoch()).as("before the switch").isEqualTo(5);
    int beforeSwitch = seal(alice);
    bob.expire(1100 * MS); // bob has not taken the commit: the frame is one he can open
    assertThat(open(bob, beforeSwitch)).isEqualTo(opus.length);

    bob.install(epoch(6, 1), 1210 * MS, heard + 300 * MS);
    alice.expire(1300 * MS);
    assertThat(alice.sending().epoch()).as("at the switch").isEqualTo(6);
    assertThat(open(bob, seal(alice))).isEqualTo(opus.length);
    bob.expire(1300 * MS);
    assertThat(bob.sending().epoch()).isEqualTo(6);

    // Carol, slower still, sends under 5 until she takes the commit at 1.55 s: bob opens it,
    // since 5 lasts until 1.3 s + 300 ms, not 1.21 s + 300 ms.
    VoiceKeys carol = new VoiceKeys(300 * MS);
    carol.install(epoch(5, 2), 0);
    int carolLate = seal(carol);
    bob.expire(1550 * MS);
    assertThat(open(bob, carolLate)).isEqualTo(opus.length);
    bob.expire(1600 * MS);
    assertThat(open(bob, seal(carol))).as("after the grace").isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
  }

  /**
   * A KID naming a leaf the epoch's tree does not have is refused before any key is derived for
   * it: a forged sender costs a receiver little (a real one at leaf 1 still opens).
   */
  @Test
  void aFrameFromALeafBeyondTheTreeIsRefusedUnopened() {
    byte[] key = new byte[16];
    Arrays.fill(key, (byte) 5);
    VoiceKeys bob = new VoiceKeys(300 * MS);
    bob.install(new VoiceEpoch(5, 1, key, 2), 0);
    VoiceKeys alice = new VoiceKeys(300 * MS);
    alice.install(new VoiceEpoch(5, 0, key, 2), 0);
    assertThat(open(bob, seal(alice))).isEqualTo(opus.length);
    VoiceKeys forger = new VoiceKeys(300 * MS);
    forger.install(new VoiceEpoch(5, 7, key, 8), 0); // even with the epoch's key
    assertThat(open(bob, seal(forger))).isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
  }

  /** A member who just joined sends nothing until its first epoch's switch: nobody could open it. */
  @Test
  void aJoinerWaitsForTheSwitchBeforeItsFirstFrame() {
    VoiceKeys joiner = new VoiceKeys(300 * MS);
    joiner.install(epoch(3, 4), 1000 * MS, 1300 * MS);
    assertThat(joiner.sending()).isNull();
    assertThat(seal(joiner)).isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
    joiner.expire(1300 * MS);
    assertThat(joiner.sending().epoch()).isEqualTo(3);
    assertThat(seal(joiner)).isPositive();
  }

  /**
   * A burst taken late: epoch 7 is due at 1.3 s, then 8 is taken at 1.5 s (past its switch): sending
   * goes straight to 8, and a counter of 8 never restarts when 8 is given again.
   */
  @Test
  void aNewerEpochAlreadyDueSupersedesOnesStillWaiting() {
    VoiceKeys alice = new VoiceKeys(300 * MS);
    alice.install(epoch(6, 0), 0);
    alice.install(epoch(7, 0), 1000 * MS, 2000 * MS);
    alice.install(epoch(8, 0), 1500 * MS, 1400 * MS);
    assertThat(alice.sending().epoch()).isEqualTo(8);
    alice.expire(2100 * MS);
    assertThat(alice.sending().epoch()).as("7 never comes back").isEqualTo(8);
    int first = seal(alice);
    byte[] one = Arrays.copyOf(frame, first);
    assertThat(alice.install(epoch(8, 0), 2200 * MS, 2200 * MS)).isEqualTo(VoiceKeys.Installed.SAME);
    int second = seal(alice);
    assertThat(Arrays.copyOf(frame, second)).as("a new counter, not the same nonce")
        .isNotEqualTo(one);
  }

  @Test
  void aFrameOfAnEpochNotReachedYetIsWorthHolding() {
    VoiceKeys alice = new VoiceKeys(300 * MS);
    VoiceKeys bob = new VoiceKeys(300 * MS);
    alice.install(epoch(7, 0), 0);
    bob.install(epoch(6, 1), 0);
    int ahead = seal(alice);
    assertThat(open(bob, ahead)).isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
    assertThat(bob.mayBeAhead(frame, 0, ahead)).isTrue();
    bob.install(epoch(7, 1), 10 * MS);
    assertThat(open(bob, ahead)).isEqualTo(opus.length);
    assertThat(bob.senderOf(frame, 0, ahead)).isZero();
  }

  @Test
  void installingTheSameEpochAgainKeepsTheCounterSoNoNonceRepeats() {
    VoiceKeys alice = new VoiceKeys(300 * MS);
    VoiceKeys bob = new VoiceKeys(300 * MS);
    alice.install(epoch(3, 0), 0);
    bob.install(epoch(3, 1), 0);
    int first = seal(alice);
    assertThat(open(bob, first)).isPositive();
    assertThat(alice.install(epoch(3, 0), 5 * MS)).isEqualTo(VoiceKeys.Installed.SAME);
    int second = seal(alice);
    assertThat(open(bob, second)).as("a restarted counter would be refused as a replay").isPositive();
    assertThat(open(bob, second)).isEqualTo(SFrameContext.ERR_REPLAY);
  }

  @Test
  void olderEpochsAndASecondKeyForAnEpochAreRefused() {
    VoiceKeys k = new VoiceKeys(0);
    k.install(epoch(9, 0), 0);
    assertThatThrownBy(() -> k.install(epoch(8, 0), 0)).hasMessageContaining("older");
    byte[] other = new byte[16];
    assertThatThrownBy(() -> k.install(new VoiceEpoch(9, 0, other), 0)).hasMessageContaining("another key");
    assertThatThrownBy(() -> new VoiceEpoch(1, 70_000, other)).hasMessageContaining("16 bits");
    assertThatThrownBy(() -> new VoiceEpoch(1, 0, new byte[15])).hasMessageContaining("16 bytes");
  }

  @Test
  void nothingIsSealedBeforeTheFirstEpochAndATamperedFrameDoesNotOpen() {
    VoiceKeys k = new VoiceKeys(0);
    assertThat(seal(k)).isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
    k.install(epoch(1, 0), 0);
    VoiceKeys r = new VoiceKeys(0);
    r.install(epoch(1, 1), 0);
    int n = seal(k);
    frame[n - 1] ^= 1;
    assertThat(open(r, n)).isEqualTo(SFrameContext.ERR_AUTH);
    frame[n - 1] ^= 1;
    meta[0] ^= 1; // the SSRC and timestamp are authenticated too
    assertThat(open(r, n)).isEqualTo(SFrameContext.ERR_AUTH);
  }
}
