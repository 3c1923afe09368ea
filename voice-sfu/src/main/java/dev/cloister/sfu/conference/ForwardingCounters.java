package dev.cloister.sfu.conference;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Packets and bytes forwarded to one endpoint, striped by I/O worker so that every worker writes
 * only its own cache line: no locks or atomic read-modify-write on the forwarding path.
 */
public final class ForwardingCounters {

    private static final int STRIDE = 8; // 64 bytes per worker
    private final AtomicLongArray cells;
    private final int workers;

    public ForwardingCounters(int workers) {
        this.workers = workers;
        this.cells = new AtomicLongArray(workers * STRIDE);
    }

    /** Called by worker {@code worker} only. */
    public void add(int worker, int bytes) {
        int i = worker * STRIDE;
        cells.setOpaque(i, cells.getPlain(i) + 1);
        cells.setOpaque(i + 1, cells.getPlain(i + 1) + bytes);
    }

    public long packets() {
        long sum = 0;
        for (int w = 0; w < workers; w++) {
            sum += cells.getOpaque(w * STRIDE);
        }
        return sum;
    }

    public long bytes() {
        long sum = 0;
        for (int w = 0; w < workers; w++) {
            sum += cells.getOpaque(w * STRIDE + 1);
        }
        return sum;
    }
}
