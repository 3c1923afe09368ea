package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients posting while the embedded PostgreSQL's postmaster is killed with {@code kill -9}: the
 * node notices ({@code /health} and {@code /ready} fail), starts the server again, serves again,
 * and every post it had answered 201 is in the history exactly once.
 */
class DatabaseCrashTest {

  private static final int CLIENTS = 8;

  @TempDir
  Path dataDir;

  @Test
  void everyAcknowledgedPostSurvivesAKillOfThePostmaster() throws Exception {
    int port = TestNodes.freePort();
    int managementPort = TestNodes.freePort();
    TestNodes.seedDatabase(dataDir);
    Node node = Node.start(TestNodes.config(dataDir, port, managementPort));
    ApiClient api = new ApiClient("http://127.0.0.1:" + port);
    ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
    AtomicInteger refused = new AtomicInteger();
    AtomicBoolean running = new AtomicBoolean(true);
    List<Thread> clients = new ArrayList<>();
    try {
      api.register("poster", "pw");
      String token = api.token("poster", "pw");
      var guild = api.post("/api/v1/guilds", Map.of("name", "Crash"), token).body();
      String channel = guild.get("channels").get(0).get("id").asText();
      String messages = "/api/v1/channels/" + channel + "/messages";
      // Real MLS messages, sealed ahead on this thread (MLS state is single-threaded).
      MlsTestDevice device = MlsTestDevice.enroll(api, token, guild.get("ownerId").asText());
      device.send(channel, "first");
      List<List<String>> sealed = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        List<String> mine = new ArrayList<>();
        for (int i = 0; i < 1_500; i++) {
          mine.add(MlsTestDevice.b64(device.encrypt(channel, "m" + c + "." + i)));
        }
        sealed.add(mine);
      }
      for (int c = 0; c < CLIENTS; c++) {
        List<String> mine = sealed.get(c);
        Thread t = new Thread(() -> {
          for (int i = 0; running.get() && i < mine.size(); i++) {
            try {
              ApiClient.Response r = api.post(messages, Map.of("ciphertext", mine.get(i)), token);
              if (r.status() == 201) {
                acknowledged.add(r.body().get("id").asText());
              } else {
                refused.incrementAndGet();
                Thread.sleep(50);
              }
            } catch (InterruptedException e) {
              return;
            } catch (Exception e) {
              refused.incrementAndGet(); // no answer: not acknowledged
            }
          }
        }, "poster-" + c);
        t.start();
        clients.add(t);
      }
      await().atMost(Duration.ofSeconds(60)).until(() -> acknowledged.size() >= 200);

      Statuses seen = Statuses.watch(port, managementPort);
      ProcessHandle postmaster = postmaster();
      postmaster.destroyForcibly(); // kill -9 of the postmaster only
      int ackedAtKill = acknowledged.size();
      await("/health and /ready fail while the database is down")
          .atMost(Duration.ofSeconds(10)).until(() -> seen.healthDown && seen.readyDown);
      await("the node starts the database again and serves")
          .atMost(Duration.ofSeconds(90)).until(() -> seen.healthUpAgain);
      assertThat(postmaster().pid()).isNotEqualTo(postmaster.pid());
      int ackedAtRecovery = acknowledged.size();
      await("posts are acknowledged again").atMost(Duration.ofSeconds(60))
          .until(() -> acknowledged.size() >= ackedAtRecovery + 100);
      seen.stop();
      running.set(false);
      for (Thread t : clients) {
        t.join(60_000);
      }
      System.out.printf("acknowledged %d (%d at the kill, %d at recovery), refused %d%n",
          acknowledged.size(), ackedAtKill, ackedAtRecovery, refused.get());

      List<String> history = readAll(api, channel, token);
      Set<String> unique = new HashSet<>(history);
      assertThat(unique).as("no post twice").hasSize(history.size());
      Set<String> missing = new HashSet<>(acknowledged);
      missing.removeAll(unique);
      assertThat(missing).as("acknowledged posts missing from history").isEmpty();
    } finally {
      running.set(false);
      node.stop();
    }
  }

  /** Pages back through the whole channel, waiting out 503s (the read model catching up). */
  private static List<String> readAll(ApiClient api, String channel, String token)
      throws Exception {
    List<String> all = new ArrayList<>();
    String before = null;
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (System.nanoTime() < deadline) {
      ApiClient.Response r = api.get("/api/v1/channels/" + channel + "/messages?limit=100"
          + (before == null ? "" : "&before=" + before), token);
      if (r.status() == 503) {
        Thread.sleep(200);
        continue;
      }
      assertThat(r.status()).isEqualTo(200);
      if (r.body().isEmpty()) {
        return all;
      }
      all.addAll(NodeEndToEndTest.ids(r.body()));
      before = all.get(all.size() - 1);
    }
    throw new AssertionError("history did not become readable within 90 s");
  }

  private ProcessHandle postmaster() throws Exception {
    long pid = Long.parseLong(
        Files.readAllLines(dataDir.resolve("postgres/postmaster.pid")).get(0).strip());
    return ProcessHandle.of(pid).orElseThrow();
  }

  /** Polls /health and the management /ready every 20 ms and remembers what it saw. */
  static final class Statuses {
    volatile boolean healthDown;
    volatile boolean readyDown;
    volatile boolean healthUpAgain;
    private final AtomicBoolean running = new AtomicBoolean(true);

    static Statuses watch(int port, int managementPort) {
      Statuses s = new Statuses();
      HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      Thread t = new Thread(() -> {
        while (s.running.get()) {
          int health = status(http, "http://127.0.0.1:" + port + "/health");
          int ready = status(http, "http://127.0.0.1:" + managementPort + "/ready");
          if (health == 503) {
            s.healthDown = true;
          } else if (health == 200 && s.healthDown) {
            s.healthUpAgain = true;
          }
          if (ready != 200) {
            s.readyDown = true;
          }
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "status-watch");
      t.setDaemon(true);
      t.start();
      return s;
    }

    void stop() {
      running.set(false);
    }

    private static int status(HttpClient http, String url) {
      try {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2))
            .build(), HttpResponse.BodyHandlers.discarding()).statusCode();
      } catch (Exception e) {
        return -1;
      }
    }
  }
}
