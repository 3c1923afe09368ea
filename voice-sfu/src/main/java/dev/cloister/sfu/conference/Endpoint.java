package dev.cloister.sfu.conference;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * One member's media leg in a conference: its SFU-assigned SSRC and ICE credentials, the UDP
 * address it bound with STUN, its control flags, its smoothed loudness and its statistics.
 *
 * <p>Threads: control requests change the flags; the I/O worker that receives the endpoint's
 * datagrams writes the binding, loudness and reception statistics; the speaker selector writes
 * {@link #isSpeaker()}. Everything read across threads is volatile or published through
 * {@link ForwardingCounters}/{@link ReceptionStatistics}.
 */
public final class Endpoint {

    /** Loudness is kept in sixteenths of a dB above silence (RFC 6464 level 127). */
    static final int LOUDNESS_SCALE = 16;

    private final Conference conference;
    private final String id;
    private final int ssrc;
    private final String iceUfrag;
    private final String icePwd;
    private final byte[] icePwdBytes;

    private volatile InetSocketAddress address;
    private volatile long consentExpiresNanos;
    private volatile boolean serverMuted;
    private volatile boolean deafened;
    private volatile boolean removed;
    private volatile boolean speaker;

    private volatile int loudness; // smoothed, LOUDNESS_SCALE units
    private volatile long lastAudioNanos;
    private volatile boolean heardAudio;
    long quietSinceNanos; // speaker selector only

    private volatile long packetsIn;
    private volatile long bytesIn;
    private final ReceptionStatistics reception = new ReceptionStatistics(48_000);
    private final ForwardingCounters forwarded;

    private volatile long rtcpPacketsIn;
    private volatile int reportedFractionLost = -1;
    private volatile long reportedCumulativeLost;
    private volatile long reportedJitter;

    Endpoint(Conference conference, String id, int ssrc, String iceUfrag, String icePwd, int workers) {
        this.conference = conference;
        this.id = id;
        this.ssrc = ssrc;
        this.iceUfrag = iceUfrag;
        this.icePwd = icePwd;
        this.icePwdBytes = icePwd.getBytes(StandardCharsets.UTF_8);
        this.forwarded = new ForwardingCounters(workers);
    }

    public Conference conference() {
        return conference;
    }

    public String id() {
        return id;
    }

    public int ssrc() {
        return ssrc;
    }

    public String iceUfrag() {
        return iceUfrag;
    }

    public String icePwd() {
        return icePwd;
    }

    /** The short-term credential key for MESSAGE-INTEGRITY (the password's UTF-8 bytes); do not modify. */
    public byte[] icePwdBytes() {
        return icePwdBytes;
    }

    public InetSocketAddress address() {
        return address;
    }

    void bind(InetSocketAddress newAddress, long consentExpiresAt) {
        this.address = newAddress;
        this.consentExpiresNanos = consentExpiresAt;
    }

    // -- STUN transactions seen (conference lock held): a replayed request must not move the binding --

    private static final int REMEMBERED_TRANSACTIONS = 64;
    private final long[] txHigh = new long[REMEMBERED_TRANSACTIONS];
    private final int[] txLow = new int[REMEMBERED_TRANSACTIONS];
    private final InetSocketAddress[] txFrom = new InetSocketAddress[REMEMBERED_TRANSACTIONS];
    private int txNext;
    /** A fresh request from an address other than the live binding's, waiting for a second. */
    InetSocketAddress moveCandidate;
    /** The last valid request from the bound address. */
    long lastStunNanos;

    /** When the bound address was last heard from (RTP or a valid Binding Request). */
    long lastHeardNanos() {
        long audio = lastAudioNanos;
        return audio - lastStunNanos > 0 ? audio : lastStunNanos;
    }

    /** Where a recent request with this transaction ID came from, or null if none did. */
    InetSocketAddress transactionSeenFrom(long high, int low) {
        for (int i = 0; i < REMEMBERED_TRANSACTIONS; i++) {
            if (txFrom[i] != null && txHigh[i] == high && txLow[i] == low) {
                return txFrom[i];
            }
        }
        return null;
    }

    void rememberTransaction(long high, int low, InetSocketAddress from) {
        txHigh[txNext] = high;
        txLow[txNext] = low;
        txFrom[txNext] = from;
        txNext = (txNext + 1) % REMEMBERED_TRANSACTIONS;
    }

    void refreshConsent(long consentExpiresAt) {
        this.consentExpiresNanos = consentExpiresAt;
    }

    void unbind() {
        this.address = null;
        this.consentExpiresNanos = 0;
    }

    void markRemoved() {
        removed = true;
        speaker = false;
        unbind();
    }

    public boolean isRemoved() {
        return removed;
    }

    /** Bound with a STUN binding whose consent has not expired at {@code nowNanos}. */
    public boolean hasConsent(long nowNanos) {
        return address != null && nowNanos - consentExpiresNanos < 0;
    }

    long consentExpiresNanos() {
        return consentExpiresNanos;
    }

    /** Where to forward others' packets to, or null if this endpoint must not receive now. */
    public InetSocketAddress forwardingTarget(long nowNanos) {
        InetSocketAddress a = address;
        if (a == null || deafened || removed || nowNanos - consentExpiresNanos >= 0) {
            return null;
        }
        return a;
    }

    public boolean isServerMuted() {
        return serverMuted;
    }

    void serverMuted(boolean muted) {
        this.serverMuted = muted;
        if (muted) {
            speaker = false;
        }
    }

    public boolean isDeafened() {
        return deafened;
    }

    void deafened(boolean deafened) {
        this.deafened = deafened;
    }

    public boolean isSpeaker() {
        return speaker;
    }

    void speaker(boolean speaker) {
        this.speaker = speaker;
    }

    /** Whether this endpoint's media is forwarded now: a selected speaker that is not server-muted. */
    public boolean isForwarded() {
        return speaker && !serverMuted;
    }

    /**
     * Accounts one RTP packet from this endpoint and folds its RFC 6464 level (0 loudest .. 127
     * silent, or negative if the packet had none, which counts as silence) into the smoothed loudness.
     * Rises fast and decays slowly, so a speaker does not drop out between words.
     */
    public void onRtp(int sequenceNumber, long rtpTimestamp, int audioLevel, int bytes, long nowNanos) {
        packetsIn = packetsIn + 1;
        bytesIn = bytesIn + bytes;
        reception.onPacket(sequenceNumber, rtpTimestamp, nowNanos);
        int sample = audioLevel < 0 ? 0 : (127 - audioLevel) * LOUDNESS_SCALE;
        int current = loudness;
        int delta = sample - current;
        loudness = current + (delta > 0 ? delta / 4 : delta / 16);
        lastAudioNanos = nowNanos;
        heardAudio = true;
    }

    /** Smoothed loudness in dB above silence; 0 if nothing was heard within {@code staleNanos}. */
    public int loudness(long nowNanos, long staleNanos) {
        if (!heardAudio || nowNanos - lastAudioNanos > staleNanos) {
            return 0;
        }
        return loudness / LOUDNESS_SCALE;
    }

    /** Smoothed loudness in dB above silence, as last computed. */
    public int lastLoudness() {
        return loudness / LOUDNESS_SCALE;
    }

    /** Records the reception report this endpoint sent about what it receives (RFC 3550 section 6.4). */
    public void onReceptionReport(int fractionLost, long cumulativeLost, long jitter) {
        reportedFractionLost = fractionLost;
        reportedCumulativeLost = cumulativeLost;
        reportedJitter = jitter;
    }

    public void onRtcp() {
        rtcpPacketsIn = rtcpPacketsIn + 1;
    }

    public long packetsIn() {
        return packetsIn;
    }

    public long bytesIn() {
        return bytesIn;
    }

    public ReceptionStatistics reception() {
        return reception;
    }

    public ForwardingCounters forwarded() {
        return forwarded;
    }

    public long rtcpPacketsIn() {
        return rtcpPacketsIn;
    }

    /** Last reported fraction lost (0..255 = 0..255/256), or -1 if no report arrived yet. */
    public int reportedFractionLost() {
        return reportedFractionLost;
    }

    public long reportedCumulativeLost() {
        return reportedCumulativeLost;
    }

    public long reportedJitter() {
        return reportedJitter;
    }
}
