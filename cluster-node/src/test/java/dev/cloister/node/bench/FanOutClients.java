package dev.cloister.node.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The fan-out benchmark's members, in a JVM of their own (as the peer's driver keeps its XMPP
 * clients apart from ejabberd): their sockets do not count against the node's file descriptors,
 * and their garbage does not lengthen the node's GC pauses. Not a test.
 *
 * <p>Arguments: a file of member tokens (one a line), the number of posts to expect, how many of
 * the first ones only warm up, and the gateway URLs the members connect to in turn. It opens and identifies every member, prints
 * {@code READY n}, then notes each MESSAGE_CREATE's id and arrival. On standard input the poster
 * says {@code S <id> <k> <sentNanos>} for each post, then {@code END}; this answers
 * {@code DELIVERED <arrived> <expected>} once every delivery arrived (or 30 s passed), then the
 * latencies from each post's sending to each arrival, and exits when its input closes.
 *
 * <p>Both JVMs read {@link System#nanoTime()}, which HotSpot on Linux takes from
 * {@code CLOCK_MONOTONIC}: one clock for every process on the machine, so the poster's send time
 * and a member's arrival time can be subtracted.
 */
final class FanOutClients {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ID_MARK = "\"d\":{\"id\":\"";

  /** One member's arrivals, written only by its socket's listener (which runs one call at a time). */
  private static final class Member {
    final int[] slots;
    final long[] at;
    volatile int count;

    Member(int capacity) {
      slots = new int[capacity];
      at = new long[capacity];
    }
  }

  public static void main(String[] args) throws Exception {
    List<String> tokens = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8);
    int posts = Integer.parseInt(args[1]);
    int warmup = Integer.parseInt(args[2]);
    List<String> gateways = Arrays.stream(args[3].split(",")).map(String::strip)
        .map(u -> u.replaceFirst("^http", "ws") + "/gateway").toList();

    // A message id becomes a slot the first time any member sees it: each arrival then costs
    // two array stores, not an object.
    Map<String, Integer> slotOf = new ConcurrentHashMap<>();
    AtomicInteger nextSlot = new AtomicInteger();
    AtomicLong arrived = new AtomicLong();
    AtomicInteger overflow = new AtomicInteger();
    List<Member> members = new ArrayList<>();
    CountDownLatch ready = new CountDownLatch(tokens.size());
    AtomicInteger failed = new AtomicInteger();
    Semaphore inFlight = new Semaphore(100);
    HttpClient http = HttpClient.newHttpClient();
    List<WebSocket> sockets = new ArrayList<>();
    long t0 = System.nanoTime();
    for (int m = 0; m < tokens.size(); m++) {
      Member member = new Member(posts + 16);
      members.add(member);
      inFlight.acquire();
      new MemberSocket(tokens.get(m), "b") {
        @Override
        void ready() {
          inFlight.release();
          ready.countDown();
        }

        @Override
        void failed() {
          failed.incrementAndGet();
          inFlight.release();
          ready.countDown();
        }

        @Override
        void frame(String f, long arrivedNanos) {
          if (!f.contains("\"t\":\"MESSAGE_CREATE\"")) {
            return;
          }
          int slot = slotOf.computeIfAbsent(messageId(f), id -> nextSlot.getAndIncrement());
          int n = member.count;
          if (n < member.at.length) {
            member.slots[n] = slot;
            member.at[n] = arrivedNanos;
            member.count = n + 1;
            arrived.incrementAndGet();
          } else {
            overflow.incrementAndGet();
          }
        }
      }.connect(http, URI.create(gateways.get(m % gateways.size())), sockets);
    }
    if (!ready.await(10, TimeUnit.MINUTES)) {
      System.out.println("not every member got ready in 10 minutes");
    }
    System.out.printf("READY %d (failed %d) in %.1f s%n", tokens.size() - failed.get(),
        failed.get(), (System.nanoTime() - t0) / 1e9);
    System.out.flush();

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    Map<String, long[]> sent = new HashMap<>(); // id -> {k, sentNanos}
    long cpu0 = -1;
    long window0 = 0;
    String line;
    while ((line = in.readLine()) != null) {
      String[] f = line.split(" ");
      if (f[0].equals("S")) {
        if (cpu0 < 0 && Long.parseLong(f[2]) >= warmup) {
          cpu0 = GatewayBenchmark.processCpuNanos();
          window0 = System.nanoTime();
        }
        sent.put(f[1], new long[] {Long.parseLong(f[2]), Long.parseLong(f[3])});
      } else if (f[0].equals("END")) {
        long expected = (long) sent.size() * (tokens.size() - failed.get());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (arrived.get() < expected && System.nanoTime() < deadline) {
          Thread.sleep(20);
        }
        double wall = (System.nanoTime() - window0) / 1e9;
        double cores = (GatewayBenchmark.processCpuNanos() - cpu0) / 1e9 / wall;
        System.out.printf("DELIVERED %d %d%n", arrived.get(), expected);
        System.out.flush();
        report(members, slotOf, sent, warmup, overflow.get(), wall, cores);
        System.out.flush();
      }
    }
    synchronized (sockets) {
      sockets.forEach(WebSocket::abort);
    }
    System.exit(0);
  }

  private static void report(List<Member> members, Map<String, Integer> slotOf,
      Map<String, long[]> sent, int warmup, int overflow, double wall, double cores) {
    int slots = slotOf.size();
    long[] kOfSlot = new long[slots];
    long[] sentOfSlot = new long[slots];
    Arrays.fill(kOfSlot, -1);
    slotOf.forEach((id, slot) -> {
      long[] s = sent.get(id);
      if (s != null) {
        kOfSlot[slot] = s[0];
        sentOfSlot[slot] = s[1];
      }
    });
    long total = 0;
    for (Member m : members) {
      total += m.count;
    }
    long[] lat = new long[(int) total];
    int n = 0;
    for (Member m : members) {
      for (int i = 0; i < m.count; i++) {
        int slot = m.slots[i];
        if (kOfSlot[slot] >= warmup) {
          lat[n++] = m.at[i] - sentOfSlot[slot];
        }
      }
    }
    lat = Arrays.copyOf(lat, n);
    Arrays.sort(lat);
    String kept = overflow == 0 ? "" : "; " + overflow + " arrivals beyond the posts sent were not kept";
    if (n == 0) {
      System.out.printf("Post-to-delivery latency: no delivery after %d posts to warm up%s%n",
          warmup, kept);
    } else {
      System.out.printf("Post-to-delivery latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              + " (%d deliveries after %d posts to warm up%s)%n",
          PostAndHistoryBenchmark.pct(lat, 50), PostAndHistoryBenchmark.pct(lat, 99),
          lat[n - 1] / 1e6, n, warmup, kept);
    }
    System.out.printf("members' JVM: %.2f cores over the %.2f s window%n", cores, wall);
  }

  /** The dispatch's {@code d.id}: found by its place in the frame the node writes, else parsed. */
  private static String messageId(String frame) {
    int i = frame.indexOf(ID_MARK);
    if (i >= 0) {
      int from = i + ID_MARK.length();
      int to = frame.indexOf('"', from);
      if (to > from) {
        return frame.substring(from, to);
      }
    }
    try {
      return JSON.readTree(frame).at("/d/id").asText();
    } catch (Exception e) {
      return "";
    }
  }

  private FanOutClients() {}
}
