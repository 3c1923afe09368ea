package dev.cloister.sfu.stun;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import javax.crypto.Mac;
import javax.crypto.ShortBufferException;

/**
 * A reusable view of one STUN message (RFC 8489 sections 5 and 14). {@link #wrap} checks the header
 * and walks the attributes with every length bounded by the datagram, remembering where USERNAME,
 * XOR-MAPPED-ADDRESS, ERROR-CODE, MESSAGE-INTEGRITY and FINGERPRINT are. Attributes after
 * MESSAGE-INTEGRITY other than FINGERPRINT are ignored, as section 14.5 requires.
 */
public final class StunMessage {

    public static final int HEADER_LENGTH = 20;
    public static final int MAGIC_COOKIE = 0x2112A442;
    public static final int TRANSACTION_ID_LENGTH = 12;

    public static final int BINDING_REQUEST = 0x0001;
    public static final int BINDING_INDICATION = 0x0011;
    public static final int BINDING_SUCCESS_RESPONSE = 0x0101;
    public static final int BINDING_ERROR_RESPONSE = 0x0111;

    public static final int ATTR_MAPPED_ADDRESS = 0x0001;
    public static final int ATTR_USERNAME = 0x0006;
    public static final int ATTR_MESSAGE_INTEGRITY = 0x0008;
    public static final int ATTR_ERROR_CODE = 0x0009;
    public static final int ATTR_XOR_MAPPED_ADDRESS = 0x0020;
    public static final int ATTR_PRIORITY = 0x0024;
    public static final int ATTR_USE_CANDIDATE = 0x0025;
    public static final int ATTR_SOFTWARE = 0x8022;
    public static final int ATTR_FINGERPRINT = 0x8028;
    public static final int ATTR_ICE_CONTROLLED = 0x8029;
    public static final int ATTR_ICE_CONTROLLING = 0x802A;

    public static final int MESSAGE_INTEGRITY_LENGTH = 20;
    static final int FINGERPRINT_XOR = 0x5354554E;
    /** USERNAME is at most 763 bytes (RFC 8489 section 14.3). */
    public static final int MAX_USERNAME_LENGTH = 763;

    private final CRC32 crc = new CRC32();
    private final byte[] macScratch = new byte[32];
    private byte[] buf;
    private int offset;
    private int length;
    private int usernameOffset;
    private int usernameLength;
    private int integrityOffset;
    private int fingerprintOffset;
    private int xorMappedOffset;
    private int xorMappedLength;
    private int errorCodeOffset;
    private int errorCodeLength;
    private boolean useCandidate;

    /** RFC 7983 demultiplexing: STUN messages start with a byte 0..3 and carry the magic cookie. */
    public static boolean looksLikeStun(byte[] buf, int offset, int length) {
        return length >= HEADER_LENGTH && (buf[offset] & 0xC0) == 0 && readInt(buf, offset + 4) == MAGIC_COOKIE;
    }

    /** @return false if the bytes are not a well-formed STUN message */
    public boolean wrap(byte[] buf, int offset, int length) {
        this.buf = null;
        if (buf == null || offset < 0 || length < HEADER_LENGTH || offset > buf.length - length
                || !looksLikeStun(buf, offset, length)) {
            return false;
        }
        int bodyLength = readShort(buf, offset + 2);
        if ((bodyLength & 3) != 0 || HEADER_LENGTH + bodyLength != length) {
            return false;
        }
        int uOff = -1, uLen = 0, mi = -1, fp = -1, xma = -1, xmaLen = 0, ec = -1, ecLen = 0;
        boolean useCand = false;
        int p = offset + HEADER_LENGTH;
        int end = offset + length;
        while (p < end) {
            if (end - p < 4 || fp >= 0) {
                return false; // truncated attribute header, or something after FINGERPRINT
            }
            int type = readShort(buf, p);
            int attrLength = readShort(buf, p + 2);
            int padded = (attrLength + 3) & ~3;
            if (padded > end - p - 4) {
                return false;
            }
            int value = p + 4;
            if (type == ATTR_FINGERPRINT) {
                if (attrLength != 4) {
                    return false;
                }
                fp = p;
            } else if (mi < 0) {
                switch (type) {
                    case ATTR_USERNAME -> {
                        if (attrLength > MAX_USERNAME_LENGTH) {
                            return false;
                        }
                        if (uOff < 0) {
                            uOff = value;
                            uLen = attrLength;
                        }
                    }
                    case ATTR_MESSAGE_INTEGRITY -> {
                        if (attrLength != MESSAGE_INTEGRITY_LENGTH) {
                            return false;
                        }
                        mi = p;
                    }
                    case ATTR_XOR_MAPPED_ADDRESS -> {
                        if (xma < 0) {
                            xma = value;
                            xmaLen = attrLength;
                        }
                    }
                    case ATTR_ERROR_CODE -> {
                        if (ec < 0 && attrLength >= 4) {
                            ec = value;
                            ecLen = attrLength;
                        }
                    }
                    case ATTR_USE_CANDIDATE -> useCand = true;
                    default -> {
                        // Other attributes (PRIORITY, ICE-CONTROLLING, SOFTWARE, ...) carry nothing the SFU needs.
                    }
                }
            }
            p = value + padded;
        }
        this.buf = buf;
        this.offset = offset;
        this.length = length;
        this.usernameOffset = uOff;
        this.usernameLength = uLen;
        this.integrityOffset = mi;
        this.fingerprintOffset = fp;
        this.xorMappedOffset = xma;
        this.xorMappedLength = xmaLen;
        this.errorCodeOffset = ec;
        this.errorCodeLength = ecLen;
        this.useCandidate = useCand;
        return true;
    }

