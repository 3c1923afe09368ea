package dev.cloister.sfu.media;

import dev.cloister.sfu.conference.ConferenceRegistry;
import dev.cloister.sfu.conference.Endpoint;
import dev.cloister.sfu.media.MediaCounters.Kind;
import dev.cloister.sfu.rtp.RtcpPacket;
import dev.cloister.sfu.rtp.RtpPacket;
import dev.cloister.sfu.stun.StunMessage;
import dev.cloister.sfu.stun.StunMessageBuilder;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The per-datagram path of one I/O worker (one socket, one event loop): demultiplexes STUN, RTP
 * and RTCP (RFC 7983), answers STUN Binding Requests, terminates RTCP, and forwards the RTP of
 * selected speakers byte for byte to every other receiving endpoint of the conference.
 *
 * <p>The RTP path takes no lock and does not log, and allocates nothing per forwarded copy: the
 * parsers are reused views over a scratch copy of the datagram, the lookups are concurrent-map
 * reads, each outbound copy shares the received buffer and travels in a recycled
 * {@link ForwardedDatagram}, and writes are flushed once per read batch so that epoll sends them
 * with {@code sendmmsg}. In a conference of {@link #FAN_OUT_SPLIT_MIN} or more, a packet's fan-out
 * is cut into one slice per worker and the other workers send theirs (one task object per slice
 * handed over, i.e. per received packet, not per copy).
 */
final class MediaHandler extends ChannelInboundHandlerAdapter {

    static final int MAX_DATAGRAM = 2048;
    /** Conferences at least this large have each packet's fan-out split over all workers; smaller ones stay on one. */
    static final int FAN_OUT_SPLIT_MIN = 64;

    private final ConferenceRegistry registry;
    private final int worker;
    private final int audioLevelExtId;
    private final MediaCounters counters;
    private final byte[] scratch = new byte[MAX_DATAGRAM];
    private final byte[] stunOut = new byte[1024];
    private final RtpPacket rtp = new RtpPacket();
    private final RtcpPacket rtcp = new RtcpPacket();
    private final StunMessage stun = new StunMessage();
    private final StunMessageBuilder stunBuilder = new StunMessageBuilder();
    private final ForwardedDatagram.Pool pool = new ForwardedDatagram.Pool(16_384);
    private final Mac hmac;
    /** Every worker's handler by worker index (this one included), set once all sockets are bound. */
    private volatile MediaHandler[] workers;
    private volatile ChannelHandlerContext context;

    MediaHandler(ConferenceRegistry registry, int worker, MediaCounters counters) {
        this.registry = registry;
        this.worker = worker;
        this.audioLevelExtId = registry.audioLevelExtId();
        this.counters = counters;
        try {
            this.hmac = Mac.getInstance("HmacSHA1");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA1 unavailable", e);
        }
    }

    void workers(MediaHandler[] all) {
        this.workers = all;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.context = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof DatagramPacket)) {
            io.netty.util.ReferenceCountUtil.release(msg);
            return;
        }
        DatagramPacket packet = (DatagramPacket) msg;
        try {
            onDatagram(ctx, packet.content(), packet.sender());
        } finally {
            packet.release();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // A failed send to one receiver (or a bad datagram) must not close the shared socket.
        counters.increment(Kind.SEND_ERRORS);
    }

    private void onDatagram(ChannelHandlerContext ctx, ByteBuf content, InetSocketAddress sender) {
        counters.increment(Kind.DATAGRAMS_IN);
        int length = content.readableBytes();
        if (length <= 0 || length > MAX_DATAGRAM || sender == null) {
            counters.increment(Kind.DROPPED_MALFORMED);
            return;
        }
        content.getBytes(content.readerIndex(), scratch, 0, length);
        long now = System.nanoTime();
        int first = scratch[0] & 0xFF;
        if (first < 4) {
            onStun(ctx, length, sender, now);
        } else if (first >= 128 && first < 192) {
            if (RtcpPacket.looksLikeRtcp(scratch, 0, length)) {
                onRtcp(length, sender, now);
            } else {
                onRtp(ctx, content, length, sender, now);
            }
        } else {
            counters.increment(Kind.DROPPED_MALFORMED);
        }
    }

    private void onRtp(ChannelHandlerContext ctx, ByteBuf content, int length, InetSocketAddress sender, long now) {
        Endpoint from = registry.endpointAt(sender);
        if (from == null || !from.hasConsent(now)) {
            counters.increment(Kind.DROPPED_UNBOUND);
            return;
        }
        if (!rtp.wrap(scratch, 0, length)) {
            counters.increment(Kind.DROPPED_MALFORMED);
            return;
        }
        if (rtp.ssrc() != from.ssrc()) {
            counters.increment(Kind.DROPPED_FOREIGN_SSRC);
            return;
        }
        counters.increment(Kind.RTP_IN);
        from.onRtp(rtp.sequenceNumber(), rtp.timestamp(), rtp.audioLevel(audioLevelExtId), length, now);
        if (!from.isForwarded()) {
            counters.increment(Kind.RTP_NOT_FORWARDED);
            return;
        }
        Endpoint[] members = from.conference().endpoints();
        int n = members.length;
        MediaHandler[] all = workers;
        int k = all == null ? 1 : all.length;
        if (k < 2 || n < FAN_OUT_SPLIT_MIN) {
            fanOut(ctx, from, members, 0, n, content, length, now);
            return;
        }
        // One speaker's fan-out is split over the workers, each sending its slice from its own socket (all
        // share the port): perf showed one worker doing 69 % of the SFU's work while 3 speakers hashed onto it.
        int per = (n + k - 1) / k;
        for (int i = 1; i < k; i++) {
            int start = i * per;
            if (start >= n) {
                break;
            }
            content.retain();
            all[(worker + i) % k].fanOutLater(from, members, start, Math.min(n, start + per), content, length);
        }
        fanOut(ctx, from, members, 0, Math.min(n, per), content, length, now);
    }

    /** Runs a slice of another worker's fan-out on this worker's event loop; takes over one reference to {@code content}. */
    private void fanOutLater(Endpoint from, Endpoint[] members, int start, int end, ByteBuf content, int length) {
        ChannelHandlerContext ctx = context;
        if (ctx == null) {
            content.release();
            return;
        }
        try {
            ctx.channel().eventLoop().execute(() -> {
                try {
                    fanOut(ctx, from, members, start, end, content, length, System.nanoTime());
                    ctx.flush();
                } finally {
                    content.release();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException shuttingDown) {
            content.release();
        }
    }

    /** Writes {@code content} to members[start, end) other than {@code from}; flushed by the caller's read batch. */
    private void fanOut(ChannelHandlerContext ctx, Endpoint from, Endpoint[] members, int start, int end,
                        ByteBuf content, int length, long now) {
        Channel channel = ctx.channel();
        int sent = 0;
        content.retain();
        ForwardedDatagram.Shared shared = pool.share(content);
        for (int i = start; i < end; i++) {
            Endpoint to = members[i];
            if (to == from) {
                continue;
            }
            InetSocketAddress target = to.forwardingTarget(now);
            if (target == null) {
                continue;
            }
            if (!channel.isWritable()) {
                counters.increment(Kind.DROPPED_BACKPRESSURE);
                continue;
            }
            ctx.write(pool.acquire(shared, target), ctx.voidPromise());
            to.forwarded().add(worker, length);
            sent++;
        }
        shared.release();
        counters.add(Kind.FORWARDED, sent);
    }

    private void onRtcp(int length, InetSocketAddress sender, long now) {
        Endpoint from = registry.endpointAt(sender);
        if (from == null || !from.hasConsent(now)) {
            counters.increment(Kind.DROPPED_UNBOUND);
            return;
        }
        if (!rtcp.wrap(scratch, 0, length)) {
            counters.increment(Kind.DROPPED_MALFORMED);
            return;
        }
        if (rtcp.senderSsrc() != from.ssrc()) {
            counters.increment(Kind.DROPPED_FOREIGN_SSRC);
            return;
        }
        counters.increment(Kind.RTCP_IN);
        from.onRtcp();
        int blocks = rtcp.reportBlockCount();
        if (blocks == 0) {
            return;
        }
        int worstFraction = 0;
        long cumulative = 0;
        long worstJitter = 0;
        for (int i = 0; i < blocks; i++) {
            worstFraction = Math.max(worstFraction, rtcp.fractionLost(i));
            cumulative += Math.max(0, rtcp.cumulativeLost(i));
            worstJitter = Math.max(worstJitter, rtcp.jitter(i));
        }
        from.onReceptionReport(worstFraction, cumulative, worstJitter);
    }

    // STUN is the cold path (one request per endpoint every few seconds): clarity over allocation.
    private void onStun(ChannelHandlerContext ctx, int length, InetSocketAddress sender, long now) {
        if (!stun.wrap(scratch, 0, length) || !stun.verifyFingerprint()) {
            counters.increment(Kind.DROPPED_MALFORMED); // not STUN, or not meant for us (RFC 8489 section 7.3)
            return;
        }
        if (!stun.isBindingRequest()) {
            return; // indications (keepalives) and stray responses need no answer
        }
        if (!stun.hasUsername() || !stun.hasMessageIntegrity()) {
            counters.increment(Kind.STUN_REJECTED);
            sendError(ctx, sender, 400, "Bad Request");
            return;
        }
        String ufrag = stun.localUfrag();
        Endpoint endpoint = ufrag == null ? null : registry.endpointByUfrag(ufrag);
        if (endpoint == null || endpoint.isRemoved() || !keyed(endpoint) || !stun.verifyMessageIntegrity(hmac)) {
            counters.increment(Kind.STUN_REJECTED);
            sendError(ctx, sender, 401, "Unauthorized");
            return;
        }
        switch (registry.bind(endpoint, sender, scratch, stun.transactionIdOffset(), now)) {
            case BOUND -> counters.increment(Kind.STUN_BINDINGS);
            case MOVE_PENDING -> counters.increment(Kind.STUN_MOVES_PENDING);
            case RETRANSMISSION -> counters.increment(Kind.STUN_RETRANSMISSIONS);
            case REPLAYED -> {
                counters.increment(Kind.STUN_REPLAYED);
                return; // unanswered: a replayer learns nothing, and the owner's binding stays
            }
        }
        int n = stunBuilder.start(stunOut, 0, StunMessage.BINDING_SUCCESS_RESPONSE, scratch, stun.transactionIdOffset())
                .xorMappedAddress(sender)
                .messageIntegrity(hmac)
                .fingerprint()
                .length();
        send(ctx, sender, n);
    }

    private boolean keyed(Endpoint endpoint) {
        try {
            hmac.init(new SecretKeySpec(endpoint.icePwdBytes(), "HmacSHA1"));
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private void sendError(ChannelHandlerContext ctx, InetSocketAddress to, int code, String reason) {
        int n = stunBuilder.start(stunOut, 0, StunMessage.BINDING_ERROR_RESPONSE, scratch, stun.transactionIdOffset())
                .errorCode(code, reason)
                .fingerprint()
                .length();
        send(ctx, to, n);
    }

    private void send(ChannelHandlerContext ctx, InetSocketAddress to, int length) {
        ByteBuf out = ctx.alloc().directBuffer(length).writeBytes(stunOut, 0, length);
        ctx.write(new DatagramPacket(out, to), ctx.voidPromise());
    }
}
