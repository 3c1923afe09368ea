package dev.cloister.client.voice;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real UDP hop between one engine and the SFU that impairs what crosses it, as a bad network
 * or an on-path attacker would: random loss, reordering (a datagram held back behind the next
 * ones), and toward the engine also replays (a datagram sent twice), forgeries (a flipped bit in
 * the RTP payload) and junk datagrams. The engine is told the path's address as its SFU; the SFU
 * sees the path's socket as the engine. Seeded, so a failure can be re-run.
 */
final class ImpairedPath implements AutoCloseable {
  record Impairment(double loss, double reorder, double replay, double forge, double junk) {
    static final Impairment NONE = new Impairment(0, 0, 0, 0, 0);
  }

  private final DatagramSocket engineSide;
  private final DatagramSocket sfuSide;
  private final InetSocketAddress sfu;
  private final Random random;
  private volatile Impairment toEngine;
  private volatile Impairment toSfu;
  private volatile InetSocketAddress engine;
  private volatile boolean running = true;
  private final List<Thread> threads = new ArrayList<>();
  final AtomicLong dropped = new AtomicLong();
  final AtomicLong reordered = new AtomicLong();
  final AtomicLong replayed = new AtomicLong();
  final AtomicLong forged = new AtomicLong();
  final AtomicLong junk = new AtomicLong();

  ImpairedPath(InetSocketAddress sfu, long seed) throws SocketException {
    InetAddress lo = InetAddress.getLoopbackAddress();
    this.engineSide = new DatagramSocket(new InetSocketAddress(lo, 0));
    this.sfuSide = new DatagramSocket(new InetSocketAddress(lo, 0));
    engineSide.setSoTimeout(100);
    sfuSide.setSoTimeout(100);
    this.sfu = sfu;
    this.random = new Random(seed);
    this.toEngine = Impairment.NONE;
    this.toSfu = Impairment.NONE;
    threads.add(new Thread(() -> pump(engineSide, true), "path-to-sfu"));
    threads.add(new Thread(() -> pump(sfuSide, false), "path-to-engine"));
    threads.forEach(Thread::start);
  }

  /** The address the engine should take for the SFU's. */
  InetSocketAddress address() {
    return (InetSocketAddress) engineSide.getLocalSocketAddress();
  }

  void impair(Impairment toEngine, Impairment toSfu) {
    this.toEngine = toEngine;
    this.toSfu = toSfu;
  }

  private void pump(DatagramSocket in, boolean towardSfu) {
    byte[] buf = new byte[2048];
    DatagramPacket held = null;
    int heldFor = 0;
    while (running) {
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      try {
        in.receive(p);
      } catch (SocketTimeoutException e) {
        continue;
      } catch (IOException e) {
        return;
      }
      if (towardSfu) {
        engine = (InetSocketAddress) p.getSocketAddress();
      }
      InetSocketAddress to = towardSfu ? sfu : engine;
      if (to == null) {
        continue;
      }
      Impairment im = towardSfu ? toSfu : toEngine;
      DatagramSocket out = towardSfu ? sfuSide : engineSide;
      byte[] copy = java.util.Arrays.copyOf(p.getData(), p.getLength());
      double r;
      synchronized (random) {
        r = random.nextDouble();
      }
      try {
        if (r < im.loss()) {
          dropped.incrementAndGet();
        } else if (r < im.loss() + im.reorder() && held == null) {
          held = new DatagramPacket(copy, copy.length, to);
          heldFor = 2;
          reordered.incrementAndGet();
        } else {
          double a = r - im.loss() - im.reorder();
          if (a >= im.replay() && a < im.replay() + im.forge() && copy.length > 40) {
            // A forgery ahead of the genuine datagram (behind it, the receiver would refuse it as a replay).
            byte[] forgedCopy = copy.clone();
            forgedCopy[forgedCopy.length - 20] ^= 0x01; // inside the SFrame ciphertext or tag
            out.send(new DatagramPacket(forgedCopy, forgedCopy.length, to));
            forged.incrementAndGet();
          }
          out.send(new DatagramPacket(copy, copy.length, to));
          if (a >= 0 && a < im.replay()) {
            out.send(new DatagramPacket(copy, copy.length, to)); // the same datagram again
            replayed.incrementAndGet();
          } else if (a >= im.replay() + im.forge() && a < im.replay() + im.forge() + im.junk()) {
            byte[] j = new byte[1 + (int) (a * 1e6) % 200];
            synchronized (random) {
              random.nextBytes(j);
            }
            out.send(new DatagramPacket(j, j.length, to));
            junk.incrementAndGet();
          }
        }
        if (held != null && --heldFor < 0) {
          out.send(held);
          held = null;
        }
      } catch (IOException e) {
        if (!running) {
          return;
        }
      }
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    engineSide.close();
    sfuSide.close();
    for (Thread t : threads) {
      t.join(2000);
    }
  }
}
