package dev.cloister.mls.sframe;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.SecureRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A participant sending frames under ever-new KIDs (through the SFU, to every receiver) must not
 * cost the receivers a 64 KiB GHASH table per frame, nor any derivation for a KID that cannot be
 * a member's; genuine senders, first heard before, between or after such frames, still open.
 */
class ForgedKidTest {
    private static final int E = 8;
    private static final int S = 16;
    private static final long EPOCH = 0x2A;

    private final SecureRandom random = new SecureRandom();
    private final byte[] meta = new byte[12];
    private final byte[] opus = new byte[160];
    private final byte[] frame = new byte[256];
    private final byte[] out = new byte[256];

    private MlsSFrameKeys keys(SFrameCipherSuite suite, byte[] base) {
        MlsSFrameKeys k = new MlsSFrameKeys(suite, E, S, 2, 64);
        k.installEpoch(EPOCH, base);
        return k;
    }

    private int open(MlsSFrameKeys rx, int len) {
        return rx.unprotect(meta, 0, meta.length, frame, 0, len, out, 0);
    }

    /** A frame under {@code kid} whose ciphertext and tag are random: what a forger without the key sends. */
    private int forge(long kid) {
        random.nextBytes(frame);
        int hdr = SFrameHeader.encode(kid, random.nextInt(1000), frame, 0);
        return hdr + opus.length + 16;
    }

