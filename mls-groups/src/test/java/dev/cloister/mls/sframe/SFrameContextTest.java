package dev.cloister.mls.sframe;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.SecureRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SFrameContextTest {
    private final SecureRandom random = new SecureRandom();

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    @ParameterizedTest
    @EnumSource(SFrameCipherSuite.class)
    void roundTripsAndRejectsTamperingReplayAndUnknownKeys(SFrameCipherSuite suite) {
        byte[] base = bytes(suite.nk);
        SFrameContext tx = new SFrameContext(suite, 4);
        SFrameContext rx = new SFrameContext(suite, 4);
        tx.addKey(7, base);
        rx.addKey(7, base);
        byte[] meta = bytes(12);
        byte[] early = null;
        for (int len : new int[] {0, 1, 15, 16, 17, 160, 1500, 5000}) {
            byte[] pt = bytes(len);
            byte[] frame = tx.encrypt(7, len, meta, pt);
            if (len == 1) {
                early = tx.encrypt(7, 2, meta, bytes(3)); // never shown to rx until it is far too old
            }
            assertThat(frame.length).isEqualTo(tx.overhead(7, len) + len);
            assertThat(rx.decrypt(meta, frame)).isEqualTo(pt);
            assertThatThrownBy(() -> rx.decrypt(meta, frame)).hasMessageContaining("replayed");
        }
        byte[] frame = tx.encrypt(7, 100_000, meta, bytes(160));
        byte[] otherMeta = meta.clone();
        otherMeta[0] ^= 1;
        assertThatThrownBy(() -> rx.decrypt(otherMeta, frame)).hasMessageContaining("authentication");
        for (int i = 0; i < frame.length; i++) {
            byte[] bad = frame.clone();
            bad[i] ^= 0x40;
            assertThatThrownBy(() -> rx.decrypt(meta, bad)).isInstanceOf(SFrameException.class);
        }
        // A failed attempt must not burn the counter.
        assertThat(rx.decrypt(meta, frame)).hasSize(160);
        byte[] tooOld = early;
        assertThatThrownBy(() -> rx.decrypt(meta, tooOld))
                .as("older than the replay window").hasMessageContaining("replayed");
        tx.addKey(8, base);
        assertThatThrownBy(() -> rx.decrypt(meta, tx.encrypt(8, 0, meta, bytes(3)))).hasMessageContaining("no key");
        assertThatThrownBy(() -> rx.decrypt(meta, new byte[] {(byte) 0x8f})).hasMessageContaining("malformed");
    }

    @ParameterizedTest
    @EnumSource(SFrameCipherSuite.class)
    void refusesToSealACounterTwiceUnderOneKid(SFrameCipherSuite suite) {
        byte[] base = bytes(suite.nk);
        SFrameContext tx = new SFrameContext(suite, 4);
        tx.addKey(7, base);
        tx.addKey(8, base);
        byte[] meta = bytes(4);
        byte[] pt = bytes(160);
        byte[] out = new byte[256];
        assertThat(tx.encrypt(7, 10, meta, 0, meta.length, pt, 0, pt.length, out, 0)).isPositive();
        byte[] before = out.clone();
        for (long ctr : new long[] {10, 9, 0}) {
            assertThat(tx.encrypt(7, ctr, meta, 0, meta.length, pt, 0, pt.length, out, 0))
                    .as("counter %d again or lower", ctr).isEqualTo(SFrameContext.ERR_COUNTER_REUSED);
            assertThat(out).as("nothing written").isEqualTo(before);
        }
        assertThatThrownBy(() -> tx.encrypt(7, 10, meta, pt)).isInstanceOf(SFrameException.class)
                .hasMessageContaining("counter already used");
        // Another KID has counters of its own; the refused KID goes on above its last counter.
        assertThat(tx.encrypt(8, 0, meta, 0, meta.length, pt, 0, pt.length, out, 0)).isPositive();
        assertThat(tx.encrypt(7, 11, meta, 0, meta.length, pt, 0, pt.length, out, 0)).isPositive();
        SFrameContext rx = new SFrameContext(suite, 4);
        rx.addKey(7, base);
        assertThat(rx.decrypt(meta, java.util.Arrays.copyOf(out, tx.overhead(7, 11) + 160))).isEqualTo(pt);
    }

    @Test
    void replayWindowAcceptsReorderedFramesOnce() {
        SFrameCipherSuite suite = SFrameCipherSuite.AES_128_GCM_SHA256_128;
        byte[] base = bytes(16);
        SFrameContext tx = new SFrameContext(suite, 1);
        SFrameContext rx = new SFrameContext(suite, 1);
        tx.addKey(1, base);
        rx.addKey(1, base);
        byte[] meta = new byte[0];
        byte[][] frames = new byte[70][];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = tx.encrypt(1, i, meta, new byte[] {(byte) i});
        }
        assertThat(rx.decrypt(meta, frames[69])).containsExactly(69);
        assertThat(rx.decrypt(meta, frames[10])).containsExactly(10);
        assertThatThrownBy(() -> rx.decrypt(meta, frames[10])).hasMessageContaining("replayed");
        assertThatThrownBy(() -> rx.decrypt(meta, frames[5])).as("64 behind").hasMessageContaining("replayed");
        // Counters near 2^64 compare as unsigned.
        byte[] high = tx.encrypt(1, -2L, meta, new byte[] {1});
        assertThat(rx.decrypt(meta, high)).containsExactly(1);
        assertThat(rx.decrypt(meta, tx.encrypt(1, -1L, meta, new byte[] {2}))).containsExactly(2);
    }

    @Test
    void keepsABoundedNumberOfKeysEvictingTheOldest() {
        SFrameContext ctx = new SFrameContext(SFrameCipherSuite.AES_128_GCM_SHA256_128, 3);
        for (long kid = 0; kid < 10; kid++) {
            ctx.addKey(kid * 1_000_003L, bytes(16));
            assertThat(ctx.keyCount()).isLessThanOrEqualTo(3);
        }
        assertThat(ctx.hasKey(9 * 1_000_003L)).isTrue();
        assertThat(ctx.hasKey(8 * 1_000_003L)).isTrue();
        assertThat(ctx.hasKey(7 * 1_000_003L)).isTrue();
        assertThat(ctx.hasKey(6 * 1_000_003L)).isFalse();
        assertThat(ctx.removeKey(8 * 1_000_003L)).isTrue();
        assertThat(ctx.hasKey(9 * 1_000_003L)).isTrue();
        assertThat(ctx.hasKey(7 * 1_000_003L)).isTrue();
        assertThat(ctx.keyCount()).isEqualTo(2);
    }

    @Test
    void mlsKidLayoutAndEpochEviction() {
        SFrameCipherSuite suite = SFrameCipherSuite.AES_128_GCM_SHA256_128;
        assertThat(MlsSFrameKeys.kid(0, 5, 0x13, 8, 4)).isEqualTo((5L << 4) + 3);
        assertThat(MlsSFrameKeys.kid(2, 5, 0x13, 8, 4)).isEqualTo((2L << 12) + (5L << 4) + 3);
        assertThatThrownBy(() -> MlsSFrameKeys.kid(0, 256, 1, 8, 4)).isInstanceOf(IllegalArgumentException.class);

        MlsSFrameKeys alice = new MlsSFrameKeys(suite, 2, 8, 3, 16);
        MlsSFrameKeys bob = new MlsSFrameKeys(suite, 2, 8, 3, 16);
        byte[] meta = {1, 2};
        byte[] k1 = bytes(16);
        alice.installEpoch(1, k1);
        bob.installEpoch(1, k1);
        byte[] f1 = alice.protect(3, meta, new byte[] {42});
        assertThat(bob.unprotect(meta, f1)).containsExactly(42);
        byte[] f1b = alice.protect(3, meta, new byte[] {43});

        byte[] k2 = bytes(16);
        alice.installEpoch(2, k2);
        bob.installEpoch(2, k2);
        assertThat(bob.unprotect(meta, alice.protect(3, meta, new byte[] {44}))).containsExactly(44);
        assertThat(bob.unprotect(meta, f1b)).as("previous epoch in grace window").containsExactly(43);

        // Epoch 5 has the same low 2 bits as epoch 1: epoch 1 must go at once.
        bob.installEpoch(5, bytes(16));
        assertThat(bob.hasEpoch(1)).isFalse();
        assertThat(bob.hasEpoch(2)).isTrue();
        assertThatThrownBy(() -> bob.unprotect(meta, f1b)).isInstanceOf(SFrameException.class);
        assertThat(bob.retainedEpochs()).containsExactly(5, 2);
    }

    @Test
    void noKidAndCounterIsEverUsedTwice() {
        SFrameCipherSuite suite = SFrameCipherSuite.AES_128_GCM_SHA256_128;
        MlsSFrameKeys alice = MlsSFrameKeys.forVoice(suite);
        SFrameHeader h = new SFrameHeader();
        byte[] meta = {};
        byte[] key = bytes(16);
        alice.installEpoch(7, key);
        byte[] first = alice.protect(3, meta, new byte[] {1});
        h.decode(first, 0, first.length);
        assertThat(h.ctr()).isZero();

        // The same epoch installed again (a client processing its commit twice) goes on counting.
        alice.installEpoch(7, key.clone());
        byte[] second = alice.protect(3, meta, new byte[] {2});
        h.decode(second, 0, second.length);
        assertThat(h.ctr()).isEqualTo(1);
        assertThatThrownBy(() -> alice.installEpoch(7, bytes(16)))
            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("another base key");

        // Switching KIDs and back resumes the counter rather than restarting it.
        alice.protect(4, meta, new byte[] {3});
        byte[] back = alice.protect(3, meta, new byte[] {4});
        h.decode(back, 0, back.length);
        assertThat(h.ctr()).isEqualTo(2);

        // Two streams of one sender differ in their KID's context bits.
        byte[] out = new byte[64];
        int n = alice.protect(1, 3, meta, 0, 0, new byte[] {5}, 0, 1, out, 0);
        h.decode(out, 0, n);
        assertThat(alice.contextOf(h.kid())).isEqualTo(1);
        assertThat(alice.senderIndexOf(h.kid())).isEqualTo(3);
        assertThat(h.ctr()).isZero();
        MlsSFrameKeys bob = MlsSFrameKeys.forVoice(suite);
        bob.installEpoch(7, key);
        assertThat(bob.unprotect(meta, java.util.Arrays.copyOf(out, n))).containsExactly(5);
    }
}