    public int length() {
        return length;
    }

    /** The 14-bit message type: method and class bits, e.g. {@link #BINDING_REQUEST}. */
    public int messageType() {
        return readShort(buf, offset) & 0x3FFF;
    }

    public boolean isBindingRequest() {
        return messageType() == BINDING_REQUEST;
    }

    /** Offset in the backing array of the 12-byte transaction ID. */
    public int transactionIdOffset() {
        return offset + 8;
    }

    public boolean sameTransactionId(byte[] other, int otherOffset) {
        int p = transactionIdOffset();
        for (int i = 0; i < TRANSACTION_ID_LENGTH; i++) {
            if (buf[p + i] != other[otherOffset + i]) {
                return false;
            }
        }
        return true;
    }

    public byte[] backingArray() {
        return buf;
    }

    public boolean hasUsername() {
        return usernameOffset >= 0;
    }

    public int usernameOffset() {
        return usernameOffset;
    }

    public int usernameLength() {
        return usernameLength;
    }

    public String username() {
        return usernameOffset < 0 ? null : new String(buf, usernameOffset, usernameLength, StandardCharsets.UTF_8);
    }

    /**
     * The part of USERNAME before the first colon: for a request to an ICE agent, that agent's own
     * ufrag (RFC 8445 section 7.2.2). Null if there is no USERNAME or no colon.
     */
    public String localUfrag() {
        if (usernameOffset < 0) {
            return null;
        }
        for (int i = 0; i < usernameLength; i++) {
            if (buf[usernameOffset + i] == ':') {
                return new String(buf, usernameOffset, i, StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    public boolean hasMessageIntegrity() {
        return integrityOffset >= 0;
    }

    public boolean hasFingerprint() {
        return fingerprintOffset >= 0;
    }

    public boolean useCandidate() {
        return useCandidate;
    }

    /** The STUN error code (e.g. 401) of an error response, or -1. */
    public int errorCode() {
        if (errorCodeOffset < 0 || errorCodeLength < 4) {
            return -1;
        }
        return (buf[errorCodeOffset + 2] & 0x07) * 100 + (buf[errorCodeOffset + 3] & 0xFF);
    }

    /** FINGERPRINT check (RFC 8489 section 14.7); false if the attribute is absent. */
    public boolean verifyFingerprint() {
        if (fingerprintOffset < 0) {
            return false;
        }
        crc.reset();
        crc.update(buf, offset, fingerprintOffset - offset);
        int expected = (int) crc.getValue() ^ FINGERPRINT_XOR;
        return readInt(buf, fingerprintOffset + 4) == expected;
    }

    /**
     * MESSAGE-INTEGRITY check (RFC 8489 section 14.5) with a {@code Mac} already initialised with
     * the HMAC-SHA1 key (for short-term credentials, the password). False if the attribute is absent.
     */
    public boolean verifyMessageIntegrity(Mac hmacSha1) {
        if (integrityOffset < 0) {
            return false;
        }
        computeIntegrity(hmacSha1, buf, offset, integrityOffset, macScratch);
        int p = integrityOffset + 4;
        int diff = 0;
        for (int i = 0; i < MESSAGE_INTEGRITY_LENGTH; i++) {
            diff |= macScratch[i] ^ buf[p + i];
        }
        return diff == 0;
    }

    /**
     * HMAC over the message from {@code start} up to the MESSAGE-INTEGRITY attribute header at
     * {@code integrityAttr}, with the header's length field covering that attribute, as if it were last.
     */
    static void computeIntegrity(Mac mac, byte[] b, int start, int integrityAttr, byte[] out) {
        int adjusted = integrityAttr - start - HEADER_LENGTH + 4 + MESSAGE_INTEGRITY_LENGTH;
        mac.reset();
        mac.update(b, start, 2);
        mac.update((byte) (adjusted >>> 8));
        mac.update((byte) adjusted);
        mac.update(b, start + 4, integrityAttr - start - 4);
        try {
            mac.doFinal(out, 0);
        } catch (ShortBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The XOR-MAPPED-ADDRESS (RFC 8489 section 14.2), or null if absent or malformed. */
    public InetSocketAddress xorMappedAddress() {
        if (xorMappedOffset < 0 || xorMappedLength < 8) {
            return null;
        }
        int family = buf[xorMappedOffset + 1] & 0xFF;
        int port = readShort(buf, xorMappedOffset + 2) ^ (MAGIC_COOKIE >>> 16);
        byte[] address;
        if (family == 0x01 && xorMappedLength == 8) {
            address = new byte[4];
        } else if (family == 0x02 && xorMappedLength == 20) {
            address = new byte[16];
        } else {
            return null;
        }
        for (int i = 0; i < address.length; i++) {
            // The mask is the magic cookie followed by the transaction ID: the 16 bytes from header offset 4.
            address[i] = (byte) (buf[xorMappedOffset + 4 + i] ^ buf[offset + 4 + i]);
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(address), port);
        } catch (UnknownHostException e) {
            return null;
        }
    }

    static int readShort(byte[] b, int p) {
        return ((b[p] & 0xFF) << 8) | (b[p + 1] & 0xFF);
    }

    static int readInt(byte[] b, int p) {
        return ((b[p] & 0xFF) << 24) | ((b[p + 1] & 0xFF) << 16) | ((b[p + 2] & 0xFF) << 8) | (b[p + 3] & 0xFF);
    }
}
