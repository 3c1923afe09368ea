package dev.cloister.mls.sframe;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * One key's AEAD for the SFrame suites: AES-CTR with HMAC-SHA256 (RFC 9605 section 4.5.1) or
 * AES-GCM. Built once per key; seal and open reuse its buffers, so they allocate nothing.
 * The associated data is passed in two parts (header and metadata) so it is never concatenated.
 * Not thread-safe.
 */
abstract class FrameAead {
    /** Counter blocks processed per AES call (a 160-byte frame and GCM's J0 take one call). */
    private static final int CHUNK_BLOCKS = 64;
    /** Reads and writes 8 bytes at a time for the XORs; the byte order does not matter to them. */
    static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.nativeOrder());
    /** Big-endian longs, as GHASH reads its blocks. */
    static final VarHandle BIG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    protected final SFrameCipherSuite suite;
    private final Cipher aesEcb;
    private final byte[] counterBlocks = new byte[CHUNK_BLOCKS * 16];
    /** Keystream of the last {@link #keystream} call. */
    final byte[] keystream = new byte[CHUNK_BLOCKS * 16];

    FrameAead(SFrameCipherSuite suite, byte[] key) {
        this.suite = suite;
        try {
            // AES-ECB over counter blocks is AES-CTR without a per-call IV object, and keeps the JDK's AES intrinsics.
            this.aesEcb = Cipher.getInstance("AES/ECB/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES unavailable", e);
        }
        initAes(key);
    }

    /** Keys the AES with the first Nka bytes of {@code key}. */
    final void initAes(byte[] key) {
        try {
            aesEcb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, 0, suite.nka, "AES"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES unavailable", e);
        }
    }

    static FrameAead create(SFrameCipherSuite suite, byte[] key) {
        return create(suite, key, true);
    }

    /** With {@code wide} false, an AES-GCM key's 64 KiB GHASH table waits for {@link #widen}. */
    static FrameAead create(SFrameCipherSuite suite, byte[] key, boolean wide) {
        if (key.length != suite.nk) {
            throw new IllegalArgumentException("key must be " + suite.nk + " bytes");
        }
        return suite.isGcm() ? new Gcm(suite, key, wide) : new CtrHmac(suite, key);
    }

    /** Changes the key in place (a receiver's trial key moving to the next unknown KID); not widened. */
    abstract void rekey(byte[] key);

    /** Builds the per-key tables that make a long-lived key fast (AES-GCM's 64 KiB GHASH table). */
    void widen() {
    }

    /** Whether {@link #widen} has nothing left to build. */
    boolean isWide() {
        return true;
    }

    /** Encrypts {@code in} to {@code out} and appends the tag; returns {@code len + Nt}. */
    abstract int seal(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                      byte[] in, int inOff, int len, byte[] out, int outOff);

    /** Verifies and decrypts {@code in} (ciphertext and tag); returns the plaintext length or -1. */
    abstract int open(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                      byte[] in, int inOff, int len, byte[] out, int outOff);

    final void encryptBlock(byte[] in, byte[] out) {
        try {
            aesEcb.update(in, 0, 16, out, 0);
        } catch (ShortBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Fills {@link #keystream} with AES of the {@code blocks} counter blocks {@code nonce || counter}, counter+1, ... */
    final void keystream(byte[] nonce, int counter, int blocks) {
        for (int b = 0; b < blocks; b++) {
            int p = b << 4;
            System.arraycopy(nonce, 0, counterBlocks, p, 12);
            counterBlocks[p + 12] = (byte) (counter >>> 24);
            counterBlocks[p + 13] = (byte) (counter >>> 16);
            counterBlocks[p + 14] = (byte) (counter >>> 8);
            counterBlocks[p + 15] = (byte) counter;
            counter++;
        }
        try {
            aesEcb.update(counterBlocks, 0, blocks << 4, keystream, 0);
        } catch (ShortBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code out[outOff..+n) = in[inOff..+n) XOR keystream[ksOff..+n)}, eight bytes at a time. */
    final void xorKeystream(int ksOff, byte[] in, int inOff, int n, byte[] out, int outOff) {
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long v = (long) LONGS.get(in, inOff + i) ^ (long) LONGS.get(keystream, ksOff + i);
            LONGS.set(out, outOff + i, v);
        }
        for (; i < n; i++) {
            out[outOff + i] = (byte) (in[inOff + i] ^ keystream[ksOff + i]);
        }
    }

    /**
     * AES-CTR from block {@code nonce || counter}; when {@code firstDone} bytes of keystream are
     * already in {@link #keystream} from offset {@code firstKsOff} (the caller's first chunk), they are used first.
     */
    final void ctr(byte[] nonce, int counter, int firstKsOff, int firstDone,
                   byte[] in, int inOff, int len, byte[] out, int outOff) {
        int done = Math.min(firstDone, len);
        if (done > 0) {
            xorKeystream(firstKsOff, in, inOff, done, out, outOff);
            counter += (done + 15) >>> 4;
        }
        while (done < len) {
            int n = Math.min(len - done, keystream.length);
            keystream(nonce, counter, (n + 15) >>> 4);
            xorKeystream(0, in, inOff + done, n, out, outOff + done);
            counter += (n + 15) >>> 4;
            done += n;
        }
    }

    static boolean constantTimeEquals(byte[] a, int aOff, byte[] b, int bOff, int len) {
        int diff = 0;
        for (int i = 0; i < len; i++) {
            diff |= a[aOff + i] ^ b[bOff + i];
        }
        return diff == 0;
    }

    /** RFC 9605 section 4.5.1: AES-CTR then HMAC over lengths, nonce, AAD and ciphertext. */
    static final class CtrHmac extends FrameAead {
        private final HMac hmac = new HMac(new SHA256Digest());
        private final byte[] lengths = new byte[24];
        private final byte[] mac = new byte[32];

        CtrHmac(SFrameCipherSuite suite, byte[] key) {
            super(suite, key);
            hmac.init(new KeyParameter(key, suite.nka, key.length - suite.nka));
        }

        @Override
        void rekey(byte[] key) {
            initAes(key);
            hmac.init(new KeyParameter(key, suite.nka, key.length - suite.nka));
        }

        @Override
        int seal(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                 byte[] in, int inOff, int len, byte[] out, int outOff) {
            ctr(nonce, 0, 0, 0, in, inOff, len, out, outOff);
            tag(nonce, aad1, aad1Off, aad1Len, aad2, aad2Off, aad2Len, out, outOff, len);
            System.arraycopy(mac, 0, out, outOff + len, suite.nt);
            return len + suite.nt;
        }

        @Override
        int open(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                 byte[] in, int inOff, int len, byte[] out, int outOff) {
            int ctLen = len - suite.nt;
            if (ctLen < 0) {
                return -1;
            }
            tag(nonce, aad1, aad1Off, aad1Len, aad2, aad2Off, aad2Len, in, inOff, ctLen);
            if (!constantTimeEquals(mac, 0, in, inOff + ctLen, suite.nt)) {
                return -1;
            }
            ctr(nonce, 0, 0, 0, in, inOff, ctLen, out, outOff);
            return ctLen;
        }

        private void tag(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                         byte[] ct, int ctOff, int ctLen) {
            putLong(lengths, 0, aad1Len + aad2Len);
            putLong(lengths, 8, ctLen);
            putLong(lengths, 16, suite.nt);
            hmac.update(lengths, 0, 24);
            hmac.update(nonce, 0, suite.nn);
            hmac.update(aad1, aad1Off, aad1Len);
            hmac.update(aad2, aad2Off, aad2Len);
            hmac.update(ct, ctOff, ctLen);
            hmac.doFinal(mac, 0);
        }

        private static void putLong(byte[] b, int off, long v) {
            for (int i = 7; i >= 0; i--) {
                b[off + i] = (byte) v;
                v >>>= 8;
            }
        }
    }

    /**
     * AES-GCM (NIST SP 800-38D) with a 96-bit nonce and a 128-bit tag: CTR from AES-ECB, GHASH from
     * {@link Ghash}. Assembled here rather than taken whole from the JDK because
     * {@code Cipher.init} of "AES/GCM/NoPadding" for each frame's nonce allocates about 950 bytes
     * (parameter spec, key and IV copies, a new GHASH and GCTR engine: JMH's gc profiler, see
     * SFrameBenchmark) and on a 160-byte frame costs about as much as this whole path;
     * the RFC 9605 vectors cover it. E(J0) is computed in the same AES call as the counter blocks.
     */
    static final class Gcm extends FrameAead {
        private final Ghash ghash;
        private final byte[] x = new byte[16];
        private final byte[] partial = new byte[16];
        private int partialLen;
        private final byte[] ekj0 = new byte[16];
        private final byte[] h = new byte[16];

        Gcm(SFrameCipherSuite suite, byte[] key, boolean wide) {
            super(suite, key);
            encryptBlock(new byte[16], h);
            ghash = new Ghash(h, wide);
        }

        @Override
        void rekey(byte[] key) {
            initAes(key);
            java.util.Arrays.fill(h, (byte) 0);
            encryptBlock(h, h);
            ghash.rekey(h);
        }

        @Override
        void widen() {
            ghash.widen();
        }

        @Override
        boolean isWide() {
            return ghash.wide();
        }

        /**
         * Computes E(J0) into {@link #ekj0} and the keystream for the first plaintext blocks (left in
         * {@link #keystream} from offset 16); returns how many bytes of keystream that is.
         */
        private int firstChunk(byte[] nonce, int len) {
            int blocks = Math.min((len + 15) >>> 4, CHUNK_BLOCKS - 1);
            keystream(nonce, 1, blocks + 1);
            System.arraycopy(keystream, 0, ekj0, 0, 16);
            return blocks << 4;
        }

        @Override
        int seal(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                 byte[] in, int inOff, int len, byte[] out, int outOff) {
            int first = firstChunk(nonce, len);
            ctr(nonce, 2, 16, first, in, inOff, len, out, outOff);
            tag(aad1, aad1Off, aad1Len, aad2, aad2Off, aad2Len, out, outOff, len);
            System.arraycopy(x, 0, out, outOff + len, 16);
            return len + 16;
        }

        @Override
        int open(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                 byte[] in, int inOff, int len, byte[] out, int outOff) {
            int ctLen = len - 16;
            if (ctLen < 0) {
                return -1;
            }
            int first = firstChunk(nonce, ctLen);
            tag(aad1, aad1Off, aad1Len, aad2, aad2Off, aad2Len, in, inOff, ctLen);
            if (!constantTimeEquals(x, 0, in, inOff + ctLen, 16)) {
                return -1;
            }
            ctr(nonce, 2, 16, first, in, inOff, ctLen, out, outOff);
            return ctLen;
        }

        /** GHASH of AAD and ciphertext XOR E(J0): the tag, left in {@link #x}. */
        private void tag(byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                         byte[] ct, int ctOff, int ctLen) {
            ghash.reset();
            partialLen = 0;
            ghash(aad1, aad1Off, aad1Len);
            ghash(aad2, aad2Off, aad2Len);
            pad();
            ghash(ct, ctOff, ctLen);
            pad();
            long aadBits = (long) (aad1Len + aad2Len) * 8;
            long ctBits = (long) ctLen * 8;
            ghash.block(aadBits, ctBits);
            BIG.set(x, 0, ghash.high() ^ (long) BIG.get(ekj0, 0));
            BIG.set(x, 8, ghash.low() ^ (long) BIG.get(ekj0, 8));
        }

        /** Feeds bytes to GHASH: whole blocks straight from {@code in}, a tail through {@link #partial}. */
        private void ghash(byte[] in, int off, int len) {
            if (partialLen > 0) {
                int n = Math.min(16 - partialLen, len);
                System.arraycopy(in, off, partial, partialLen, n);
                partialLen += n;
                off += n;
                len -= n;
                if (partialLen < 16) {
                    return;
                }
                block(partial, 0);
                partialLen = 0;
            }
            for (; len >= 16; off += 16, len -= 16) {
                block(in, off);
            }
            if (len > 0) {
                System.arraycopy(in, off, partial, 0, len);
                partialLen = len;
            }
        }

        private void pad() {
            if (partialLen > 0) {
                java.util.Arrays.fill(partial, partialLen, 16, (byte) 0);
                block(partial, 0);
                partialLen = 0;
            }
        }

        private void block(byte[] in, int off) {
            ghash.block(in, off);
        }
    }
}