    @ParameterizedTest
    @EnumSource(value = SFrameCipherSuite.class, names = {"AES_128_GCM_SHA256_128", "AES_256_GCM_SHA512_128"})
    void forgedKidsNeverBuildTheGhashTable(SFrameCipherSuite suite) {
        byte[] base = new byte[suite.nk];
        random.nextBytes(base);
        MlsSFrameKeys alice = keys(suite, base);
        MlsSFrameKeys bob = keys(suite, base);
        MlsSFrameKeys rx = keys(suite, base);

        long tables = Ghash.TABLES_BUILT.get();
        long derived = KeySchedule.DERIVED.get();
        int n = alice.protect(3, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
        assertThat(Ghash.TABLES_BUILT.get() - tables).as("alice's sending key").isEqualTo(1);
        assertThat(open(rx, n)).isEqualTo(opus.length);
        assertThat(Ghash.TABLES_BUILT.get() - tables).as("and the receiver's key for her, once it verified").isEqualTo(2);

        tables = Ghash.TABLES_BUILT.get();
        derived = KeySchedule.DERIVED.get();
        int forgeries = 2000;
        for (int i = 0; i < forgeries; i++) {
            // New KIDs of the current epoch, sender indices a member may hold, contexts 0 and up.
            long kid = MlsSFrameKeys.kid(i / 1000, 4 + i % 1000, EPOCH, S, E);
            assertThat(open(rx, forge(kid))).isEqualTo(SFrameContext.ERR_AUTH);
        }
        // Before the fix every forgery derived a full key: 2000 tables of 64 KiB (131 MB) for 2000 frames.
        assertThat(Ghash.TABLES_BUILT.get() - tables).as("GHASH tables built for forged KIDs").isZero();
        assertThat(KeySchedule.DERIVED.get() - derived).as("each forged KID is tried once").isEqualTo(forgeries);
        derived = KeySchedule.DERIVED.get();
        long repeated = MlsSFrameKeys.kid(0, 900, EPOCH, S, E);
        for (int i = 0; i < 100; i++) {
            assertThat(open(rx, forge(repeated))).isEqualTo(SFrameContext.ERR_AUTH);
        }
        assertThat(KeySchedule.DERIVED.get() - derived).as("one KID forged 100 times in a row").isEqualTo(1);

        // Alice's known key is untouched by the trials; bob, first heard after them, opens under the reused trial key.
        n = alice.protect(3, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
        assertThat(open(rx, n)).isEqualTo(opus.length);
        n = bob.protect(4, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
        tables = Ghash.TABLES_BUILT.get(); // bob's sending key has one
        frame[n - 1] ^= 1;
        assertThat(open(rx, n)).as("bob's KID with a wrong tag").isEqualTo(SFrameContext.ERR_AUTH);
        frame[n - 1] ^= 1;
        assertThat(open(rx, n)).isEqualTo(opus.length);
        assertThat(Ghash.TABLES_BUILT.get() - tables).as("the receiver's key for bob, once it verified").isEqualTo(1);
        assertThat(open(rx, n)).as("kept, with its replay window").isEqualTo(SFrameContext.ERR_REPLAY);
        assertThat(open(rx, forge(MlsSFrameKeys.kid(0, 4, EPOCH, S, E)))).isEqualTo(SFrameContext.ERR_AUTH);
        for (int i = 0; i < 50; i++) {
            n = bob.protect(4, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
            assertThat(open(rx, n)).isEqualTo(opus.length);
        }
        assertThat(Ghash.TABLES_BUILT.get() - tables).as("one table per genuine sender").isEqualTo(1);
    }

    /** Every suite: a trial key re-derived in place after forgeries opens a genuine sender's first frame. */
    @ParameterizedTest
    @EnumSource(SFrameCipherSuite.class)
    void aTrialKeyReusedAfterForgeriesOpensAGenuineFirstFrame(SFrameCipherSuite suite) {
        byte[] base = new byte[suite.nk];
        random.nextBytes(base);
        MlsSFrameKeys rx = keys(suite, base);
        for (int sender = 10; sender < 20; sender++) {
            MlsSFrameKeys tx = keys(suite, base);
            assertThat(open(rx, forge(MlsSFrameKeys.kid(0, sender + 100, EPOCH, S, E)))).isEqualTo(SFrameContext.ERR_AUTH);
            for (int i = 0; i < 3; i++) {
                random.nextBytes(opus);
                int n = tx.protect(sender, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
                assertThat(open(rx, n)).as("sender %d frame %d", sender, i).isEqualTo(opus.length);
                assertThat(java.util.Arrays.copyOf(out, opus.length)).isEqualTo(opus);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = SFrameCipherSuite.class, names = {"AES_128_GCM_SHA256_128", "AES_128_CTR_HMAC_SHA256_80"})
    void kidsNoMemberCanHoldAreRefusedBeforeAnyDerivation(SFrameCipherSuite suite) {
        byte[] base = new byte[suite.nk];
        random.nextBytes(base);
        MlsSFrameKeys rx = new MlsSFrameKeys(suite, E, S, 2, 64);
        rx.installEpoch(EPOCH, base, 10); // a tree of 10 leaves
        MlsSFrameKeys tx = new MlsSFrameKeys(suite, E, S, 2, 64);
        tx.installEpoch(EPOCH, base);

        long derived = KeySchedule.DERIVED.get();
        long[] impossible = {
            MlsSFrameKeys.kid(0, 10, EPOCH, S, E), // sender index past the tree
            MlsSFrameKeys.kid(0, 0xFFFF, EPOCH, S, E),
            MlsSFrameKeys.kid(3, 12, EPOCH, S, E),
            MlsSFrameKeys.kid(0, 2, EPOCH + 1, S, E), // an epoch not installed
            -1L, // a context protect never seals under (the KID's top bit)
            Long.MIN_VALUE | MlsSFrameKeys.kid(0, 2, EPOCH, S, E),
        };
        for (long kid : impossible) {
            assertThat(open(rx, forge(kid))).as("KID %x", kid).isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
        }
        assertThat(KeySchedule.DERIVED.get() - derived).as("keys derived for impossible KIDs").isZero();

        int n = tx.protect(9, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
        assertThat(open(rx, n)).as("the last leaf").isEqualTo(opus.length);
        n = tx.protect(10, meta, 0, meta.length, opus, 0, opus.length, frame, 0);
        assertThat(open(rx, n)).as("a leaf past the tree, even with the right key").isEqualTo(SFrameContext.ERR_UNKNOWN_KID);
        rx.installEpoch(EPOCH, base, 11); // the same epoch again, its tree known to be larger
        assertThat(open(rx, n)).isEqualTo(opus.length);
    }
}
