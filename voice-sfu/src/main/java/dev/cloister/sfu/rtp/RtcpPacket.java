package dev.cloister.sfu.rtp;

/**
 * A reusable, allocation-free view of one compound RTCP packet (RFC 3550 section 6). {@link #wrap}
 * checks that the datagram is a sequence of version 2 RTCP packets whose lengths add up exactly,
 * and indexes the reception report blocks of its SR and RR packets (section 6.4).
 */
public final class RtcpPacket {

    public static final int SR = 200;
    public static final int RR = 201;
    public static final int SDES = 202;
    public static final int BYE = 203;
    public static final int APP = 204;
    /** More blocks than this in one datagram are ignored (31 per packet is RFC 3550's maximum). */
    public static final int MAX_REPORT_BLOCKS = 62;
    private static final int REPORT_BLOCK_LENGTH = 24;

    private final int[] blockOffsets = new int[MAX_REPORT_BLOCKS];
    private byte[] buf;
    private int blockCount;
    private int firstPacketType;
    private int firstSenderSsrc;
    private int packetCount;

    /**
     * RFC 5761 section 4 / RFC 7983: an RTP/RTCP datagram whose second byte is 192..223 is RTCP
     * (payload types 64..95 are not used by RTP here).
     */
    public static boolean looksLikeRtcp(byte[] buf, int offset, int length) {
        if (length < 8) {
            return false;
        }
        int b1 = buf[offset + 1] & 0xFF;
        return b1 >= 192 && b1 <= 223;
    }

    /** @return false if the bytes are not a well-formed compound RTCP packet */
    public boolean wrap(byte[] buf, int offset, int length) {
        this.buf = null;
        this.blockCount = 0;
        this.packetCount = 0;
        if (buf == null || offset < 0 || length < 4 || offset > buf.length - length || (length & 3) != 0) {
            return false;
        }
        int p = offset;
        int end = offset + length;
        int blocks = 0;
        int packets = 0;
        while (p < end) {
            if (end - p < 4) {
                return false;
            }
            int b0 = buf[p] & 0xFF;
            if ((b0 >>> 6) != 2) {
                return false;
            }
            int type = buf[p + 1] & 0xFF;
            int packetLength = 4 * ((((buf[p + 2] & 0xFF) << 8) | (buf[p + 3] & 0xFF)) + 1);
            if (packetLength > end - p) {
                return false;
            }
            if ((b0 & 0x20) != 0 && p + packetLength != end) {
                return false; // only the last packet of a compound may be padded
            }
            int count = b0 & 0x1F;
            int senderSsrc = packetLength >= 8 ? (int) RtpPacket.readUint32(buf, p + 4) : 0;
            if (type == SR || type == RR) {
                int firstBlock = p + (type == SR ? 28 : 8);
                if (firstBlock + count * REPORT_BLOCK_LENGTH > p + packetLength) {
                    return false;
                }
                for (int i = 0; i < count && blocks < MAX_REPORT_BLOCKS; i++) {
                    blockOffsets[blocks++] = firstBlock + i * REPORT_BLOCK_LENGTH;
                }
            }
            if (packets == 0) {
                firstPacketType = type;
                firstSenderSsrc = senderSsrc;
            }
            packets++;
            p += packetLength;
        }
        this.buf = buf;
        this.blockCount = blocks;
        this.packetCount = packets;
        return true;
    }

    public int packetCount() {
        return packetCount;
    }

    public int firstPacketType() {
        return firstPacketType;
    }

    /** SSRC of the sender of the first packet (SR, RR, ... all start with it). */
    public int senderSsrc() {
        return firstSenderSsrc;
    }

    public int reportBlockCount() {
        return blockCount;
    }

    public int sourceSsrc(int block) {
        return (int) RtpPacket.readUint32(buf, blockOffsets[block]);
    }

    /** Fraction of packets lost since the previous report, 0..255 meaning 0..255/256. */
    public int fractionLost(int block) {
        return buf[blockOffsets[block] + 4] & 0xFF;
    }

    /** Cumulative number of packets lost (signed 24-bit). */
    public int cumulativeLost(int block) {
        int p = blockOffsets[block] + 5;
        int v = ((buf[p] & 0xFF) << 16) | ((buf[p + 1] & 0xFF) << 8) | (buf[p + 2] & 0xFF);
        return (v << 8) >> 8;
    }

    public long extendedHighestSequence(int block) {
        return RtpPacket.readUint32(buf, blockOffsets[block] + 8);
    }

    /** Interarrival jitter in RTP timestamp units. */
    public long jitter(int block) {
        return RtpPacket.readUint32(buf, blockOffsets[block] + 12);
    }

    /**
     * Writes a receiver report with one report block (RFC 3550 section 6.4.2).
     *
     * @return the number of bytes written (32)
     */
    public static int writeReceiverReport(byte[] out, int senderSsrc, int sourceSsrc, int fractionLost,
                                          int cumulativeLost, long extendedHighestSequence, long jitter) {
        out[0] = (byte) 0x81;
        out[1] = (byte) RR;
        out[2] = 0;
        out[3] = 7;
        RtpPacket.writeUint32(out, 4, senderSsrc & 0xFFFFFFFFL);
        RtpPacket.writeUint32(out, 8, sourceSsrc & 0xFFFFFFFFL);
        out[12] = (byte) fractionLost;
        out[13] = (byte) (cumulativeLost >>> 16);
        out[14] = (byte) (cumulativeLost >>> 8);
        out[15] = (byte) cumulativeLost;
        RtpPacket.writeUint32(out, 16, extendedHighestSequence);
        RtpPacket.writeUint32(out, 20, jitter);
        RtpPacket.writeUint32(out, 24, 0); // LSR
        RtpPacket.writeUint32(out, 28, 0); // DLSR
        return 32;
    }
}
