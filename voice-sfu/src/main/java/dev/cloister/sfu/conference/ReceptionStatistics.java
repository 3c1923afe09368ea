package dev.cloister.sfu.conference;

/**
 * What the SFU measures about one endpoint's incoming RTP: packets lost from sequence numbers
 * (RFC 3550 appendix A.1 and A.3) and interarrival jitter (appendix A.8). One writer, the thread
 * that receives the endpoint's packets; readers see the published volatile values.
 */
public final class ReceptionStatistics {

    private static final int MAX_DROPOUT = 3000;
    private static final int MAX_MISORDER = 100;
    private static final int SEQ_MOD = 1 << 16;

    private final int clockRate;
    private boolean initialized;
    private int baseSequence;
    private int maxSequence;
    private long cycles;
    private long received;
    private long arrivalBaseNanos;
    private int lastTransit;
    private long jitterQ4; // jitter in timestamp units, scaled by 16 as in appendix A.8

    private volatile long publishedExpected;
    private volatile long publishedReceived;
    private volatile long publishedJitter;

    public ReceptionStatistics(int clockRate) {
        this.clockRate = clockRate;
    }

    /** Records one packet with the given sequence number and RTP timestamp arriving at {@code nowNanos}. */
    public void onPacket(int sequenceNumber, long rtpTimestamp, long nowNanos) {
        int arrival;
        if (!initialized) {
            initialized = true;
            baseSequence = sequenceNumber;
            maxSequence = sequenceNumber;
            cycles = 0;
            received = 0;
            arrivalBaseNanos = nowNanos;
            arrival = 0;
            lastTransit = arrival - (int) rtpTimestamp;
        } else {
            int delta = (sequenceNumber - maxSequence) & 0xFFFF;
            if (delta < MAX_DROPOUT) {
                if (sequenceNumber < maxSequence) {
                    cycles += SEQ_MOD;
                }
                maxSequence = sequenceNumber;
            } else if (delta <= SEQ_MOD - MAX_MISORDER) {
                // A jump too large to be loss: the sender restarted its sequence; start counting afresh.
                baseSequence = sequenceNumber;
                maxSequence = sequenceNumber;
                cycles = 0;
                received = 0;
            }
            // else: a duplicate or late packet; counted as received below, as appendix A.3 does.
            arrival = (int) ((nowNanos - arrivalBaseNanos) / 1000L * clockRate / 1_000_000L);
            int transit = arrival - (int) rtpTimestamp;
            int d = Math.abs(transit - lastTransit);
            lastTransit = transit;
            jitterQ4 += d - ((jitterQ4 + 8) >> 4);
        }
        received++;
        publishedExpected = cycles + maxSequence - baseSequence + 1;
        publishedReceived = received;
        publishedJitter = jitterQ4 >> 4;
    }

    public long expected() {
        return publishedExpected;
    }

    public long received() {
        return publishedReceived;
    }

    /** Packets lost so far, never negative (duplicates can make received exceed expected). */
    public long lost() {
        return Math.max(0, publishedExpected - publishedReceived);
    }

    /** Interarrival jitter in RTP timestamp units. */
    public long jitter() {
        return publishedJitter;
    }

    public double jitterMillis() {
        return publishedJitter * 1000.0 / clockRate;
    }
}
