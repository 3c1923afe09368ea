package dev.cloister.sfu.media;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;

/**
 * An outbound datagram that is recycled instead of allocated: one received packet fans out to
 * hundreds of receivers, and each copy shares the received buffer (one reference each). It is a
 * {@link DatagramPacket} so that Netty's epoll transport batches it into {@code sendmmsg}; the
 * mutable content and recipient shadow the superclass's final fields. Owned by one event loop.
 */
final class ForwardedDatagram extends DatagramPacket {

    private static final InetSocketAddress PLACEHOLDER = new InetSocketAddress(0);

    private final Pool pool;
    private ByteBuf data;
    private InetSocketAddress to;
    private int references;

    private ForwardedDatagram(Pool pool) {
        super(Unpooled.EMPTY_BUFFER, PLACEHOLDER);
        this.pool = pool;
    }

    @Override
    public ByteBuf content() {
        return data;
    }

    @Override
    public InetSocketAddress recipient() {
        return to;
    }

    @Override
    public InetSocketAddress sender() {
        return null;
    }

    @Override
    public int refCnt() {
        return references;
    }

    @Override
    public DatagramPacket retain() {
        return retain(1);
    }

    @Override
    public DatagramPacket retain(int increment) {
        references += increment;
        return this;
    }

    @Override
    public boolean release() {
        return release(1);
    }

    @Override
    public boolean release(int decrement) {
        references -= decrement;
        if (references > 0) {
            return false;
        }
        ByteBuf d = data;
        data = null;
        to = null;
        references = 0;
        if (d != null) {
            d.release();
        }
        pool.recycle(this);
        return true;
    }

    @Override
    public DatagramPacket touch() {
        return this;
    }

    @Override
    public DatagramPacket touch(Object hint) {
        return this;
    }

    @Override
    public String toString() {
        return "ForwardedDatagram(=> " + to + ", " + data + ')';
    }

    /** A bounded free list; used from its event loop only. */
    static final class Pool {
        private final ForwardedDatagram[] free;
        private int size;

        Pool(int capacity) {
            free = new ForwardedDatagram[capacity];
        }

        /** Takes one reference to {@code data}: the caller must have retained it for this datagram. */
        ForwardedDatagram acquire(ByteBuf data, InetSocketAddress to) {
            ForwardedDatagram d = size > 0 ? free[--size] : new ForwardedDatagram(this);
            free[size] = null;
            d.data = data;
            d.to = to;
            d.references = 1;
            return d;
        }

        void recycle(ForwardedDatagram d) {
            if (size < free.length) {
                free[size++] = d;
            }
        }

        int available() {
            return size;
        }
    }
}
