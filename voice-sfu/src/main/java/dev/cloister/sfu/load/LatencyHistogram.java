package dev.cloister.sfu.load;

/** Fixed 10 µs buckets up to one second (beyond that: the last bucket). One writer; merge to read. */
final class LatencyHistogram {

    private static final long BUCKET_NANOS = 10_000L;
    private static final int BUCKETS = 100_000;
    private final long[] counts = new long[BUCKETS];
    private long total;
    private long maxNanos;

    void record(long nanos) {
        long n = Math.max(0, nanos);
        int b = (int) Math.min(BUCKETS - 1, n / BUCKET_NANOS);
        counts[b]++;
        total++;
        if (n > maxNanos) {
            maxNanos = n;
        }
    }

    void add(LatencyHistogram other) {
        for (int i = 0; i < BUCKETS; i++) {
            counts[i] += other.counts[i];
        }
        total += other.total;
        maxNanos = Math.max(maxNanos, other.maxNanos);
    }

    /** How many recorded values exceed {@code nanos} (to bucket resolution). */
    long countAbove(long nanos) {
        long sum = 0;
        for (int i = (int) Math.min(BUCKETS - 1, nanos / BUCKET_NANOS + 1); i < BUCKETS; i++) {
            sum += counts[i];
        }
        return sum;
    }

    long total() {
        return total;
    }

    /** Upper bound of the bucket holding quantile {@code q}, in microseconds. */
    double percentileMicros(double q) {
        if (total == 0) {
            return Double.NaN;
        }
        long rank = (long) Math.ceil(q * total);
        long seen = 0;
        for (int i = 0; i < BUCKETS; i++) {
            seen += counts[i];
            if (seen >= rank) {
                return (i + 1) * BUCKET_NANOS / 1000.0;
            }
        }
        return maxNanos / 1000.0;
    }

    double maxMicros() {
        return maxNanos / 1000.0;
    }
}
