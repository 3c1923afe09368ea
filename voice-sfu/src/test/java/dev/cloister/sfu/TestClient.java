package dev.cloister.sfu;

import dev.cloister.sfu.conference.EndpointAllocation;
import dev.cloister.sfu.rtp.RtcpPacket;
import dev.cloister.sfu.rtp.RtpPacket;
import dev.cloister.sfu.stun.StunMessage;
import dev.cloister.sfu.stun.StunMessageBuilder;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** A voice client over a real loopback UDP socket, written from the README's wire description. */
public final class TestClient implements AutoCloseable {

    private static final SecureRandom RANDOM = new SecureRandom();

    public final EndpointAllocation allocation;
    private final DatagramSocket socket;
    private final InetSocketAddress sfu;
    private int sequence = RANDOM.nextInt(65536);
    private long timestamp = RANDOM.nextInt() & 0xFFFFFFFFL;
    /** Every RTP datagram sent, to compare with what others receive. */
    public final List<byte[]> sentRtp = new ArrayList<>();

    public TestClient(EndpointAllocation allocation) throws IOException {
        this.allocation = allocation;
        this.socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        this.socket.setReceiveBufferSize(1 << 20);
        this.sfu = new InetSocketAddress(allocation.udpHost(), allocation.udpPort());
    }

    public int ssrc() {
        return (int) allocation.ssrc();
    }

    public InetSocketAddress localAddress() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    public static Mac hmac(String password) {
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(password.getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A Binding Request as an ICE controlling agent would send it to the SFU. */
    public static byte[] bindingRequest(String username, String password, boolean integrity, boolean fingerprint) {
        byte[] tx = new byte[12];
        RANDOM.nextBytes(tx);
        byte[] out = new byte[600];
        StunMessageBuilder b = new StunMessageBuilder().start(out, 0, StunMessage.BINDING_REQUEST, tx, 0);
        if (username != null) {
            b.username(username);
        }
        b.intAttribute(StunMessage.ATTR_PRIORITY, 0x6E0001FF);
        b.flag(StunMessage.ATTR_USE_CANDIDATE);
        if (integrity) {
            b.messageIntegrity(hmac(password));
        }
        if (fingerprint) {
            b.fingerprint();
        }
        return Arrays.copyOf(out, b.length());
    }

    /** Sends a binding request with this endpoint's credentials and returns the response, or null on timeout. */
    public StunMessage bind() throws IOException {
        return stun(bindingRequest(allocation.iceUfrag() + ":client", allocation.icePwd(), true, true));
    }

    /** Sends {@code request} and waits for the STUN response with its transaction ID (ignoring media). */
    public StunMessage stun(byte[] request) throws IOException {
        send(request);
        long deadline = System.currentTimeMillis() + 2000;
        byte[] buf = new byte[2048];
        while (System.currentTimeMillis() < deadline) {
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            socket.setSoTimeout(200);
            try {
                socket.receive(p);
            } catch (SocketTimeoutException e) {
                continue;
            }
            StunMessage m = new StunMessage();
            byte[] copy = Arrays.copyOf(buf, p.getLength());
            if (m.wrap(copy, 0, copy.length) && m.sameTransactionId(request, 8)) {
                return m;
            }
        }
        return null;
    }

    public void send(byte[] datagram) throws IOException {
        send(datagram, datagram.length);
    }

    public void send(byte[] datagram, int length) throws IOException {
        socket.send(new DatagramPacket(datagram, length, sfu));
    }

    /** One 20 ms Opus-sized RTP packet with the given RFC 6464 level (or NO_AUDIO_LEVEL). */
    public void sendAudio(int level) throws IOException {
        sendAudio(level, ssrc());
    }

    public void sendAudio(int level, int ssrcOnWire) throws IOException {
        byte[] payload = new byte[60];
        RANDOM.nextBytes(payload);
        byte[] out = new byte[200];
        int n = RtpPacket.write(out, 111, sequence, timestamp, ssrcOnWire, allocation.audioLevelExtId(), level, level < 127,
                payload, 0, payload.length);
        sequence = (sequence + 1) & 0xFFFF;
        timestamp = (timestamp + 960) & 0xFFFFFFFFL;
        sentRtp.add(Arrays.copyOf(out, n));
        send(out, n);
    }

    /** Skips sequence numbers, as if packets were lost before reaching the SFU. */
    public void skip(int packets) {
        sequence = (sequence + packets) & 0xFFFF;
        timestamp = (timestamp + 960L * packets) & 0xFFFFFFFFL;
    }

    public void sendReceiverReport(int sourceSsrc, int fractionLost, int cumulativeLost, long jitter) throws IOException {
        byte[] out = new byte[64];
        int n = RtcpPacket.writeReceiverReport(out, ssrc(), sourceSsrc, fractionLost, cumulativeLost, 1000, jitter);
        send(out, n);
    }

    /** Everything received within {@code millis}, and whatever is queued by then. */
    public List<byte[]> receiveFor(long millis) throws IOException {
        return receiveUntil(received -> false, millis);
    }

    /** Everything received until {@code done} holds for it or {@code millis} pass, and whatever is queued by then. */
    public List<byte[]> receiveUntil(Predicate<List<byte[]>> done, long millis) throws IOException {
        List<byte[]> out = new ArrayList<>();
        long deadline = System.currentTimeMillis() + millis;
        byte[] buf = new byte[2048];
        boolean waiting = true;
        while (true) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0 || done.test(out)) {
                waiting = false;
            }
            // Past the deadline still take what is queued: a reader descheduled mid-queue must not leave it behind.
            socket.setSoTimeout(waiting ? (int) left : 1);
            DatagramPacket p = new DatagramPacket(buf, buf.length);
            try {
                socket.receive(p);
            } catch (SocketTimeoutException e) {
                if (!waiting) {
                    return out;
                }
                waiting = false;
                continue;
            }
            out.add(Arrays.copyOf(buf, p.getLength()));
        }
    }

    /** Discards whatever is queued. */
    public void drain() throws IOException {
        receiveFor(30);
    }

    /** SSRCs of the RTP packets among {@code datagrams}. */
    public static Set<Integer> rtpSsrcs(List<byte[]> datagrams) {
        Set<Integer> out = new HashSet<>();
        RtpPacket rtp = new RtpPacket();
        for (byte[] d : datagrams) {
            if (!StunMessage.looksLikeStun(d, 0, d.length) && rtp.wrap(d, 0, d.length)) {
                out.add(rtp.ssrc());
            }
        }
        return out;
    }

    @Override
    public void close() {
        socket.close();
    }
}
