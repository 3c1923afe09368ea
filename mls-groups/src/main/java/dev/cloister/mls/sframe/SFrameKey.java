package dev.cloister.mls.sframe;

import java.nio.charset.StandardCharsets;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.HKDFParameters;

/**
 * The key and salt for one KID (RFC 9605 section 4.4.2) with its AEAD and the receive-side replay
 * window. Derivation is a cold path; seal/open through {@link SFrameContext} allocate nothing.
 *
 * <p>A receiver meeting a KID it holds no key for derives a <em>trial</em> key to check the frame
 * ({@link #trial}, {@link #retry}): with AES-GCM its GHASH runs from a small table until the key
 * has authenticated a frame ({@link #verified}), and only then is the 64 KiB table built, so a
 * forged KID costs a key derivation and a slower GHASH, not a table.
 */
public final class SFrameKey {
    /** Frames this far behind the highest counter seen are still accepted once each. */
    public static final int REPLAY_WINDOW = 64;

    private final SFrameCipherSuite suite;
    private long kid;
    private final byte[] key;
    private final byte[] salt;
    final FrameAead aead;
    final byte[] nonce;

    private boolean seenAny;
    private long highest;
    private long window;

    private boolean sentAny;
    private long lastSent;

    private SFrameKey(SFrameCipherSuite suite, long kid, byte[] key, byte[] salt, boolean wide) {
        this.suite = suite;
        this.kid = kid;
        this.key = key;
        this.salt = salt;
        this.aead = FrameAead.create(suite, key, wide);
        this.nonce = new byte[suite.nn];
    }

    /** Derives {@code sframe_key} and {@code sframe_salt} for {@code kid} from {@code baseKey}. */
    public static SFrameKey derive(SFrameCipherSuite suite, long kid, byte[] baseKey) {
        return derive(new KeySchedule(suite, baseKey), kid);
    }

    /** A key for sending or one known to be genuine: with AES-GCM, its 64 KiB GHASH table is built now. */
    static SFrameKey derive(KeySchedule schedule, long kid) {
        return create(schedule, kid, true);
    }

    /** A key for a KID not seen before, to check a frame with: no 64 KiB table until {@link #verified}. */
    static SFrameKey trial(KeySchedule schedule, long kid) {
        return create(schedule, kid, false);
    }

    private static SFrameKey create(KeySchedule schedule, long kid, boolean wide) {
        SFrameCipherSuite suite = schedule.suite();
        byte[] key = new byte[suite.nk];
        byte[] salt = new byte[suite.nn];
        schedule.derive(kid, key, salt);
        return new SFrameKey(suite, kid, key, salt, wide);
    }

    /** Makes this trial key the key of another KID in place, with a fresh replay window. */
    void retry(KeySchedule schedule, long newKid) {
        schedule.derive(newKid, key, salt);
        aead.rekey(key);
        kid = newKid;
        seenAny = false;
        highest = 0;
        window = 0;
        sentAny = false;
        lastSent = 0;
    }

    /** The key authenticated a frame and will be kept: build what makes its frames fast. */
    void verified() {
        aead.widen();
    }

    /** {@code HKDF-Extract("", base_key)}. */
    public static byte[] extract(SFrameCipherSuite suite, byte[] baseKey) {
        HKDFBytesGenerator hkdf = new HKDFBytesGenerator(KeySchedule.digest(suite));
        return hkdf.extractPRK(new byte[0], baseKey);
    }

    public static byte[] expand(SFrameCipherSuite suite, byte[] prk, byte[] info, int length) {
        HKDFBytesGenerator hkdf = new HKDFBytesGenerator(KeySchedule.digest(suite));
        hkdf.init(HKDFParameters.skipExtractParameters(prk, info));
        byte[] out = new byte[length];
        hkdf.generateBytes(out, 0, length);
        return out;
    }

    /** {@code prefix || KID (8 bytes) || cipher_suite (2 bytes)}. */
    public static byte[] label(String prefix, long kid, SFrameCipherSuite suite) {
        byte[] p = prefix.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[p.length + 10];
        System.arraycopy(p, 0, out, 0, p.length);
        for (int i = 0; i < 8; i++) {
            out[p.length + i] = (byte) (kid >>> (56 - 8 * i));
        }
        out[p.length + 8] = (byte) (suite.id >>> 8);
        out[p.length + 9] = (byte) suite.id;
        return out;
    }

    public SFrameCipherSuite suite() {
        return suite;
    }

    public long kid() {
        return kid;
    }

    public byte[] key() {
        return key.clone();
    }

    public byte[] salt() {
        return salt.clone();
    }

    /** Writes {@code salt XOR ctr} (ctr big-endian in the last 8 bytes) into this key's nonce buffer. */
    void formNonce(long ctr) {
        int n = salt.length;
        System.arraycopy(salt, 0, nonce, 0, n);
        for (int i = 0; i < 8; i++) {
            nonce[n - 1 - i] ^= (byte) (ctr >>> (8 * i));
        }
    }

    /** The nonce for {@code ctr}, for tests and diagnostics. */
    public byte[] nonceFor(long ctr) {
        formNonce(ctr);
        return nonce.clone();
    }

    /**
     * Whether sealing under {@code ctr} keeps the nonce fresh: a key seals each counter at most once,
     * in rising (unsigned) order, so a KID and counter pair never encrypts two frames (AES-GCM and
     * AES-CTR lose confidentiality, and GCM its integrity, on a nonce reused).
     */
    boolean maySeal(long ctr) {
        return !sentAny || Long.compareUnsigned(ctr, lastSent) > 0;
    }

    void sealed(long ctr) {
        sentAny = true;
        lastSent = ctr;
    }

    /** True if a frame with this counter was already accepted or is older than the window. */
    boolean isReplay(long ctr) {
        if (!seenAny) {
            return false;
        }
        if (Long.compareUnsigned(ctr, highest) > 0) {
            return false;
        }
        long behind = highest - ctr;
        if (Long.compareUnsigned(behind, REPLAY_WINDOW) >= 0) {
            return true;
        }
        return (window & (1L << behind)) != 0;
    }

    /** Records an authenticated counter. */
    void accept(long ctr) {
        if (!seenAny) {
            seenAny = true;
            highest = ctr;
            window = 1;
            return;
        }
        if (Long.compareUnsigned(ctr, highest) > 0) {
            long shift = ctr - highest;
            window = Long.compareUnsigned(shift, REPLAY_WINDOW) >= 0 ? 0 : window << shift;
            window |= 1;
            highest = ctr;
        } else {
            window |= 1L << (highest - ctr);
        }
    }
}
