package dev.cloister.sfu.stun;

import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import javax.crypto.Mac;

/**
 * Writes one STUN message (RFC 8489) into a caller-supplied array: header, attributes, then
 * optionally MESSAGE-INTEGRITY and FINGERPRINT, which must come last and in that order.
 * Reusable: {@link #start} resets it.
 */
public final class StunMessageBuilder {

    private final CRC32 crc = new CRC32();
    private byte[] out;
    private int start;
    private int position;

    /** Begins a message of {@code messageType} with the 12-byte transaction ID at {@code txId[txOffset..]}. */
    public StunMessageBuilder start(byte[] out, int offset, int messageType, byte[] txId, int txOffset) {
        if (out.length - offset < 548) {
            throw new IllegalArgumentException("STUN output buffer too small");
        }
        this.out = out;
        this.start = offset;
        writeShort(offset, messageType);
        writeShort(offset + 2, 0);
        writeInt(offset + 4, StunMessage.MAGIC_COOKIE);
        System.arraycopy(txId, txOffset, out, offset + 8, StunMessage.TRANSACTION_ID_LENGTH);
        position = offset + StunMessage.HEADER_LENGTH;
        return this;
    }

    public StunMessageBuilder attribute(int type, byte[] value, int valueOffset, int valueLength) {
        writeShort(position, type);
        writeShort(position + 2, valueLength);
        System.arraycopy(value, valueOffset, out, position + 4, valueLength);
        int padded = (valueLength + 3) & ~3;
        for (int i = valueLength; i < padded; i++) {
            out[position + 4 + i] = 0;
        }
        position += 4 + padded;
        updateLength();
        return this;
    }

    public StunMessageBuilder username(String username) {
        byte[] b = username.getBytes(StandardCharsets.UTF_8);
        return attribute(StunMessage.ATTR_USERNAME, b, 0, b.length);
    }

    /** A 32-bit attribute such as PRIORITY. */
    public StunMessageBuilder intAttribute(int type, int value) {
        writeShort(position, type);
        writeShort(position + 2, 4);
        writeInt(position + 4, value);
        position += 8;
        updateLength();
        return this;
    }

    /** An attribute with no value, such as USE-CANDIDATE. */
    public StunMessageBuilder flag(int type) {
        writeShort(position, type);
        writeShort(position + 2, 0);
        position += 4;
        updateLength();
        return this;
    }

    /** XOR-MAPPED-ADDRESS (RFC 8489 section 14.2) for an IPv4 or IPv6 transport address. */
    public StunMessageBuilder xorMappedAddress(InetSocketAddress address) {
        byte[] ip = address.getAddress().getAddress();
        boolean v4 = address.getAddress() instanceof Inet4Address;
        writeShort(position, StunMessage.ATTR_XOR_MAPPED_ADDRESS);
        writeShort(position + 2, 4 + ip.length);
        out[position + 4] = 0;
        out[position + 5] = (byte) (v4 ? 0x01 : 0x02);
        writeShort(position + 6, address.getPort() ^ (StunMessage.MAGIC_COOKIE >>> 16));
        for (int i = 0; i < ip.length; i++) {
            out[position + 8 + i] = (byte) (ip[i] ^ out[start + 4 + i]);
        }
        position += 8 + ip.length;
        updateLength();
        return this;
    }

    /** ERROR-CODE (RFC 8489 section 14.8), e.g. 401 "Unauthorized". */
    public StunMessageBuilder errorCode(int code, String reason) {
        byte[] r = reason.getBytes(StandardCharsets.UTF_8);
        byte[] value = new byte[4 + r.length];
        value[2] = (byte) (code / 100);
        value[3] = (byte) (code % 100);
        System.arraycopy(r, 0, value, 4, r.length);
        return attribute(StunMessage.ATTR_ERROR_CODE, value, 0, value.length);
    }

    /** MESSAGE-INTEGRITY with a {@code Mac} initialised with the HMAC-SHA1 key. */
    public StunMessageBuilder messageIntegrity(Mac hmacSha1) {
        int attr = position;
        writeShort(attr, StunMessage.ATTR_MESSAGE_INTEGRITY);
        writeShort(attr + 2, StunMessage.MESSAGE_INTEGRITY_LENGTH);
        byte[] mac = new byte[hmacSha1.getMacLength()];
        StunMessage.computeIntegrity(hmacSha1, out, start, attr, mac);
        System.arraycopy(mac, 0, out, attr + 4, StunMessage.MESSAGE_INTEGRITY_LENGTH);
        position += 4 + StunMessage.MESSAGE_INTEGRITY_LENGTH;
        updateLength();
        return this;
    }

    public StunMessageBuilder fingerprint() {
        int attr = position;
        writeShort(attr, StunMessage.ATTR_FINGERPRINT);
        writeShort(attr + 2, 4);
        position += 8;
        updateLength();
        crc.reset();
        crc.update(out, start, attr - start);
        writeInt(attr + 4, (int) crc.getValue() ^ StunMessage.FINGERPRINT_XOR);
        return this;
    }

    /** Total length of the message written so far, header included. */
    public int length() {
        return position - start;
    }

    private void updateLength() {
        writeShort(start + 2, position - start - StunMessage.HEADER_LENGTH);
    }

    private void writeShort(int p, int v) {
        out[p] = (byte) (v >>> 8);
        out[p + 1] = (byte) v;
    }

    private void writeInt(int p, int v) {
        out[p] = (byte) (v >>> 24);
        out[p + 1] = (byte) (v >>> 16);
        out[p + 2] = (byte) (v >>> 8);
        out[p + 3] = (byte) v;
    }
}
