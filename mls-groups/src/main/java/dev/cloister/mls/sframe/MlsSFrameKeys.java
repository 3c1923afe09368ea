package dev.cloister.mls.sframe;

/**
 * SFrame keys derived from MLS (RFC 9605 section 5.2). Each epoch gives a {@code base_key}
 * ({@code MLS-Exporter("SFrame 1.0 Base Key", "", Nk)}); each sender encrypts under its own KID
 *
 * <pre>KID = (context &lt;&lt; (S + E)) + (sender_index &lt;&lt; E) + (epoch % (1 &lt;&lt; E))</pre>
 *
 * <p>Receivers keep at most {@code retainedEpochs} epochs (the current one plus a short grace
 * window for frames still in flight) and drop an old epoch as soon as a new epoch with the same
 * low {@code E} bits arrives, as the RFC requires. Per-sender keys are derived on the first frame
 * that authenticates under them, so each sender holds at most one key per retained epoch and
 * context. Not thread-safe.
 *
 * <p>Any participant can send frames under KIDs nobody holds a key for, each new one making every
 * receiver derive its key before the frame can be refused. So a KID is refused before anything is
 * derived when it cannot exist (no retained epoch has its low bits, its sender index is not below
 * the epoch's sender count, or its context is beyond what {@link #protect} seals), the {@code HKDF}
 * extract is done once per epoch, and a KID not seen before is tried with one reusable trial key
 * per epoch that gets its 64 KiB GHASH table only once it has authenticated a frame.
 */
public final class MlsSFrameKeys {
    private final SFrameCipherSuite suite;
    private final int epochBits;
    private final int senderBits;
    private final int maxKeysPerEpoch;
    private final Epoch[] epochs;
    private final SFrameHeader header = new SFrameHeader();
    private Epoch current;

    private static final class Epoch {
        final long epoch;
        final byte[] baseKey;
        final KeySchedule schedule;
        final KeyTable keys;
        /** Leaf indices below this may send; a KID naming another is refused before any derivation. */
        long senders;
        /** Re-derived in place for each KID not seen before; becomes that KID's key if a frame authenticates. */
        SFrameKey trial;
        SFrameKey sendKey;
        long sendCtr;
        /** Next counters of the KIDs this sender used before its current one (rarely any). */
        java.util.Map<Long, Long> laterCounters;

        Epoch(SFrameCipherSuite suite, long epoch, byte[] baseKey, int maxKeys, long senders) {
            this.epoch = epoch;
            this.baseKey = baseKey.clone();
            this.schedule = new KeySchedule(suite, baseKey);
            this.keys = new KeyTable(maxKeys);
            this.senders = senders;
        }
    }

    /**
     * @param epochBits      E, low epoch bits in the KID (1..16)
     * @param senderBits     S, bits for the sender's leaf index (1..32); fixed for the group's life
     * @param retainedEpochs epochs kept for receiving, at least 1
     * @param maxSenders     senders whose keys an epoch keeps (bound on memory per epoch)
     */
    public MlsSFrameKeys(SFrameCipherSuite suite, int epochBits, int senderBits, int retainedEpochs, int maxSenders) {
        if (epochBits < 1 || epochBits > 16 || senderBits < 1 || senderBits > 32 || epochBits + senderBits > 48) {
            throw new IllegalArgumentException("bad KID layout E=" + epochBits + " S=" + senderBits);
        }
        if (retainedEpochs < 1 || retainedEpochs > (1 << epochBits)) {
            throw new IllegalArgumentException("retainedEpochs must be in 1..2^E");
        }
        this.suite = suite;
        this.epochBits = epochBits;
        this.senderBits = senderBits;
        this.maxKeysPerEpoch = Math.max(1, maxSenders);
        this.epochs = new Epoch[retainedEpochs];
    }

    /** Defaults for a voice channel: E = 8, S = 16, current epoch plus one previous, 1024 senders. */
    public static MlsSFrameKeys forVoice(SFrameCipherSuite suite) {
        return new MlsSFrameKeys(suite, 8, 16, 2, 1024);
    }

    public static long kid(long context, long senderIndex, long epoch, int senderBits, int epochBits) {
        long epochMask = (1L << epochBits) - 1;
        long senderMask = (1L << senderBits) - 1;
        if ((senderIndex & ~senderMask) != 0) {
            throw new IllegalArgumentException("sender index " + senderIndex + " does not fit in " + senderBits + " bits");
        }
        return (context << (senderBits + epochBits)) + (senderIndex << epochBits) + (epoch & epochMask);
    }

    public long kid(long context, long senderIndex, long epoch) {
        return kid(context, senderIndex, epoch, senderBits, epochBits);
    }

