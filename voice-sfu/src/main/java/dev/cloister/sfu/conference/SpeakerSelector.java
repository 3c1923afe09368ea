package dev.cloister.sfu.conference;

/**
 * Chooses the top-N speakers of a conference from each endpoint's smoothed RFC 6464 loudness.
 *
 * <p>Hysteresis keeps speakers from flapping: a free slot goes to anyone louder than the floor,
 * but a full set changes only when a candidate is louder than the quietest speaker by
 * {@code marginDb}, and a speaker who falls silent keeps the slot for {@code quietHoldNanos} unless a
 * candidate louder than it by that margin needs the slot (a silent speaker is far below anyone who talks,
 * so the next speaker in a conversation is forwarded from the first words).
 * Server-muted, unbound and removed endpoints are never speakers. Runs on one thread at a time.
 */
public final class SpeakerSelector {

    private final int topN;
    private final int floorDb;
    private final int marginDb;
    private final long staleNanos;
    private final long quietHoldNanos;
    private int[] loudness = new int[16];

    /**
     * @param topN           how many speakers are forwarded
     * @param floorDb        loudness (dB above RFC 6464 silence) needed to take a slot
     * @param marginDb       how much louder than the quietest speaker a candidate must be to replace it
     * @param staleNanos     an endpoint not heard from for this long counts as silent
     * @param quietHoldNanos a speaker below the floor for this long gives up its slot
     */
    public SpeakerSelector(int topN, int floorDb, int marginDb, long staleNanos, long quietHoldNanos) {
        if (topN < 0) {
            throw new IllegalArgumentException("topN must be >= 0");
        }
        this.topN = topN;
        this.floorDb = floorDb;
        this.marginDb = marginDb;
        this.staleNanos = staleNanos;
        this.quietHoldNanos = quietHoldNanos;
    }

    public int topN() {
        return topN;
    }

    /** Updates the speaker flags of {@code conference}'s endpoints for time {@code nowNanos}. */
    public void select(Conference conference, long nowNanos) {
        Endpoint[] es = conference.endpoints();
        int n = es.length;
        if (loudness.length < n) {
            loudness = new int[Math.max(n, loudness.length * 2)];
        }
        int speakers = 0;
        for (int i = 0; i < n; i++) {
            Endpoint e = es[i];
            boolean eligible = !e.isRemoved() && !e.isServerMuted() && e.hasConsent(nowNanos);
            int l = eligible ? e.loudness(nowNanos, staleNanos) : -1;
            loudness[i] = l;
            if (!e.isSpeaker()) {
                continue;
            }
            if (!eligible) {
                e.speaker(false);
                continue;
            }
            if (l < floorDb) {
                if (e.quietSinceNanos == 0) {
                    e.quietSinceNanos = nowNanos;
                } else if (nowNanos - e.quietSinceNanos >= quietHoldNanos) {
                    e.speaker(false);
                    e.quietSinceNanos = 0;
                    continue;
                }
            } else {
                e.quietSinceNanos = 0;
            }
            speakers++;
        }
        // Demote any excess (topN lowered, or flags left from before): drop the quietest first.
        while (speakers > topN) {
            int weakest = quietest(es, n);
            es[weakest].speaker(false);
            speakers--;
        }
        for (int round = 0; round < n; round++) {
            int best = -1;
            for (int i = 0; i < n; i++) {
                if (!es[i].isSpeaker() && loudness[i] >= floorDb && (best < 0 || loudness[i] > loudness[best])) {
                    best = i;
                }
            }
            if (best < 0) {
                return;
            }
            if (speakers < topN) {
                promote(es[best]);
                speakers++;
                continue;
            }
            int weakest = quietest(es, n);
            if (weakest < 0 || loudness[best] <= loudness[weakest] + marginDb) {
                return;
            }
            es[weakest].speaker(false);
            es[weakest].quietSinceNanos = 0;
            promote(es[best]);
        }
    }

    private static void promote(Endpoint e) {
        e.quietSinceNanos = 0;
        e.speaker(true);
    }

    private int quietest(Endpoint[] es, int n) {
        int weakest = -1;
        for (int i = 0; i < n; i++) {
            if (es[i].isSpeaker() && (weakest < 0 || loudness[i] < loudness[weakest])) {
                weakest = i;
            }
        }
        return weakest;
    }
}
