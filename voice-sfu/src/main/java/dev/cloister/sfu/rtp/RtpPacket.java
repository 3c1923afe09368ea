package dev.cloister.sfu.rtp;

/**
 * A reusable, allocation-free view of one RTP packet (RFC 3550 section 5.1) with its one-byte
 * header extensions (RFC 8285 section 4.2). {@link #wrap} validates every length against the
 * datagram before any field is read; a view that failed to wrap must not be read.
 */
public final class RtpPacket {

    public static final int FIXED_HEADER_LENGTH = 12;
    /** "defined by profile" value announcing one-byte header extensions (RFC 8285 section 4.2). */
    public static final int ONE_BYTE_EXTENSION_PROFILE = 0xBEDE;
    /** An audio level element carries no level; RFC 6464 levels are 0..127 (-dBov). */
    public static final int NO_AUDIO_LEVEL = -1;

    private byte[] buf;
    private int offset;
    private int length;
    private int headerLength;
    private int extensionOffset;
    private int extensionLength;
    private int payloadLength;

    /**
     * Points this view at {@code length} bytes of {@code buf} from {@code offset}.
     *
     * @return false if the bytes are not a well-formed RTP version 2 packet
     */
    public boolean wrap(byte[] buf, int offset, int length) {
        this.buf = null;
        if (buf == null || offset < 0 || length < FIXED_HEADER_LENGTH || offset > buf.length - length) {
            return false;
        }
        int b0 = buf[offset] & 0xFF;
        if ((b0 >>> 6) != 2) {
            return false;
        }
        int csrcCount = b0 & 0x0F;
        int header = FIXED_HEADER_LENGTH + 4 * csrcCount;
        if (header > length) {
            return false;
        }
        int extOffset = -1;
        int extLength = 0;
        if ((b0 & 0x10) != 0) {
            if (header + 4 > length) {
                return false;
            }
            int words = ((buf[offset + header + 2] & 0xFF) << 8) | (buf[offset + header + 3] & 0xFF);
            extOffset = header + 4;
            extLength = 4 * words;
            header = extOffset + extLength;
            if (header > length) {
                return false;
            }
        }
        int padding = 0;
        if ((b0 & 0x20) != 0) {
            padding = buf[offset + length - 1] & 0xFF;
            if (padding == 0 || header + padding > length) {
                return false;
            }
        }
        this.buf = buf;
        this.offset = offset;
        this.length = length;
        this.headerLength = header;
        this.extensionOffset = extOffset;
        this.extensionLength = extLength;
        this.payloadLength = length - header - padding;
        return true;
    }

    public int length() {
        return length;
    }

    public boolean marker() {
        return (buf[offset + 1] & 0x80) != 0;
    }

    public int payloadType() {
        return buf[offset + 1] & 0x7F;
    }

    public int sequenceNumber() {
        return ((buf[offset + 2] & 0xFF) << 8) | (buf[offset + 3] & 0xFF);
    }

    /** The RTP timestamp as an unsigned 32-bit value. */
    public long timestamp() {
        return readUint32(buf, offset + 4);
    }

    /** The SSRC as a signed int (compare with {@code ==}; print with {@link Integer#toUnsignedString}). */
    public int ssrc() {
        return (int) readUint32(buf, offset + 8);
    }

    public int csrcCount() {
        return buf[offset] & 0x0F;
    }

    public int headerLength() {
        return headerLength;
    }

    public int payloadOffset() {
        return offset + headerLength;
    }

    public int payloadLength() {
        return payloadLength;
    }

    public boolean hasExtension() {
        return extensionOffset >= 0;
    }

    /** The 16-bit "defined by profile" field of the header extension, or -1 without one. */
    public int extensionProfile() {
        if (extensionOffset < 0) {
            return -1;
        }
        int p = offset + extensionOffset - 4;
        return ((buf[p] & 0xFF) << 8) | (buf[p + 1] & 0xFF);
    }

    /**
     * Finds the one-byte extension element {@code id} (1..14) and returns the offset of its first
     * data byte in the backing array, or -1 if absent. Malformed element lists end the search.
     */
    public int findOneByteExtension(int id) {
        if (extensionOffset < 0 || extensionProfile() != ONE_BYTE_EXTENSION_PROFILE || id < 1 || id > 14) {
            return -1;
        }
        int p = offset + extensionOffset;
        int end = p + extensionLength;
        while (p < end) {
            int b = buf[p] & 0xFF;
            int elementId = b >>> 4;
            if (elementId == 0) {
                p++; // padding byte (RFC 8285 section 4.2)
                continue;
            }
            if (elementId == 15) {
                return -1; // reserved: stop processing the extension
            }
            int dataLength = (b & 0x0F) + 1;
            if (p + 1 + dataLength > end) {
                return -1;
            }
            if (elementId == id) {
                return p + 1;
            }
            p += 1 + dataLength;
        }
        return -1;
    }

    /**
     * The RFC 6464 audio level (0 = loudest, 127 = silence, in -dBov) from the one-byte extension
     * element {@code id}, or {@link #NO_AUDIO_LEVEL} if the packet has none.
     */
    public int audioLevel(int id) {
        int p = findOneByteExtension(id);
        return p < 0 ? NO_AUDIO_LEVEL : buf[p] & 0x7F;
    }

    /** The voice-activity flag of the RFC 6464 element, false if absent. */
    public boolean voiceActivity(int id) {
        int p = findOneByteExtension(id);
        return p >= 0 && (buf[p] & 0x80) != 0;
    }

    static long readUint32(byte[] b, int p) {
        return ((long) (b[p] & 0xFF) << 24) | ((b[p + 1] & 0xFF) << 16) | ((b[p + 2] & 0xFF) << 8) | (b[p + 3] & 0xFF);
    }

    /**
     * Writes a minimal RTP header with an RFC 6464 audio level in a one-byte extension, followed by
     * {@code payloadLength} bytes of {@code payload}. Used by clients, tests and the load generator.
     *
     * @param audioLevel 0..127, or {@link #NO_AUDIO_LEVEL} to write no extension
     * @return the number of bytes written
     */
    public static int write(byte[] out, int payloadType, int sequenceNumber, long timestamp, int ssrc,
                            int audioLevelExtId, int audioLevel, boolean voiceActivity,
                            byte[] payload, int payloadOffset, int payloadLength) {
        boolean ext = audioLevel != NO_AUDIO_LEVEL;
        out[0] = (byte) (ext ? 0x90 : 0x80);
        out[1] = (byte) (payloadType & 0x7F);
        out[2] = (byte) (sequenceNumber >>> 8);
        out[3] = (byte) sequenceNumber;
        writeUint32(out, 4, timestamp);
        writeUint32(out, 8, ssrc & 0xFFFFFFFFL);
        int p = FIXED_HEADER_LENGTH;
        if (ext) {
            out[p++] = (byte) 0xBE;
            out[p++] = (byte) 0xDE;
            out[p++] = 0;
            out[p++] = 1; // one 32-bit word: element header, level, two padding bytes
            out[p++] = (byte) (audioLevelExtId << 4); // L = 0: one data byte
            out[p++] = (byte) ((voiceActivity ? 0x80 : 0) | (audioLevel & 0x7F));
            out[p++] = 0;
            out[p++] = 0;
        }
        System.arraycopy(payload, payloadOffset, out, p, payloadLength);
        return p + payloadLength;
    }

    static void writeUint32(byte[] b, int p, long v) {
        b[p] = (byte) (v >>> 24);
        b[p + 1] = (byte) (v >>> 16);
        b[p + 2] = (byte) (v >>> 8);
        b[p + 3] = (byte) v;
    }
}