    public int senderIndexOf(long kid) {
        return (int) ((kid >>> epochBits) & ((1L << senderBits) - 1));
    }

    public long epochBitsOf(long kid) {
        return kid & ((1L << epochBits) - 1);
    }

    public long contextOf(long kid) {
        return kid >>> (senderBits + epochBits);
    }

    public SFrameCipherSuite suite() {
        return suite;
    }

    /** The newest installed epoch, or -1. */
    public long currentEpoch() {
        return current == null ? -1 : current.epoch;
    }

    public boolean hasEpoch(long epoch) {
        for (Epoch e : epochs) {
            if (e != null && e.epoch == epoch) {
                return true;
            }
        }
        return false;
    }

    /** Installed epochs, newest first. */
    public long[] retainedEpochs() {
        return java.util.Arrays.stream(epochs).filter(java.util.Objects::nonNull)
                .mapToLong(e -> e.epoch).boxed().sorted(java.util.Comparator.reverseOrder())
                .mapToLong(Long::longValue).toArray();
    }

    /**
     * Installs the base key of {@code epoch} and makes it the sending epoch. Evicts an epoch with
     * the same low E bits, then the oldest epoch if all slots are taken. Any sender index the KID
     * layout holds may send; {@link #installEpoch(long, byte[], long)} bounds them.
     */
    public void installEpoch(long epoch, byte[] baseKey) {
        installEpoch(epoch, baseKey, 1L << senderBits);
    }

    /**
     * Installs {@code epoch} as {@link #installEpoch(long, byte[])} does, with the number of leaves
     * of the group's tree in that epoch: frames whose KID names a sender index at or above it are
     * refused ({@code ERR_UNKNOWN_KID}) before any key is derived.
     */
    public void installEpoch(long epoch, byte[] baseKey, long senders) {
        if (baseKey.length != suite.nk) {
            throw new IllegalArgumentException("base key must be Nk = " + suite.nk + " bytes");
        }
        if (senders < 1) {
            throw new IllegalArgumentException("an epoch has at least one sender");
        }
        for (Epoch x : epochs) {
            if (x != null && x.epoch == epoch) {
                // Installing it again must not restart the send counter: AES-GCM would reuse nonces.
                if (!java.security.MessageDigest.isEqual(x.baseKey, baseKey)) {
                    throw new IllegalArgumentException("epoch " + epoch + " is already installed with another base key");
                }
                x.senders = senders;
                if (current == null || epoch >= current.epoch) {
                    current = x;
                }
                return;
            }
        }
        long low = epoch & ((1L << epochBits) - 1);
        int free = -1;
        for (int i = 0; i < epochs.length; i++) {
            if (epochs[i] != null && (epochs[i].epoch & ((1L << epochBits) - 1)) == low) {
                epochs[i] = null;
            }
            if (epochs[i] == null && free < 0) {
                free = i;
            }
        }
        if (free < 0) {
            int oldest = 0;
            for (int i = 1; i < epochs.length; i++) {
                if (epochs[i].epoch < epochs[oldest].epoch) {
                    oldest = i;
                }
            }
            free = oldest;
        }
        Epoch e = new Epoch(suite, epoch, baseKey, maxKeysPerEpoch, senders);
        epochs[free] = e;
        if (current == null || !contains(current) || epoch >= current.epoch) {
            current = e;
        }
    }

    private boolean contains(Epoch e) {
        for (Epoch x : epochs) {
            if (x == e) {
                return true;
            }
        }
        return false;
    }

    /** Forgets an epoch, e.g. when its grace window ends. */
    public void dropEpoch(long epoch) {
        for (int i = 0; i < epochs.length; i++) {
            if (epochs[i] != null && epochs[i].epoch == epoch) {
                if (epochs[i] == current) {
                    current = null;
                }
                epochs[i] = null;
            }
        }
    }

    /**
     * Encrypts a frame from {@code senderIndex} under the current epoch with context 0 and the
     * next counter.
     *
     * @return bytes written or a negative {@link SFrameContext} error code
     */
    public int protect(int senderIndex, byte[] metadata, int metaOff, int metaLen,
                       byte[] plaintext, int ptOff, int ptLen, byte[] out, int outOff) {
        return protect(0, senderIndex, metadata, metaOff, metaLen, plaintext, ptOff, ptLen, out, outOff);
    }

