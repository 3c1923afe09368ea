package dev.cloister.sfu.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cloister.sfu.SelectiveForwardingUnit;
import dev.cloister.sfu.SfuConfig;
import dev.cloister.sfu.rtp.RtpPacket;
import dev.cloister.sfu.stun.StunMessage;
import dev.cloister.sfu.stun.StunMessageBuilder;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollMode;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.DatagramPacket;
import io.netty.channel.socket.InternetProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * RTP load generator and benchmark for the SFU. Allocates a conference of N endpoints through the
 * control API, binds each from its own loopback UDP socket with STUN, then has S speakers send
 * 20 ms packets with loud RFC 6464 levels and everyone else send silent DTX packets (one every
 * 400 ms). Every endpoint listens; each speaker packet carries its send time so receivers measure
 * forwarding delay, and loss is counted against what the speakers sent times (N - 1) listeners.
 *
 * <pre>
 * java -cp "voice-sfu/target/classes:voice-sfu/target/lib/*" dev.cloister.sfu.load.LoadGenerator \
 *     [--control=http://127.0.0.1:8091] [--endpoints=500] [--speakers=3] [--warmup=3] [--duration=10]
 *     [--threads=2] [--sweep[=500,1000,...]]
 * </pre>
 * Without {@code --control} an SFU is started inside this JVM on ephemeral loopback ports.
 */
public final class LoadGenerator {

    private static final int SPEAKER_PAYLOAD = 90;   // Opus at ~32 kbit/s plus SFrame header and tag
    private static final int DTX_PAYLOAD = 20;       // a DTX frame plus SFrame overhead
    private static final long FRAME_NANOS = 20_000_000L;
    private static final long DTX_NANOS = 400_000_000L;
    private static final long CONSENT_REFRESH_NANOS = 5_000_000_000L;
    /** A packet later than this is useless to a voice jitter buffer: it counts as lost. */
    static final long LATE_NANOS = 200_000_000L;

    record Options(String control, int endpoints, int speakers, int warmupSeconds, int durationSeconds, int threads,
                   List<Integer> sweep) {
    }

    record Result(int endpoints, int speakers, double seconds, long expected, long received, long late, long unexpected,
                  double loss, double p50Micros, double p99Micros, double p999Micros, double maxMicros,
                  Map<String, Long> sfuDelta, double cpuPercent) {
        boolean sustained() {
            return loss < 0.001;
        }
    }

    private final Options options;
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    LoadGenerator(Options options) {
        this.options = options;
    }

    public static void main(String[] args) throws Exception {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "cloister-sfu-logback.xml");
        }
        Options o = parse(args);
        SelectiveForwardingUnit embedded = null;
        String control = o.control();
        if (control == null) {
            embedded = new SelectiveForwardingUnit(SfuConfig.loopbackEphemeral()).start();
            control = "http://127.0.0.1:" + embedded.controlPort();
            System.out.println("embedded SFU: control " + control + ", udp " + embedded.udpAddress());
        }
        Options resolved = new Options(control, o.endpoints(), o.speakers(), o.warmupSeconds(), o.durationSeconds(),
                o.threads(), o.sweep());
        System.out.printf(Locale.ROOT, "host: %d cores, %s, loopback; load generator threads %d%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"), o.threads());
        try {
            LoadGenerator generator = new LoadGenerator(resolved);
            if (o.sweep() == null) {
                print(generator.run(o.endpoints()));
            } else {
                int largest = 0;
                for (int n : o.sweep()) {
                    Result r = generator.run(n);
                    print(r);
                    if (!r.sustained()) {
                        break;
                    }
                    largest = n;
                }
                System.out.printf(Locale.ROOT, "largest conference sustained with loss < 0.1%%: %s endpoints%n",
                        largest == 0 ? "none of those tried" : Integer.toString(largest));
            }
        } finally {
            if (embedded != null) {
                embedded.close();
            }
        }
    }

    static Options parse(String[] args) {
        String control = null;
        int endpoints = 500;
        int speakers = 3;
        int warmup = 3;
        int duration = 10;
        int threads = 2;
        List<Integer> sweep = null;
        for (String a : args) {
            String[] kv = a.split("=", 2);
            String v = kv.length > 1 ? kv[1] : null;
            switch (kv[0]) {
                case "--control" -> control = v;
                case "--endpoints" -> endpoints = Integer.parseInt(v);
                case "--speakers" -> speakers = Integer.parseInt(v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--duration" -> duration = Integer.parseInt(v);
                case "--threads" -> threads = Integer.parseInt(v);
                case "--sweep" -> {
                    sweep = new ArrayList<>();
                    String list = v == null ? "500,1000,1500,2000,2500,3000,4000,5000" : v;
                    for (String s : list.split(",")) {
                        sweep.add(Integer.parseInt(s.trim()));
                    }
                }
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        if (speakers < 1 || endpoints <= speakers) {
            throw new IllegalArgumentException("need at least one speaker and one listener");
        }
        return new Options(control, endpoints, speakers, warmup, duration, threads, sweep);
    }

    static void print(Result r) {
        System.out.printf(Locale.ROOT,
                "%n%d endpoints: %d speakers @ 50 pkt/s, %d silent @ 2.5 pkt/s (DTX); %.0f s measured%n",
                r.endpoints(), r.speakers(), r.endpoints() - r.speakers(), r.seconds());
        System.out.printf(Locale.ROOT, "  forwarded   %,.0f packets/s received by listeners (expected %,.0f)%n",
                r.received() / r.seconds(), r.expected() / r.seconds());
        System.out.printf(Locale.ROOT, "  loss        %.4f %% (%,d never arrived, %,d later than %d ms, of %,d)%s%n",
                r.loss() * 100, r.expected() - Math.min(r.expected(), r.received()), r.late(), LATE_NANOS / 1_000_000,
                r.expected(),
                r.unexpected() > 0 ? "; " + r.unexpected() + " silent-member packets were forwarded!" : "");
        System.out.printf(Locale.ROOT, "  delay       p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms%n",
                r.p50Micros() / 1000, r.p99Micros() / 1000, r.p999Micros() / 1000, r.maxMicros() / 1000);
        Map<String, Long> d = r.sfuDelta();
        System.out.printf(Locale.ROOT, "  sfu         forwarded %,.0f packets/s, %.0f %% of one core; in the window: %s%n",
                d.getOrDefault("forwarded", 0L) / r.seconds(), d.getOrDefault("processCpuMillis", 0L) / (10 * r.seconds()),
                d);
        System.out.printf(Locale.ROOT, "  generator   %.0f %% of one core%n", r.cpuPercent());
    }

    Result run(int n) throws Exception {
        String conference = "load-" + n + "-" + Long.toHexString(System.nanoTime());
        List<JsonNode> allocations = allocate(conference, n);
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup group = epoll
                ? new EpollEventLoopGroup(options.threads(), new DefaultThreadFactory("load", true))
                : new NioEventLoopGroup(options.threads(), new DefaultThreadFactory("load", true));
        Map<EventLoop, LoopStats> stats = new IdentityHashMap<>();
        for (EventExecutor e : group) {
            stats.put((EventLoop) e, new LoopStats());
        }
        io.netty.channel.ChannelFactory<Channel> factory = epoll
                ? () -> new EpollDatagramChannel(InternetProtocolFamily.IPv4)
                : () -> new NioDatagramChannel(InternetProtocolFamily.IPv4);
        List<Channel> channels = new ArrayList<>();
        List<LoadEndpoint> endpoints = new ArrayList<>();
        List<ScheduledFuture<?>> timers = new ArrayList<>();
        Map<String, Long> before;
        Map<String, Long> after;
        long cpu;
        long measuredNanos = options.durationSeconds() * 1_000_000_000L;
        try {
            CountDownLatch bound = new CountDownLatch(n);
            for (int i = 0; i < n; i++) {
                JsonNode a = allocations.get(i);
                InetSocketAddress sfu = new InetSocketAddress(a.get("udpHost").asText(), a.get("udpPort").asInt());
                LoadEndpoint endpoint = new LoadEndpoint(i, i < options.speakers(), a, sfu, bound, stats);
                Bootstrap b = new Bootstrap().group(group)
                        .channelFactory(factory)
                        .option(ChannelOption.SO_RCVBUF, 1 << 20)
                        // Each socket holds a packet or two per wakeup: plain recvmsg into 2 KiB is cheapest.
                        .option(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(2048))
                        .handler(endpoint);
                if (epoll) {
                    // Level-triggered, one datagram per wakeup: no trailing EAGAIN read per packet.
                    b.option(EpollChannelOption.EPOLL_MODE, EpollMode.LEVEL_TRIGGERED)
                            .option(ChannelOption.MAX_MESSAGES_PER_READ, 4);
                }
                channels.add(b.bind("127.0.0.1", 0).sync().channel());
                endpoints.add(endpoint);
            }
            for (int attempt = 0; attempt < 10 && bound.getCount() > 0; attempt++) {
                for (LoadEndpoint e : endpoints) {
                    if (!e.bound) {
                        e.channel.eventLoop().execute(e::sendBinding);
                    }
                }
                bound.await(2, TimeUnit.SECONDS);
            }
            if (bound.getCount() > 0) {
                throw new IllegalStateException(bound.getCount() + " endpoints could not bind");
            }
            long start = System.nanoTime();
            long windowStart = start + options.warmupSeconds() * 1_000_000_000L;
            long windowEnd = windowStart + measuredNanos;
            for (LoadEndpoint e : endpoints) {
                e.window(windowStart, windowEnd);
                long period = e.speaker ? FRAME_NANOS : DTX_NANOS;
                long offset = ThreadLocalRandom.current().nextLong(period);
                timers.add(e.channel.eventLoop().scheduleAtFixedRate(e::sendMedia, offset, period, TimeUnit.NANOSECONDS));
                timers.add(e.channel.eventLoop().scheduleAtFixedRate(e::sendBinding,
                        CONSENT_REFRESH_NANOS + offset, CONSENT_REFRESH_NANOS, TimeUnit.NANOSECONDS));
            }
            sleepUntil(windowStart);
            before = sfuStats();
            long cpuBefore = processCpuNanos();
            sleepUntil(windowEnd);
            after = sfuStats();
            cpu = processCpuNanos() - cpuBefore;
            Thread.sleep(1000); // let the last packets of the window arrive
        } finally {
            timers.forEach(t -> t.cancel(false));
            for (Channel ch : channels) {
                ch.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
        release(conference, n);

        LatencyHistogram latency = new LatencyHistogram();
        long speakerSent = 0;
        long received = 0;
        long unexpected = 0;
        for (LoopStats s : stats.values()) {
            latency.add(s.latency);
            speakerSent += s.speakerSentInWindow;
            received += s.receivedInWindow;
            unexpected += s.unexpected;
        }
        long late = latency.countAbove(LATE_NANOS);
        long expected = speakerSent * (n - 1);
        double loss = expected == 0 ? 1.0 : Math.max(0.0, 1.0 - (double) (received - late) / expected);
        Map<String, Long> delta = new java.util.LinkedHashMap<>();
        for (String k : List.of("datagramsIn", "forwarded", "droppedBackpressure", "sendErrors", "droppedUnbound",
                "droppedMalformed", "processCpuMillis")) {
            delta.put(k, after.getOrDefault(k, 0L) - before.getOrDefault(k, 0L));
        }
        double cpuPercent = 100.0 * cpu / measuredNanos;
        return new Result(n, options.speakers(), options.durationSeconds(), expected, received, late, unexpected, loss,
                latency.percentileMicros(0.50), latency.percentileMicros(0.99), latency.percentileMicros(0.999),
                latency.maxMicros(), delta, cpuPercent);
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        long ms = TimeUnit.NANOSECONDS.toMillis(nanoTime - System.nanoTime());
        if (ms > 0) {
            Thread.sleep(ms);
        }
    }

    private static long processCpuNanos() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime();
        }
        return 0;
    }

    private List<JsonNode> allocate(String conference, int n) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<JsonNode>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String body = "{\"endpointId\":\"e" + i + "\"}";
                futures.add(pool.submit(() -> {
                    HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                                    URI.create(options.control() + "/v1/conferences/" + conference + "/endpoints"))
                            .POST(HttpRequest.BodyPublishers.ofString(body))
                            .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() != 201) {
                        throw new IllegalStateException("allocation failed: " + r.statusCode() + " " + r.body());
                    }
                    return json.readTree(r.body());
                }));
            }
            List<JsonNode> out = new ArrayList<>();
            for (Future<JsonNode> f : futures) {
                out.add(f.get());
            }
            return out;
        } finally {
            pool.shutdown();
        }
    }

    private void release(String conference, int n) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                URI uri = URI.create(options.control() + "/v1/conferences/" + conference + "/endpoints/e" + i);
                futures.add(pool.submit(() -> http.send(HttpRequest.newBuilder(uri).DELETE().build(),
                        HttpResponse.BodyHandlers.discarding())));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    private Map<String, Long> sfuStats() {
        Map<String, Long> out = new java.util.LinkedHashMap<>();
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(options.control() + "/v1/stats"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            json.readTree(r.body()).fields().forEachRemaining(e -> {
                if (e.getValue().isNumber()) {
                    out.put(e.getKey(), e.getValue().asLong());
                }
            });
        } catch (Exception e) {
            // Figures from the generator's side are still valid.
        }
        return out;
    }

    /** Counters of one generator event loop: written only by that loop. */
    static final class LoopStats {
        final LatencyHistogram latency = new LatencyHistogram();
        long speakerSentInWindow;
        long receivedInWindow;
        long unexpected;
    }

    /** One simulated member: its socket, its sending schedule and what it hears. */
    static final class LoadEndpoint extends ChannelInboundHandlerAdapter {
        final int index;
        final boolean speaker;
        final int ssrc;
        final int extId;
        final String ufrag;
        final Mac mac;
        final InetSocketAddress sfu;
        final CountDownLatch boundLatch;
        final Map<EventLoop, LoopStats> statsByLoop;
        final byte[] packet = new byte[256];
        final byte[] payload = new byte[SPEAKER_PAYLOAD];
        final byte[] stunOut = new byte[600];
        final byte[] txId = new byte[12];
        final StunMessageBuilder stunBuilder = new StunMessageBuilder();
        final StunMessage stun = new StunMessage();
        Channel channel;
        LoopStats stats;
        volatile boolean bound;
        private volatile long windowStart = Long.MAX_VALUE;
        private volatile long windowEnd = Long.MIN_VALUE;
        int sequence = ThreadLocalRandom.current().nextInt(65536);
        long timestamp = ThreadLocalRandom.current().nextInt() & 0xFFFFFFFFL;

        LoadEndpoint(int index, boolean speaker, JsonNode allocation, InetSocketAddress sfu, CountDownLatch bound,
                     Map<EventLoop, LoopStats> statsByLoop) throws Exception {
            this.index = index;
            this.speaker = speaker;
            this.ssrc = (int) allocation.get("ssrc").asLong();
            this.extId = allocation.get("audioLevelExtId").asInt();
            this.ufrag = allocation.get("iceUfrag").asText();
            this.mac = Mac.getInstance("HmacSHA1");
            this.mac.init(new SecretKeySpec(allocation.get("icePwd").asText().getBytes(StandardCharsets.UTF_8),
                    "HmacSHA1"));
            this.sfu = sfu;
            this.boundLatch = bound;
            this.statsByLoop = statsByLoop;
        }

        void window(long start, long end) {
            windowStart = start;
            windowEnd = end;
        }

        @Override
        public void channelRegistered(ChannelHandlerContext ctx) throws Exception {
            channel = ctx.channel();
            stats = statsByLoop.get(ctx.channel().eventLoop());
            super.channelRegistered(ctx);
        }

        void sendBinding() {
            ThreadLocalRandom.current().nextBytes(txId);
            int n = stunBuilder.start(stunOut, 0, StunMessage.BINDING_REQUEST, txId, 0)
                    .username(ufrag + ":load")
                    .intAttribute(StunMessage.ATTR_PRIORITY, 0x6E0001FF)
                    .flag(StunMessage.ATTR_USE_CANDIDATE)
                    .messageIntegrity(mac)
                    .fingerprint()
                    .length();
            ByteBuf buf = channel.alloc().directBuffer(n).writeBytes(stunOut, 0, n);
            channel.writeAndFlush(new DatagramPacket(buf, sfu), channel.voidPromise());
        }

        void sendMedia() {
            long now = System.nanoTime();
            writeLong(payload, 0, now);
            writeInt(payload, 8, speaker ? index : -1);
            int level = speaker ? 20 + 5 * index : 127;
            int payloadLength = speaker ? SPEAKER_PAYLOAD : DTX_PAYLOAD;
            int n = RtpPacket.write(packet, 111, sequence, timestamp, ssrc, extId, level, speaker, payload, 0,
                    payloadLength);
            sequence = (sequence + 1) & 0xFFFF;
            timestamp = (timestamp + (speaker ? 960 : 19_200)) & 0xFFFFFFFFL;
            if (speaker && now >= windowStart && now <= windowEnd) {
                stats.speakerSentInWindow++;
            }
            ByteBuf buf = channel.alloc().directBuffer(n).writeBytes(packet, 0, n);
            channel.writeAndFlush(new DatagramPacket(buf, sfu), channel.voidPromise());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            DatagramPacket p = (DatagramPacket) msg;
            try {
                ByteBuf c = p.content();
                int ri = c.readerIndex();
                int len = c.readableBytes();
                if (len < 12) {
                    return;
                }
                int b0 = c.getUnsignedByte(ri);
                if (b0 < 4) {
                    byte[] b = new byte[len];
                    c.getBytes(ri, b);
                    if (stun.wrap(b, 0, len) && stun.messageType() == StunMessage.BINDING_SUCCESS_RESPONSE
                            && !bound) {
                        bound = true;
                        boundLatch.countDown();
                    }
                    return;
                }
                int header = 12 + 4 * (b0 & 0x0F);
                if ((b0 & 0x10) != 0 && len >= header + 4) {
                    header += 4 + 4 * c.getUnsignedShort(ri + header + 2);
                }
                if (len < header + 12) {
                    return;
                }
                long now = System.nanoTime();
                long sent = c.getLong(ri + header);
                int from = c.getInt(ri + header + 8);
                if (from < 0) {
                    stats.unexpected++;
                }
                if (sent >= windowStart && sent <= windowEnd) {
                    stats.receivedInWindow++;
                    stats.latency.record(now - sent);
                }
            } finally {
                p.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // keep the socket open; a send error to the SFU is not fatal to the run
        }

        private static void writeLong(byte[] b, int p, long v) {
            for (int i = 7; i >= 0; i--) {
                b[p + i] = (byte) v;
                v >>>= 8;
            }
        }

        private static void writeInt(byte[] b, int p, int v) {
            b[p] = (byte) (v >>> 24);
            b[p + 1] = (byte) (v >>> 16);
            b[p + 2] = (byte) (v >>> 8);
            b[p + 3] = (byte) v;
        }
    }
}
