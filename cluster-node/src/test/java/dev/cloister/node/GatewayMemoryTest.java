package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, finding 1: clients that identify and then never read must not make the node hold
 * every large message for each of them. A real node, sessions on raw sockets that stop reading
 * (they keep heartbeating, as a hostile client would), and many large posts over REST: the node's
 * heap stays within the gateway's byte budgets, the never-readers are cut off, and a client that
 * reads gets every message promptly.
 *
 * <p>Defaults: 8 never-readers, 120 posts of 200 KiB. {@code -Dmemory.posts=1000
 * -Dmemory.idle=60} runs the scenario (minutes).
 */
class GatewayMemoryTest {

  private static final int IDLE = Integer.getInteger("memory.idle", 8);
  private static final int POSTS = Integer.getInteger("memory.posts", 120);
  private static final int TEXT_BYTES = 200 * 1024;

  @Test
  void neverReadersCannotMakeTheNodeHoldEveryLargeMessage() throws Exception {
    Path dir = TestNodes.dataDir("cloister-memory");
    int port = TestNodes.freePort();
    Node node = Node.start(TestNodes.config(dir, port, TestNodes.freePort()));
    ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "never-reader-heartbeats");
      t.setDaemon(true);
      return t;
    });
    List<RawGatewaySocket> idle = new ArrayList<>();
    try {
      ApiClient api = new ApiClient("http://127.0.0.1:" + port);
      GatewayEndToEndTest.User alice = GatewayEndToEndTest.user(api, "memalice");
      GatewayEndToEndTest.User bob = GatewayEndToEndTest.user(api, "membob");
      JsonNode g = GatewayEndToEndTest.guild(api, alice, bob);
      String channel = g.get("channels").get(0).get("id").asText();

      try (GatewayClient reader = GatewayClient.identify(port, bob.token())) {
        reader.ready();
        for (int i = 0; i < IDLE; i++) {
          RawGatewaySocket s = RawGatewaySocket.connect(port, 8 * 1024);
          s.sendText("{\"op\":\"identify\",\"d\":{\"token\":\"" + bob.token()
              + "\",\"deviceId\":\"idle-" + i + "\"}}");
          idle.add(s);
        }
        // They heartbeat (so the node does not time them out) and never read a byte.
        beats.scheduleAtFixedRate(() -> idle.forEach(s -> {
          try {
            s.sendText("{\"op\":\"heartbeat\",\"d\":null}");
          } catch (Exception cut) {
            // the node closed it
          }
        }), 500, 500, TimeUnit.MILLISECONDS);
        // Warm up (the first large post allocates buffers all the way) and take the baseline.
        String text = "x".repeat(TEXT_BYTES);
        String first = GatewayEndToEndTest.post(api, channel, text, alice);
        reader.until(f -> first.equals(f.at("/d/id").asText()), Duration.ofSeconds(30));
        long baseline = heapAfterGc();

        long worst = 0;
        List<Long> latencies = new ArrayList<>();
        for (int i = 0; i < POSTS; i++) {
          long start = System.nanoTime();
          String id = GatewayEndToEndTest.post(api, channel, text, alice);
          JsonNode created = reader.until(f -> "MESSAGE_CREATE".equals(f.path("t").asText())
              && id.equals(f.at("/d/id").asText()), Duration.ofSeconds(30));
          assertThat(created.at("/d/ciphertext").asText()).isNotEmpty();
          latencies.add((System.nanoTime() - start) / 1_000_000);
          if (i % 20 == 19) {
            worst = Math.max(worst, heapAfterGc() - baseline);
          }
        }
        worst = Math.max(worst, heapAfterGc() - baseline);
        latencies.sort(null);
        long p99 = latencies.get((int) Math.ceil(latencies.size() * 0.99) - 1);
        System.out.printf("GatewayMemoryTest: %d never-readers, %d posts of %d KiB: heap grew "
                + "by at most %d MiB; post to delivery p50 %d ms, p99 %d ms%n", IDLE, POSTS,
            TEXT_BYTES / 1024, worst >> 20, latencies.get(latencies.size() / 2), p99);

        // Unbounded, each never-reader would hold every post twice (its replay buffer and its
        // connection's queue): about POSTS x 270 KB x 2 x IDLE, 500 MiB with the defaults. The
        // budgets (4 MiB replay, 8 MiB queue, payloads shared) allow well under 100 MiB.
        assertThat(worst >> 20).as("heap growth in MiB").isLessThan(100);
        assertThat(p99).as("post to delivery p99, ms, for the client that reads")
            .isLessThan(5_000);
        // The never-readers' connections were cut (a close frame they will never read, 4012).
        for (RawGatewaySocket s : idle) {
          int code = s.drainUntilClosed(Duration.ofSeconds(15));
          assertThat(code).isIn(-1, 4012);
        }
      }
    } finally {
      beats.shutdownNow();
      idle.forEach(RawGatewaySocket::close);
      node.stop();
      TestNodes.delete(dir);
    }
  }

  private static long heapAfterGc() throws InterruptedException {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return memory.getHeapMemoryUsage().getUsed();
  }
}
