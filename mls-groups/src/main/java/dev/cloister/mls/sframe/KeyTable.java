package dev.cloister.mls.sframe;

/**
 * A small open-addressing map from a 64-bit KID to its key, so a lookup per frame neither boxes
 * the KID nor allocates. Capacity is fixed; insertion order is kept to evict the oldest key.
 */
final class KeyTable {
    private final long[] kids;
    private final SFrameKey[] keys;
    private final long[] order;
    private final int mask;
    private final int maxKeys;
    private int size;
    private int orderHead;

    KeyTable(int maxKeys) {
        if (maxKeys < 1) {
            throw new IllegalArgumentException("maxKeys must be positive");
        }
        int cap = Integer.highestOneBit(Math.max(4, maxKeys * 2 - 1)) << 1;
        this.kids = new long[cap];
        this.keys = new SFrameKey[cap];
        this.order = new long[maxKeys];
        this.mask = cap - 1;
        this.maxKeys = maxKeys;
    }

    int size() {
        return size;
    }

    SFrameKey get(long kid) {
        int i = slot(kid);
        while (keys[i] != null) {
            if (kids[i] == kid) {
                return keys[i];
            }
            i = (i + 1) & mask;
        }
        return null;
    }

    /** Inserts or replaces; when full, evicts the key inserted first. */
    void put(SFrameKey key) {
        long kid = key.kid();
        int i = slot(kid);
        while (keys[i] != null) {
            if (kids[i] == kid) {
                keys[i] = key;
                return;
            }
            i = (i + 1) & mask;
        }
        if (size == maxKeys) {
            remove(oldest());
        }
        i = slot(kid);
        while (keys[i] != null) {
            i = (i + 1) & mask;
        }
        kids[i] = kid;
        keys[i] = key;
        order[(orderHead + size) % maxKeys] = kid;
        size++;
    }

    private long oldest() {
        return order[orderHead];
    }

    boolean remove(long kid) {
        int i = slot(kid);
        while (keys[i] != null && kids[i] != kid) {
            i = (i + 1) & mask;
        }
        if (keys[i] == null) {
            return false;
        }
        keys[i] = null;
        // Backward-shift deletion keeps probe chains intact without tombstones.
        int j = i;
        while (true) {
            j = (j + 1) & mask;
            if (keys[j] == null) {
                break;
            }
            int home = slot(kids[j]);
            boolean between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
            if (!between) {
                kids[i] = kids[j];
                keys[i] = keys[j];
                keys[j] = null;
                i = j;
            }
        }
        removeFromOrder(kid);
        return true;
    }

    private void removeFromOrder(long kid) {
        int pos = -1;
        for (int k = 0; k < size; k++) {
            if (order[(orderHead + k) % maxKeys] == kid) {
                pos = k;
                break;
            }
        }
        for (int k = pos; k < size - 1; k++) {
            order[(orderHead + k) % maxKeys] = order[(orderHead + k + 1) % maxKeys];
        }
        size--;
    }

    void clear() {
        java.util.Arrays.fill(keys, null);
        size = 0;
        orderHead = 0;
    }

    private int slot(long kid) {
        long h = kid * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask;
    }
}
