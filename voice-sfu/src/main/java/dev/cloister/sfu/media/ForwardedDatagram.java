package dev.cloister.sfu.media;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;

/**
 * An outbound datagram that is recycled instead of allocated: one received packet fans out to
 * hundreds of receivers, and each copy shares the received buffer through a {@link Shared} count.
 * It is a {@link DatagramPacket} so that Netty's epoll transport batches it into {@code sendmmsg};
 * the mutable content and recipient shadow the superclass's final fields. Owned by one event loop.
 */
final class ForwardedDatagram extends DatagramPacket {

    private static final InetSocketAddress PLACEHOLDER = new InetSocketAddress(0);

    private final Pool pool;
    private ByteBuf data;
    private Shared shared;
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
        Shared sh = shared;
        data = null;
        shared = null;
        to = null;
        references = 0;
        if (sh != null) {
            sh.release();
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

    /**
     * One worker's share of a received buffer: the copies that worker sends count here with plain
     * ints (they are all released on its event loop), and the buffer's own atomic count is touched
     * once per worker. JFR of a split fan-out showed the per-copy {@code retain()} of the shared
     * buffer at 14 % of the workers' Java samples, with both workers updating one count.
     */
    static final class Shared {
        private final Pool pool;
        private ByteBuf data;
        private int references;

        private Shared(Pool pool) {
            this.pool = pool;
        }

        /** Drops one reference; the last one releases the buffer's reference that {@link Pool#share} took over. */
        void release() {
            if (--references > 0) {
                return;
            }
            ByteBuf d = data;
            data = null;
            references = 0;
            if (d != null) {
                d.release();
            }
            pool.recycle(this);
        }
    }

    /** Bounded free lists of datagrams and shares; used from its event loop only. */
    static final class Pool {
        private final ForwardedDatagram[] free;
        private int size;
        private final Shared[] freeShares = new Shared[64];
        private int shares;

        Pool(int capacity) {
            free = new ForwardedDatagram[capacity];
        }

        /**
         * Takes over one reference to {@code data} (the caller retained it for this share). The share
         * starts with one reference of the caller's own, to be dropped with {@link Shared#release()}
         * after the last copy is acquired, so that a copy failed and released at once cannot free it early.
         */
        Shared share(ByteBuf data) {
            Shared s = shares > 0 ? freeShares[--shares] : new Shared(this);
            freeShares[shares] = null;
            s.data = data;
            s.references = 1;
            return s;
        }

        /** A copy of {@code shared}'s buffer to {@code to}; adds one reference to the share. */
        ForwardedDatagram acquire(Shared shared, InetSocketAddress to) {
            ForwardedDatagram d = size > 0 ? free[--size] : new ForwardedDatagram(this);
            free[size] = null;
            shared.references++;
            d.shared = shared;
            d.data = shared.data;
            d.to = to;
            d.references = 1;
            return d;
        }

        void recycle(ForwardedDatagram d) {
            if (size < free.length) {
                free[size++] = d;
            }
        }

        void recycle(Shared s) {
            if (shares < freeShares.length) {
                freeShares[shares++] = s;
            }
        }

        int available() {
            return size;
        }
    }
}
