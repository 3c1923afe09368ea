package dev.cloister.mls.sframe;

import java.util.concurrent.atomic.AtomicLong;

/**
 * GHASH (NIST SP 800-38D section 6.4) for one hash key H, with the running value held in two longs.
 * Multiplication by H is linear, so X·H is the XOR over X's bytes of a table entry (byte value
 * at that position)·H: 16 table reads per block from one flat 64 KiB table.
 * Written here rather than taken from Bouncy Castle's {@code Tables64kGCMMultiplier} because that one
 * packs and unpacks a byte[16] per block through nested arrays; JFR showed its multiplyH taking 60 %
 * of an SFrame encrypt (SFrameBenchmark). With Bouncy Castle's 8 KiB tables GHASH was still 60 % of
 * an encrypt (JFR).
 *
 * <p>The 64 KiB table is built only for a key known to be genuine ({@link #widen}). Until then
 * (a receiver trying a KID it has never seen: any participant can send ever-new KIDs) GHASH runs
 * from 16 multiples of H, four bits at a time (Shoup's method): 32 steps per block instead of 16
 * table reads, but set up with three shifts instead of a 64 KiB table.
 */
final class Ghash {
    /** 64 KiB tables built so far in this JVM: tests use it to show forged KIDs never get one. */
    static final AtomicLong TABLES_BUILT = new AtomicLong();

    /** x^128 = x^7 + x^2 + x + 1, in GCM's reflected bit order. */
    private static final long R = 0xE100000000000000L;

    /** For r, the 4 bits shifted out of the low end by a multiplication by x^4, reduced: XORed into the high long. */
    private static final long[] REDUCE4 = new long[16];

    static {
        for (int r = 0; r < 16; r++) {
            long hi = 0;
            long lo = r;
            for (int i = 0; i < 4; i++) {
                long carry = lo & 1;
                lo = (lo >>> 1) | (hi << 63);
                hi = (hi >>> 1) ^ (-carry & R);
            }
            REDUCE4[r] = hi;
        }
    }

    /** For nibble value v (bit 3 = x^0): entry 2v, 2v+1 = high, low longs of v·H. */
    private final long[] nibbles = new long[32];
    /** For byte position p (0..15) and value v: entry (p * 256 + v) * 2 = high, low longs of (v at p)·H; null until widened. */
    private long[] table;
    private long x0;
    private long x1;

    /** GHASH under {@code h}; with {@code wide}, the 64 KiB table is built now. */
    Ghash(byte[] h, boolean wide) {
        rekey(h);
        if (wide) {
            widen();
        }
    }

    /** Changes the hash key in place, back to the small table. */
    void rekey(byte[] h) {
        long hi = (long) FrameAead.BIG.get(h, 0);
        long lo = (long) FrameAead.BIG.get(h, 8);
        for (int bit = 3; bit >= 0; bit--) {
            nibbles[2 << bit] = hi;
            nibbles[(2 << bit) + 1] = lo;
            long carry = lo & 1;
            lo = (lo >>> 1) | (hi << 63);
            hi = (hi >>> 1) ^ (-carry & R);
        }
        for (int v = 3; v < 16; v++) {
            int low = Integer.lowestOneBit(v);
            if (low != v) {
                nibbles[2 * v] = nibbles[2 * low] ^ nibbles[2 * (v ^ low)];
                nibbles[2 * v + 1] = nibbles[2 * low + 1] ^ nibbles[2 * (v ^ low) + 1];
            }
        }
        table = null;
    }

    boolean wide() {
        return table != null;
    }

    /** Builds the 64 KiB table (once): the key has authenticated a frame and will be kept. */
    void widen() {
        if (table != null) {
            return;
        }
        long[] t = new long[16 * 256 * 2];
        long hi = nibbles[16];
        long lo = nibbles[17];
        for (int p = 0; p < 16; p++) {
            int base = p * 256 * 2;
            for (int bit = 7; bit >= 0; bit--) {
                int e = base + (1 << bit) * 2;
                t[e] = hi;
                t[e + 1] = lo;
                long carry = lo & 1;
                lo = (lo >>> 1) | (hi << 63);
                hi = (hi >>> 1) ^ (-carry & R);
            }
            for (int v = 3; v < 256; v++) {
                int low = Integer.lowestOneBit(v);
                if (low == v) {
                    continue;
                }
                int e = base + v * 2;
                int a = base + low * 2;
                int b = base + (v ^ low) * 2;
                t[e] = t[a] ^ t[b];
                t[e + 1] = t[a + 1] ^ t[b + 1];
            }
        }
        table = t;
        TABLES_BUILT.incrementAndGet();
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
        if (t == null) {
            smallBlock(a, b);
            return;
        }
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

    /**
     * X·H by Horner's rule over X's 32 nibbles from the last (highest powers of x) to the first:
     * Z = Z·x^4 + nibble·H, where Z·x^4 is a right shift by 4 with the 4 bits shifted out reduced.
     */
    private void smallBlock(long a, long b) {
        long[] m = nibbles;
        int n = (int) b & 0xF;
        long zh = m[2 * n];
        long zl = m[2 * n + 1];
        for (int i = 4; i < 64; i += 4) {
            int r = (int) zl & 0xF;
            zl = (zl >>> 4) | (zh << 60);
            zh = (zh >>> 4) ^ REDUCE4[r];
            n = (int) (b >>> i) & 0xF;
            zh ^= m[2 * n];
            zl ^= m[2 * n + 1];
        }
        for (int i = 0; i < 64; i += 4) {
            int r = (int) zl & 0xF;
            zl = (zl >>> 4) | (zh << 60);
            zh = (zh >>> 4) ^ REDUCE4[r];
            n = (int) (a >>> i) & 0xF;
            zh ^= m[2 * n];
            zl ^= m[2 * n + 1];
        }
        x0 = zh;
        x1 = zl;
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
