package dev.cloister.mls.sframe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.bouncycastle.crypto.modes.gcm.BasicGCMMultiplier;
import org.junit.jupiter.api.Test;

/**
 * Both of {@link Ghash}'s multipliers (the small table a trial key starts with, the 64 KiB table it
 * gets once verified) against Bouncy Castle's reference multiplication, also when one Ghash is
 * widened and re-keyed in the middle of its life.
 */
class GhashTest {
    private final Random random = new Random(9605);

    @Test
    void smallAndWideTablesMultiplyAsTheReference() {
        for (int key = 0; key < 200; key++) {
            byte[] h = new byte[16];
            random.nextBytes(h);
            if (key == 0) {
                h[0] = (byte) 0x80; // H = 1: each block's product is the block itself
            } else if (key == 1) {
                java.util.Arrays.fill(h, (byte) 0xFF);
            }
            BasicGCMMultiplier reference = new BasicGCMMultiplier();
            reference.init(h);
            Ghash small = new Ghash(h, false);
            Ghash wide = new Ghash(h, true);
            assertThat(small.wide()).isFalse();
            assertThat(wide.wide()).isTrue();
            byte[] y = new byte[16];
            for (int block = 0; block < 20; block++) {
                byte[] x = new byte[16];
                random.nextBytes(x);
                if (block == 0) {
                    java.util.Arrays.fill(x, (byte) 0);
                    x[15] = 1; // the highest power of x alone: the reduction of every nibble step
                }
                for (int i = 0; i < 16; i++) {
                    y[i] ^= x[i];
                }
                reference.multiplyH(y);
                small.block(x, 0);
                wide.block(x, 0);
                assertThat(small.high()).isEqualTo((long) FrameAead.BIG.get(y, 0));
                assertThat(small.low()).isEqualTo((long) FrameAead.BIG.get(y, 8));
                assertThat(wide.high()).isEqualTo(small.high());
                assertThat(wide.low()).isEqualTo(small.low());
                if (block == 10) {
                    small.widen(); // mid-stream: the running value carries over
                    assertThat(small.wide()).isTrue();
                }
            }
            byte[] other = new byte[16];
            random.nextBytes(other);
            wide.rekey(other);
            assertThat(wide.wide()).as("re-keyed back to the small table").isFalse();
            BasicGCMMultiplier ref2 = new BasicGCMMultiplier();
            ref2.init(other);
            wide.reset();
            byte[] x = new byte[16];
            random.nextBytes(x);
            wide.block(x, 0);
            ref2.multiplyH(x);
            assertThat(wide.high()).isEqualTo((long) FrameAead.BIG.get(x, 0));
            assertThat(wide.low()).isEqualTo((long) FrameAead.BIG.get(x, 8));
        }
    }
}