    /**
     * Encrypts a frame of one of the sender's streams: {@code context} tells the streams (or devices)
     * of one sender apart, so that no two of them share a KID and counter (RFC 9605 section 5.2).
     * Each KID's counter only goes up for as long as its epoch is installed, also when the sender
     * switches between KIDs.
     *
     * @return bytes written or a negative {@link SFrameContext} error code
     */
    public int protect(long context, int senderIndex, byte[] metadata, int metaOff, int metaLen,
                       byte[] plaintext, int ptOff, int ptLen, byte[] out, int outOff) {
        Epoch e = current;
        if (e == null) {
            return SFrameContext.ERR_UNKNOWN_KID;
        }
        if (context < 0 || context >= (1L << (63 - senderBits - epochBits))) {
            return SFrameContext.ERR_UNKNOWN_KID;
        }
        long kid = kid(context, senderIndex, e.epoch);
        SFrameKey key = e.sendKey;
        if (key == null || key.kid() != kid) {
            if (key != null) {
                if (e.laterCounters == null) {
                    e.laterCounters = new java.util.HashMap<>();
                }
                e.laterCounters.put(key.kid(), e.sendCtr);
            }
            key = SFrameKey.derive(e.schedule, kid);
            e.sendKey = key;
            Long resumed = e.laterCounters == null ? null : e.laterCounters.remove(kid);
            e.sendCtr = resumed == null ? 0 : resumed;
        }
        return SFrameContext.encrypt(key, e.sendCtr++, metadata, metaOff, metaLen, plaintext, ptOff, ptLen, out, outOff);
    }

    /**
     * Decrypts a frame sealed under any retained epoch.
     *
     * @return plaintext length or a negative {@link SFrameContext} error code
     */
    public int unprotect(byte[] metadata, int metaOff, int metaLen, byte[] frame, int off, int len,
                         byte[] out, int outOff) {
        int hdrLen = header.decode(frame, off, len);
        if (hdrLen < 0 || len - hdrLen < suite.nt) {
            return SFrameContext.ERR_MALFORMED;
        }
        long kid = header.kid();
        long low = kid & ((1L << epochBits) - 1);
        Epoch e = null;
        for (Epoch x : epochs) {
            if (x != null && (x.epoch & ((1L << epochBits) - 1)) == low) {
                e = x;
                break;
            }
        }
        if (e == null) {
            return SFrameContext.ERR_UNKNOWN_KID;
        }
        SFrameKey key = e.keys.get(kid);
        if (key != null) {
            return SFrameContext.decrypt(key, header.ctr(), hdrLen, metadata, metaOff, metaLen, frame, off, len, out, outOff);
        }
        if (!mayExist(e, kid)) {
            return SFrameContext.ERR_UNKNOWN_KID;
        }
        // Tried under the epoch's trial key, kept only if the frame verifies, so forged KIDs cannot fill the
        // table and cost no new key object and no 64 KiB GHASH table (the JDK's AES and HMAC still allocate ~1.5 KB).
        SFrameKey trial = e.trial;
        if (trial == null) {
            trial = SFrameKey.trial(e.schedule, kid);
            e.trial = trial;
        } else if (trial.kid() != kid) {
            // The same unknown KID again (a forger repeating it, or a sender whose frames keep failing) keeps its key.
            trial.retry(e.schedule, kid);
        }
        int n = SFrameContext.decrypt(trial, header.ctr(), hdrLen, metadata, metaOff, metaLen, frame, off, len, out, outOff);
        if (n >= 0) {
            trial.verified();
            e.keys.put(trial);
            e.trial = null;
        }
        return n;
    }

    /**
     * Whether a KID of epoch {@code e} may be a real sender's: a context {@link #protect} seals under
     * (below 2^(63 - S - E), i.e. a KID that is non-negative as a long) and a sender index below the
     * epoch's sender count.
     */
    private boolean mayExist(Epoch e, long kid) {
        return kid >= 0 && senderIndexOf(kid) < e.senders;
    }

    public byte[] protect(int senderIndex, byte[] metadata, byte[] plaintext) {
        byte[] out = new byte[SFrameHeader.MAX_LENGTH + plaintext.length + suite.nt];
        int n = protect(senderIndex, metadata, 0, metadata.length, plaintext, 0, plaintext.length, out, 0);
        if (n < 0) {
            throw new SFrameException(SFrameContext.reason(n));
        }
        return java.util.Arrays.copyOf(out, n);
    }

    public byte[] unprotect(byte[] metadata, byte[] frame) {
        byte[] out = new byte[Math.max(0, frame.length - suite.nt)];
        int n = unprotect(metadata, 0, metadata.length, frame, 0, frame.length, out, 0);
        if (n < 0) {
            throw new SFrameException(SFrameContext.reason(n));
        }
        return java.util.Arrays.copyOf(out, n);
    }
}
