package dev.cloister.mls.sframe;

import java.security.GeneralSecurityException;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;

/**
 * The per-KID key derivation of RFC 9605 section 4.4.2 for one {@code base_key}:
 * {@code HKDF-Extract} once, then for each KID two {@code HKDF-Expand}s from an HMAC keyed once,
 * into the caller's arrays. A receiver tries the key of every KID it has not seen before it can
 * check the frame, so this runs for forged KIDs too. The HMAC is the JDK's, whose SHA-2 the JIT
 * compiles to the CPU's SHA instructions: 0.25-0.3 us per expand here against Bouncy Castle's
 * 0.8 us (a loop of each at load average 6). Not thread-safe.
 */
final class KeySchedule {
    /** Keys derived so far in this JVM: tests use it to show which frames are refused before any derivation. */
    static final AtomicLong DERIVED = new AtomicLong();

    private static final String KEY_LABEL = "SFrame 1.0 Secret key ";
    private static final String SALT_LABEL = "SFrame 1.0 Secret salt ";

    private final SFrameCipherSuite suite;
    private final Mac hmac;
    private final byte[] keyLabel;
    private final byte[] saltLabel;
    private final byte[] t;

    KeySchedule(SFrameCipherSuite suite, byte[] baseKey) {
        this.suite = suite;
        byte[] prk = SFrameKey.extract(suite, baseKey);
        String algorithm = suite.nh == 64 ? "HmacSHA512" : "HmacSHA256";
        try {
            this.hmac = Mac.getInstance(algorithm);
            this.hmac.init(new SecretKeySpec(prk, algorithm));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(algorithm + " unavailable", e);
        } finally {
            java.util.Arrays.fill(prk, (byte) 0);
        }
        this.keyLabel = SFrameKey.label(KEY_LABEL, 0, suite);
        this.saltLabel = SFrameKey.label(SALT_LABEL, 0, suite);
        this.t = new byte[suite.nh];
    }

    static Digest digest(SFrameCipherSuite suite) {
        return suite.nh == 64 ? new SHA512Digest() : new SHA256Digest();
    }

    SFrameCipherSuite suite() {
        return suite;
    }

    /** Writes {@code sframe_key} (Nk bytes) and {@code sframe_salt} (Nn bytes) of {@code kid}. */
    void derive(long kid, byte[] key, byte[] salt) {
        expand(keyLabel, kid, key);
        expand(saltLabel, kid, salt);
        DERIVED.incrementAndGet();
    }

    /** {@code HKDF-Expand(prk, label with kid, out.length)}: T(i) = HMAC(prk, T(i-1) || info || i). */
    private void expand(byte[] label, long kid, byte[] out) {
        int at = label.length - 10;
        for (int i = 0; i < 8; i++) {
            label[at + i] = (byte) (kid >>> (56 - 8 * i));
        }
        int done = 0;
        for (int i = 1; done < out.length; i++) {
            if (i > 1) {
                hmac.update(t, 0, t.length);
            }
            hmac.update(label, 0, label.length);
            hmac.update((byte) i);
            try {
                hmac.doFinal(t, 0);
            } catch (javax.crypto.ShortBufferException e) {
                throw new IllegalStateException(e);
            }
            int n = Math.min(t.length, out.length - done);
            System.arraycopy(t, 0, out, done, n);
            done += n;
        }
    }
}
