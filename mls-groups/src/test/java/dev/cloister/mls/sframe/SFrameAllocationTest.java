package dev.cloister.mls.sframe;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.security.SecureRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Encrypting and decrypting a 160-byte Opus frame into caller buffers allocates nothing. */
class SFrameAllocationTest {
    @ParameterizedTest
    @EnumSource(SFrameCipherSuite.class)
    void hotPathDoesNotAllocate(SFrameCipherSuite suite) {
        java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(bean instanceof com.sun.management.ThreadMXBean);
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) bean;
        byte[] base = new byte[suite.nk];
        new SecureRandom().nextBytes(base);
        SFrameContext tx = new SFrameContext(suite, 2);
        SFrameContext rx = new SFrameContext(suite, 2);
        tx.addKey(300, base);
        rx.addKey(300, base);
        MlsSFrameKeys mlsTx = new MlsSFrameKeys(suite, 4, 8, 2, 8);
        MlsSFrameKeys mlsRx = new MlsSFrameKeys(suite, 4, 8, 2, 8);
        mlsTx.installEpoch(1, base);
        mlsRx.installEpoch(1, base);
        byte[] opus = new byte[160];
        byte[] meta = new byte[12];
        byte[] frame = new byte[256];
        byte[] out = new byte[256];
        long ctr = 0;
        for (int warm = 0; warm < 2; warm++) {
            long tid = Thread.currentThread().getId();
            long before = threads.getThreadAllocatedBytes(tid);
            for (int i = 0; i < 20_000; i++) {
                int n = tx.encrypt(300, ctr++, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
                if (rx.decrypt(meta, 0, meta.length, frame, 0, n, out, 0) != 160) {
                    throw new AssertionError("frame failed");
                }
                n = mlsTx.protect(3, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
                if (mlsRx.unprotect(meta, 0, meta.length, frame, 0, n, out, 0) != 160) {
                    throw new AssertionError("mls frame failed");
                }
            }
            long allocated = threads.getThreadAllocatedBytes(tid) - before;
            if (warm == 1) {
                // 80 000 frame operations; a single allocation each would be well over a megabyte.
                assertThat(allocated).as("bytes allocated by 80k frame operations").isLessThan(64 * 1024);
            }
        }
    }
}
