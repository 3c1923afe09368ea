package dev.cloister.mls.sframe;

import org.bouncycastle.crypto.modes.gcm.BasicGCMMultiplier;

/**
 * GHASH (NIST SP 800-38D section 6.4) for one hash key H, with the running value held in two longs.
 * Multiplication by H is linear, so X·H is the XOR over X's bytes of a table entry (byte value
 * at that position)·H: 16 table reads per block from one flat 64 KiB table built at key setup.
 * Written here rather than taken from Bouncy Castle's {@code Tables64kGCMMultiplier} because that one
 * packs and unpacks a byte[16] per block through nested arrays; JFR showed its multiplyH taking 60 %
 * of an SFrame encrypt (SFrameBenchmark). The tables come from Bouncy Castle's reference multiplier.
 * The price is 64 KiB per AES-GCM key (a receiver keeps one key per sender it heard this epoch);
 * with Bouncy Castle's 8 KiB tables GHASH was still 60 % of an encrypt (JFR).
 */
final class Ghash {
    /** For byte position p (0..15) and value v: entry (p * 256 + v) * 2 = high, low longs of (v at p)·H. */
    private final long[] table = new long[16 * 256 * 2];
    private long x0;
    private long x1;

    Ghash(byte[] h) {
        BasicGCMMultiplier reference = new BasicGCMMultiplier();
        reference.init(h);
        byte[] block = new byte[16];
        for (int p = 0; p < 16; p++) {
            int base = p * 256 * 2;
            for (int bit = 0; bit < 8; bit++) {
                java.util.Arrays.fill(block, (byte) 0);
                block[p] = (byte) (1 << bit);
                reference.multiplyH(block);
                int e = base + (1 << bit) * 2;
                table[e] = (long) FrameAead.BIG.get(block, 0);
                table[e + 1] = (long) FrameAead.BIG.get(block, 8);
            }
            for (int v = 3; v < 256; v++) {
                int low = Integer.lowestOneBit(v);
                if (low == v) {
                    continue;
                }
                int e = base + v * 2;
                int a = base + low * 2;
                int b = base + (v ^ low) * 2;
                table[e] = table[a] ^ table[b];
                table[e + 1] = table[a + 1] ^ table[b + 1];
            }
        }
    }

    void reset() {
        x0 = 0;
        x1 = 0;
    }

    /** Folds one 16-byte block (as big-endian high and low longs) into the hash. */
    void block(long hi, long lo) {
        long a = x0 ^ hi;
        long b = x1 ^ lo;
        long[] t = table;
        long r0 = 0;
        long r1 = 0;
        for (int p = 0; p < 8; p++) {
            int e = ((p << 8) | (int) ((a >>> (56 - 8 * p)) & 0xFF)) << 1;
            r0 ^= t[e];
            r1 ^= t[e + 1];
        }
        for (int p = 0; p < 8; p++) {
            int e = (((p + 8) << 8) | (int) ((b >>> (56 - 8 * p)) & 0xFF)) << 1;
            r0 ^= t[e];
            r1 ^= t[e + 1];
        }
        x0 = r0;
        x1 = r1;
    }

    void block(byte[] in, int off) {
        block((long) FrameAead.BIG.get(in, off), (long) FrameAead.BIG.get(in, off + 8));
    }

    long high() {
        return x0;
    }

    long low() {
        return x1;
    }
}
