package dev.cloister.mls.sframe;

/**
 * An SFrame context (RFC 9605 section 4.4): a suite, the keys it holds by KID (at most
 * {@code maxKeys}, oldest evicted first), and encrypt/decrypt of one frame with its metadata as
 * additional authenticated data. A decrypted counter is remembered per key so a replayed frame is
 * refused. Not thread-safe: give each sending or receiving thread its own context.
 *
 * <p>The array-based methods allocate nothing and report failures as negative codes, so a hot
 * media path neither allocates nor unwinds; the byte[]-returning ones are for cold paths and tests.
 */
public final class SFrameContext {
    /** Frame shorter than its header plus tag, or a malformed header. */
    public static final int ERR_MALFORMED = -1;
    /** No key for the frame's KID. */
    public static final int ERR_UNKNOWN_KID = -2;
    /** Counter already accepted or too old for the replay window. */
    public static final int ERR_REPLAY = -3;
    /** Authentication failed. */
    public static final int ERR_AUTH = -4;
    /** Output buffer too small. */
    public static final int ERR_OUTPUT = -5;
    /** The counter is not above the last one this key sealed: sealing it would reuse a nonce. */
    public static final int ERR_COUNTER_REUSED = -6;

    private final SFrameCipherSuite suite;
    private final KeyTable keys;
    private final SFrameHeader header = new SFrameHeader();
    private final byte[] emptyMetadata = new byte[0];

    public SFrameContext(SFrameCipherSuite suite, int maxKeys) {
        this.suite = suite;
        this.keys = new KeyTable(maxKeys);
    }

    public SFrameCipherSuite suite() {
        return suite;
    }

    /** Derives and stores the key for {@code kid}; replaces any key it had. */
    public SFrameKey addKey(long kid, byte[] baseKey) {
        SFrameKey key = SFrameKey.derive(suite, kid, baseKey);
        keys.put(key);
        return key;
    }

    public void addKey(SFrameKey key) {
        if (key.suite() != suite) {
            throw new IllegalArgumentException("key is for " + key.suite());
        }
        keys.put(key);
    }

    public boolean removeKey(long kid) {
        return keys.remove(kid);
    }

    public boolean hasKey(long kid) {
        return keys.get(kid) != null;
    }

    public int keyCount() {
        return keys.size();
    }

    /** Bytes of overhead a frame gains: header plus tag. */
    public int overhead(long kid, long ctr) {
        return SFrameHeader.encodedLength(kid, ctr) + suite.nt;
    }

    /**
     * Encrypts one frame as {@code header || ciphertext || tag} into {@code out[outOff..]}. Each key
     * seals rising counters only: a counter at or below the last one sealed under this KID is
     * refused with {@link #ERR_COUNTER_REUSED} and nothing is written.
     *
     * @return bytes written, or a negative error code
     */
    public int encrypt(long kid, long ctr, byte[] metadata, int metaOff, int metaLen,
                       byte[] plaintext, int ptOff, int ptLen, byte[] out, int outOff) {
        SFrameKey key = keys.get(kid);
        if (key == null) {
            return ERR_UNKNOWN_KID;
        }
        return encrypt(key, ctr, metadata, metaOff, metaLen, plaintext, ptOff, ptLen, out, outOff);
    }

    static int encrypt(SFrameKey key, long ctr, byte[] metadata, int metaOff, int metaLen,
                       byte[] plaintext, int ptOff, int ptLen, byte[] out, int outOff) {
        int hdrLen = SFrameHeader.encodedLength(key.kid(), ctr);
        if (out.length - outOff < hdrLen + ptLen + key.suite().nt) {
            return ERR_OUTPUT;
        }
        if (!key.maySeal(ctr)) {
            return ERR_COUNTER_REUSED;
        }
        SFrameHeader.encode(key.kid(), ctr, out, outOff);
        key.formNonce(ctr);
        int n = key.aead.seal(key.nonce, out, outOff, hdrLen, metadata, metaOff, metaLen,
                plaintext, ptOff, ptLen, out, outOff + hdrLen);
        key.sealed(ctr);
        return hdrLen + n;
    }

    /**
     * Decrypts one frame into {@code out[outOff..]}; the key's replay window advances only after
     * the tag verified.
     *
     * @return plaintext length, or a negative error code
     */
    public int decrypt(byte[] metadata, int metaOff, int metaLen, byte[] frame, int off, int len,
                       byte[] out, int outOff) {
        int hdrLen = header.decode(frame, off, len);
        if (hdrLen < 0 || len - hdrLen < suite.nt) {
            return ERR_MALFORMED;
        }
        SFrameKey key = keys.get(header.kid());
        if (key == null) {
            return ERR_UNKNOWN_KID;
        }
        return decrypt(key, header.ctr(), hdrLen, metadata, metaOff, metaLen, frame, off, len, out, outOff);
    }

    static int decrypt(SFrameKey key, long ctr, int hdrLen, byte[] metadata, int metaOff, int metaLen,
                       byte[] frame, int off, int len, byte[] out, int outOff) {
        if (out.length - outOff < len - hdrLen - key.suite().nt) {
            return ERR_OUTPUT;
        }
        if (key.isReplay(ctr)) {
            return ERR_REPLAY;
        }
        key.formNonce(ctr);
        int n = key.aead.open(key.nonce, frame, off, hdrLen, metadata, metaOff, metaLen,
                frame, off + hdrLen, len - hdrLen, out, outOff);
        if (n < 0) {
            return ERR_AUTH;
        }
        key.accept(ctr);
        return n;
    }

    public byte[] encrypt(long kid, long ctr, byte[] metadata, byte[] plaintext) {
        byte[] meta = metadata == null ? emptyMetadata : metadata;
        byte[] out = new byte[overhead(kid, ctr) + plaintext.length];
        int n = encrypt(kid, ctr, meta, 0, meta.length, plaintext, 0, plaintext.length, out, 0);
        if (n < 0) {
            throw new SFrameException(reason(n));
        }
        return out;
    }

    public byte[] decrypt(byte[] metadata, byte[] frame) {
        byte[] meta = metadata == null ? emptyMetadata : metadata;
        byte[] out = new byte[Math.max(0, frame.length - suite.nt)];
        int n = decrypt(meta, 0, meta.length, frame, 0, frame.length, out, 0);
        if (n < 0) {
            throw new SFrameException(reason(n));
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** A readable reason for a negative result code. */
    public static String reason(int code) {
        switch (code) {
            case ERR_MALFORMED: return "malformed SFrame frame";
            case ERR_UNKNOWN_KID: return "no key for this KID";
            case ERR_REPLAY: return "replayed or too old frame counter";
            case ERR_AUTH: return "frame failed authentication";
            case ERR_OUTPUT: return "output buffer too small";
            case ERR_COUNTER_REUSED: return "frame counter already used under this KID (nonce reuse refused)";
            default: return code >= 0 ? "ok" : "error " + code;
        }
    }
}
