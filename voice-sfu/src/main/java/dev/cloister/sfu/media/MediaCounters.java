package dev.cloister.sfu.media;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Datagram counters of one I/O worker. Only the worker writes (opaque stores, no read-modify-write
 * atomics); {@link #sum} adds up the workers for the control API.
 */
public final class MediaCounters {

    /** What happened to datagrams, as reported by {@code GET /v1/stats}. */
    public enum Kind {
        DATAGRAMS_IN,
        STUN_BINDINGS,
        STUN_REJECTED,
        STUN_REPLAYED,
        STUN_RETRANSMISSIONS,
        STUN_MOVES_PENDING,
        RTP_IN,
        RTCP_IN,
        FORWARDED,
        DROPPED_MALFORMED,
        DROPPED_UNBOUND,
        DROPPED_FOREIGN_SSRC,
        RTP_NOT_FORWARDED,
        DROPPED_BACKPRESSURE,
        SEND_ERRORS
    }

    private static final Kind[] KINDS = Kind.values();
    private final AtomicLongArray cells = new AtomicLongArray(KINDS.length + 8); // trailing pad

    void increment(Kind kind) {
        int i = kind.ordinal();
        cells.setOpaque(i, cells.getPlain(i) + 1);
    }

    void add(Kind kind, long n) {
        int i = kind.ordinal();
        cells.setOpaque(i, cells.getPlain(i) + n);
    }

    public long get(Kind kind) {
        return cells.getOpaque(kind.ordinal());
    }

    /** Totals over workers, keyed by lower camel case names (e.g. {@code droppedMalformed}). */
    public static Map<String, Long> sum(List<MediaCounters> workers) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Kind k : KINDS) {
            long total = 0;
            for (MediaCounters w : workers) {
                total += w.get(k);
            }
            out.put(camel(k.name()), total);
        }
        return out;
    }

    private static String camel(String constant) {
        StringBuilder b = new StringBuilder();
        boolean upper = false;
        for (char c : constant.toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                b.append(upper ? c : Character.toLowerCase(c));
                upper = false;
            }
        }
        return b.toString();
    }
}
