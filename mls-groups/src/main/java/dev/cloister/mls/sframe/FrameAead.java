package dev.cloister.mls.sframe;

import java.security.GeneralSecurityException;
import javax.crypto.Cipher;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.modes.gcm.GCMMultiplier;
import org.bouncycastle.crypto.modes.gcm.Tables4kGCMMultiplier;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * One key's AEAD for the SFrame suites: AES-CTR with HMAC-SHA256 (RFC 9605 section 4.5.1) or
 * AES-GCM. Built once per key; seal and open reuse its buffers, so they allocate nothing.
 * The associated data is passed in two parts (header and metadata) so it is never concatenated.
 * Not thread-safe.
 */
abstract class FrameAead {
    /** Counter blocks processed per AES call. */
    private static final int CHUNK_BLOCKS = 64;

    protected final SFrameCipherSuite suite;
    private final Cipher aesEcb;
    private final byte[] counterBlocks = new byte[CHUNK_BLOCKS * 16];
    private final byte[] keystream = new byte[CHUNK_BLOCKS * 16];

    FrameAead(SFrameCipherSuite suite, byte[] aesKey) {
        this.suite = suite;
        try {
            // AES-ECB over counter blocks is AES-CTR without a per-call IV object, and keeps the JDK's AES intrinsics.
            this.aesEcb = Cipher.getInstance("AES/ECB/NoPadding");
            this.aesEcb.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(aesKey, "AES"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES unavailable", e);
        }
    }

    static FrameAead create(SFrameCipherSuite suite, byte[] key) {
        if (key.length != suite.nk) {
            throw new IllegalArgumentException("key must be " + suite.nk + " bytes");
        }
        return suite.isGcm() ? new Gcm(suite, key) : new CtrHmac(suite, key);
    }

    /** The counter of the first keystream block (GCM keeps block 1 for the tag). */
    abstract int firstCounter();

    /** Computes the full tag over nonce, AAD and ciphertext; returns the buffer holding it. */
    abstract byte[] tag(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                        byte[] ct, int ctOff, int ctLen);

    /** Encrypts {@code in} to {@code out} and appends the tag; returns {@code len + Nt}. */
    final int seal(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                   byte[] in, int inOff, int len, byte[] out, int outOff) {
        ctr(nonce, firstCounter(), in, inOff, len, out, outOff);
        byte[] tag = tag(nonce, aad1, aad1Off, aad1Len, aad2, aad2Off, aad2Len, out, outOff, len);
        System.arraycopy(tag, 0, out, outOff + len, suite.nt);
        return len + suite.nt;
    }

    /** Verifies and decrypts {@code in} (ciphertext and tag); returns the plaintext length or -1. */
    final int open(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
                   byte[] in, int inOff, int len, byte[] out, int outOff) {
        int ctLen = len - suite.nt;
        if (ctLen < 0) {
            return -1;
        }
        byte[] tag = tag(nonce, aad1, aad1Off, aad1Len, aad2, aad2Off, aad2Len, in, inOff, ctLen);
        if (!constantTimeEquals(tag, 0, in, inOff + ctLen, suite.nt)) {
            return -1;
        }
        ctr(nonce, firstCounter(), in, inOff, ctLen, out, outOff);
        return ctLen;
    }

    final void encryptBlock(byte[] in, byte[] out) {
        try {
            aesEcb.update(in, 0, 16, out, 0);
        } catch (ShortBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    /** XORs the AES-CTR keystream starting at block {@code nonce || counter} into {@code in}. */
    final void ctr(byte[] nonce, int counter, byte[] in, int inOff, int len, byte[] out, int outOff) {
        int done = 0;
        while (done < len) {
            int n = Math.min(len - done, counterBlocks.length);
            int blocks = (n + 15) >>> 4;
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
            for (int i = 0; i < n; i++) {
                out[outOff + done + i] = (byte) (in[inOff + done + i] ^ keystream[i]);
            }
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
            super(suite, java.util.Arrays.copyOfRange(key, 0, suite.nka));
            hmac.init(new KeyParameter(key, suite.nka, key.length - suite.nka));
        }

        @Override
        int firstCounter() {
            return 0;
        }

        @Override
        byte[] tag(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off, int aad2Len,
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
            return mac;
        }

        private static void putLong(byte[] b, int off, long v) {
            for (int i = 7; i >= 0; i--) {
                b[off + i] = (byte) v;
                v >>>= 8;
            }
        }
    }

    /**
     * AES-GCM (NIST SP 800-38D) with a 96-bit nonce and a 128-bit tag, GHASH from Bouncy Castle's tables.
     * Assembled here rather than taken whole from the JDK or Bouncy Castle because both want a fresh
     * parameter object per frame and the AAD in one piece (the JDK also refuses a key/IV pair it has
     * seen for encryption), which would allocate on every voice frame; the RFC 9605 vectors cover it.
     */
    static final class Gcm extends FrameAead {
        private final GCMMultiplier multiplier = new Tables4kGCMMultiplier();
        private final byte[] x = new byte[16];
        private final byte[] partial = new byte[16];
        private int partialLen;
        private final byte[] j0 = new byte[16];
        private final byte[] ekj0 = new byte[16];

        Gcm(SFrameCipherSuite suite, byte[] key) {
            super(suite, key);
            byte[] h = new byte[16];
            encryptBlock(new byte[16], h);
            multiplier.init(h);
        }

        private void ghashReset() {
            java.util.Arrays.fill(x, (byte) 0);
            partialLen = 0;
        }

        private void ghashUpdate(byte[] in, int off, int len) {
            for (int i = 0; i < len; i++) {
                partial[partialLen++] = in[off + i];
                if (partialLen == 16) {
                    ghashBlock();
                }
            }
        }

        private void ghashPad() {
            if (partialLen > 0) {
                java.util.Arrays.fill(partial, partialLen, 16, (byte) 0);
                ghashBlock();
            }
        }

        private void ghashBlock() {
            for (int i = 0; i < 16; i++) {
                x[i] ^= partial[i];
            }
            multiplier.multiplyH(x);
            partialLen = 0;
        }

        @Override
        int firstCounter() {
            return 2;
        }

        /** The tag is left in {@code x}. */
        @Override
        byte[] tag(byte[] nonce, byte[] aad1, int aad1Off, int aad1Len, byte[] aad2, int aad2Off,
                   int aad2Len, byte[] ct, int ctOff, int ctLen) {
            ghashReset();
            ghashUpdate(aad1, aad1Off, aad1Len);
            ghashUpdate(aad2, aad2Off, aad2Len);
            ghashPad();
            ghashUpdate(ct, ctOff, ctLen);
            ghashPad();
            long aadBits = (long) (aad1Len + aad2Len) * 8;
            long ctBits = (long) ctLen * 8;
            for (int i = 0; i < 8; i++) {
                partial[i] = (byte) (aadBits >>> (56 - 8 * i));
                partial[8 + i] = (byte) (ctBits >>> (56 - 8 * i));
            }
            partialLen = 16;
            ghashBlock();
            System.arraycopy(nonce, 0, j0, 0, 12);
            j0[12] = 0;
            j0[13] = 0;
            j0[14] = 0;
            j0[15] = 1;
            encryptBlock(j0, ekj0);
            for (int i = 0; i < 16; i++) {
                x[i] ^= ekj0[i];
            }
            return x;
        }
    }
}
