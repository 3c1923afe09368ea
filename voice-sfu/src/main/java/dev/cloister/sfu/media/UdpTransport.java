package dev.cloister.sfu.media;

import dev.cloister.sfu.conference.ConferenceRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.InternetProtocolFamily;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SFU's UDP socket(s). On Linux with epoll: one socket per I/O thread, all bound to the same
 * port with SO_REUSEPORT so the kernel spreads senders over the cores, each reading with
 * {@code recvmmsg} and writing with {@code sendmmsg}. Elsewhere: one NIO socket.
 */
public final class UdpTransport implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(UdpTransport.class);
    private static final int DATAGRAMS_PER_READ = 32;
    private static final int SOCKET_BUFFER = 4 << 20;

    private final EventLoopGroup group;
    private final List<Channel> channels = new ArrayList<>();
    private final List<MediaCounters> counters = new ArrayList<>();
    private final boolean epoll;

    private UdpTransport(EventLoopGroup group, boolean epoll) {
        this.group = group;
        this.epoll = epoll;
    }

    /** Binds the socket(s) at {@code host:port} (port 0 picks one) with {@code threads} workers where possible. */
    public static UdpTransport bind(ConferenceRegistry registry, String host, int port, int threads)
            throws InterruptedException {
        boolean epoll = Epoll.isAvailable();
        int workers = epoll ? threads : 1;
        EventLoopGroup group = epoll
                ? new EpollEventLoopGroup(workers, new DefaultThreadFactory("sfu-udp", true))
                : new NioEventLoopGroup(1, new DefaultThreadFactory("sfu-udp", true));
        UdpTransport transport = new UdpTransport(group, epoll);
        try {
            InetAddress address = InetAddress.getByName(host);
            InternetProtocolFamily family = address instanceof Inet4Address
                    ? InternetProtocolFamily.IPv4 : InternetProtocolFamily.IPv6;
            int boundPort = port;
            MediaHandler[] handlers = new MediaHandler[workers];
            for (int i = 0; i < workers; i++) {
                MediaCounters c = new MediaCounters();
                handlers[i] = new MediaHandler(registry, i, c);
                Bootstrap b = new Bootstrap()
                        .group(group)
                        .channelFactory(factory(epoll, family))
                        .option(ChannelOption.SO_RCVBUF, SOCKET_BUFFER)
                        .option(ChannelOption.SO_SNDBUF, SOCKET_BUFFER)
                        .option(ChannelOption.RCVBUF_ALLOCATOR,
                                new FixedRecvByteBufAllocator(MediaHandler.MAX_DATAGRAM * DATAGRAMS_PER_READ))
                        .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 4 << 20))
                        .handler(handlers[i]);
                if (epoll) {
                    b.option(EpollChannelOption.SO_REUSEPORT, true)
                            .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, MediaHandler.MAX_DATAGRAM);
                }
                Channel ch = b.bind(address, boundPort).sync().channel();
                boundPort = ((InetSocketAddress) ch.localAddress()).getPort();
                transport.channels.add(ch);
                transport.counters.add(c);
            }
            for (MediaHandler h : handlers) {
                h.workers(handlers);
            }
            log.info("SFU media on udp {}:{} ({} x {})", host, boundPort, workers, epoll ? "epoll" : "nio");
            return transport;
        } catch (Exception e) {
            transport.close();
            if (e instanceof InterruptedException ie) {
                throw ie;
            }
            throw new IllegalStateException("cannot bind UDP " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    private static ChannelFactory<DatagramChannel> factory(boolean epoll, InternetProtocolFamily family) {
        return epoll ? () -> new EpollDatagramChannel(family) : () -> new NioDatagramChannel(family);
    }

    public InetSocketAddress localAddress() {
        return (InetSocketAddress) channels.get(0).localAddress();
    }

    public boolean usesEpoll() {
        return epoll;
    }

    public int workers() {
        return channels.size();
    }

    public List<MediaCounters> counters() {
        return counters;
    }

    @Override
    public void close() {
        for (Channel ch : channels) {
            ch.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
