package dev.cloister.mls.sframe;

/**
 * The SFrame header of RFC 9605 section 4.3: one config byte {@code X|K(3)|Y|C(3)} then the
 * optional KID and CTR bytes, big-endian, minimal length. KID and CTR are unsigned 64-bit values
 * carried in Java {@code long}s.
 *
 * <p>A decoded header is held in a reusable instance so parsing allocates nothing.
 */
public final class SFrameHeader {
    /** The longest header: config byte plus an 8-byte KID and an 8-byte CTR. */
    public static final int MAX_LENGTH = 17;

    private long kid;
    private long ctr;
    private int length;

    public long kid() {
        return kid;
    }

    public long ctr() {
        return ctr;
    }

    /** Length in bytes of the last header decoded into this instance. */
    public int length() {
        return length;
    }

    /**
     * Decodes the header at {@code buf[off..off+len)}.
     *
     * @return the header length, or -1 if the bytes are too short for the header they announce
     */
    public int decode(byte[] buf, int off, int len) {
        if (len < 1) {
            return -1;
        }
        int config = buf[off] & 0xff;
        int pos = 1;
        long k = (config >>> 4) & 0x7;
        if ((config & 0x80) != 0) {
            int n = (int) k + 1;
            if (len < pos + n) {
                return -1;
            }
            k = readUnsigned(buf, off + pos, n);
            pos += n;
        }
        long c = config & 0x7;
        if ((config & 0x08) != 0) {
            int n = (int) c + 1;
            if (len < pos + n) {
                return -1;
            }
            c = readUnsigned(buf, off + pos, n);
            pos += n;
        }
        this.kid = k;
        this.ctr = c;
        this.length = pos;
        return pos;
    }

    /** The encoded length of a header for these (unsigned) values. */
    public static int encodedLength(long kid, long ctr) {
        return 1 + fieldLength(kid) + fieldLength(ctr);
    }

    /** Writes the header for {@code kid} and {@code ctr} at {@code out[off]}; returns its length. */
    public static int encode(long kid, long ctr, byte[] out, int off) {
        int kidLen = fieldLength(kid);
        int ctrLen = fieldLength(ctr);
        int config = kidLen == 0 ? (int) kid << 4 : 0x80 | (kidLen - 1) << 4;
        config |= ctrLen == 0 ? (int) ctr : 0x08 | (ctrLen - 1);
        out[off] = (byte) config;
        writeUnsigned(kid, out, off + 1, kidLen);
        writeUnsigned(ctr, out, off + 1 + kidLen, ctrLen);
        return 1 + kidLen + ctrLen;
    }

    public static byte[] encode(long kid, long ctr) {
        byte[] out = new byte[encodedLength(kid, ctr)];
        encode(kid, ctr, out, 0);
        return out;
    }

    /** Bytes needed after the config byte: 0 for values below 8, else the minimal byte count. */
    static int fieldLength(long v) {
        if (v >= 0 && v < 8) {
            return 0;
        }
        return Math.max(1, (64 - Long.numberOfLeadingZeros(v) + 7) / 8);
    }

    private static long readUnsigned(byte[] buf, int off, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            v = (v << 8) | (buf[off + i] & 0xff);
        }
        return v;
    }

    private static void writeUnsigned(long v, byte[] out, int off, int n) {
        for (int i = n - 1; i >= 0; i--) {
            out[off + i] = (byte) v;
            v >>>= 8;
        }
    }
}
