package dev.cloister.mls.wire;

/**
 * A bounds-checked reader for the TLS presentation language of RFC 9420 (section 2.1.2):
 * fixed-width integers and vectors with a variable-length prefix. Every length is checked
 * against both the bytes that remain and a caller-given maximum before anything is copied.
 */
public final class MlsReader {
    private final byte[] buf;
    private int pos;
    private final int end;

    public MlsReader(byte[] buf) {
        this(buf, 0, buf.length);
    }

    public MlsReader(byte[] buf, int off, int len) {
        this.buf = buf;
        this.pos = off;
        this.end = off + len;
    }

    public int position() {
        return pos;
    }

    public int remaining() {
        return end - pos;
    }

    private void need(int n, String what) throws MlsWireException {
        if (n < 0 || end - pos < n) {
            throw new MlsWireException("truncated " + what);
        }
    }

    public int u8(String what) throws MlsWireException {
        need(1, what);
        return buf[pos++] & 0xff;
    }

    public int u16(String what) throws MlsWireException {
        need(2, what);
        int v = (buf[pos] & 0xff) << 8 | (buf[pos + 1] & 0xff);
        pos += 2;
        return v;
    }

    public long u32(String what) throws MlsWireException {
        need(4, what);
        long v = 0;
        for (int i = 0; i < 4; i++) {
            v = v << 8 | (buf[pos + i] & 0xff);
        }
        pos += 4;
        return v;
    }

    public long u64(String what) throws MlsWireException {
        need(8, what);
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | (buf[pos + i] & 0xff);
        }
        pos += 8;
        return v;
    }

    /** The variable-length vector prefix of RFC 9420 section 2.1.2; minimal encoding is required. */
    public int varint(String what) throws MlsWireException {
        int first = u8(what);
        int prefix = first >>> 6;
        int v = first & 0x3f;
        switch (prefix) {
            case 0:
                return v;
            case 1:
                v = v << 8 | u8(what);
                if (v < 0x40) {
                    throw new MlsWireException("non-minimal length of " + what);
                }
                return v;
            case 2:
                need(3, what);
                for (int i = 0; i < 3; i++) {
                    v = v << 8 | (buf[pos++] & 0xff);
                }
                if (v < 0x4000) {
                    throw new MlsWireException("non-minimal length of " + what);
                }
                return v;
            default:
                throw new MlsWireException("invalid length prefix of " + what);
        }
    }

    /** Reads the length of a vector, bounded by {@code max} and the bytes left. */
    public int vectorLength(String what, int max) throws MlsWireException {
        int len = varint(what);
        if (len > max) {
            throw new MlsWireException(what + " is " + len + " bytes, more than the limit of " + max);
        }
        need(len, what);
        return len;
    }

    public byte[] opaque(String what, int max) throws MlsWireException {
        int len = vectorLength(what, max);
        byte[] out = java.util.Arrays.copyOfRange(buf, pos, pos + len);
        pos += len;
        return out;
    }

    /** Skips an opaque vector; returns its length. */
    public int skipOpaque(String what, int max) throws MlsWireException {
        int len = vectorLength(what, max);
        pos += len;
        return len;
    }

    /** A reader over the next vector's contents; this reader moves past it. */
    public MlsReader vector(String what, int max) throws MlsWireException {
        int len = vectorLength(what, max);
        MlsReader inner = new MlsReader(buf, pos, len);
        pos += len;
        return inner;
    }

    public void expectEnd(String what) throws MlsWireException {
        if (pos != end) {
            throw new MlsWireException((end - pos) + " trailing bytes after " + what);
        }
    }

    public byte[] slice(int from, int to) {
        return java.util.Arrays.copyOfRange(buf, from, to);
    }

    /** Writes the RFC 9420 variable-length prefix for {@code len}. */
    public static byte[] varintPrefix(int len) {
        if (len < 0x40) {
            return new byte[] {(byte) len};
        }
        if (len < 0x4000) {
            return new byte[] {(byte) (0x40 | len >>> 8), (byte) len};
        }
        if (len < 0x40000000) {
            return new byte[] {(byte) (0x80 | len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len};
        }
        throw new IllegalArgumentException("vector too long");
    }

    /** {@code opaque<V>} encoding of {@code data}. */
    public static byte[] opaqueOf(byte[] data) {
        byte[] p = varintPrefix(data.length);
        byte[] out = new byte[p.length + data.length];
        System.arraycopy(p, 0, out, 0, p.length);
        System.arraycopy(data, 0, out, p.length, data.length);
        return out;
    }
}
