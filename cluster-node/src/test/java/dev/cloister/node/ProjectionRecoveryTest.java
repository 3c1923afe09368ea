package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The history projection on real PostgreSQL across a node stopped in the middle of a stream of
 * posts: after the restart every acknowledged post is in the read model exactly once, in order,
 * and the stored offsets match the journal.
 */
class ProjectionRecoveryTest {

  @TempDir
  Path dataDir;

  @Test
  void aStopMidStreamLosesAndDuplicatesNothing() throws Exception {
    int httpPort = TestNodes.freePort();
    int mgmtPort = TestNodes.freePort();
    ApiClient api = new ApiClient("http://127.0.0.1:" + httpPort);
    TestNodes.seedDatabase(dataDir);
    Node node = Node.start(TestNodes.config(dataDir, httpPort, mgmtPort));
    String token;
    String channelId;
    ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
    String firstId;
    try {
      api.register("poster", "pw");
      token = api.token("poster", "pw");
      var guild = api.post("/api/v1/guilds", Map.of("name", "Stream"), token).body();
      channelId = guild.get("channels").get(0).get("id").asText();
      // Real MLS messages, made ahead on this thread (MLS state is single-threaded).
      MlsTestDevice device = MlsTestDevice.enroll(api, token, guild.get("ownerId").asText());
      firstId = device.send(channelId, "first");
      List<List<String>> sealed = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        List<String> mine = new ArrayList<>();
        for (int i = 0; i < 600; i++) {
          mine.add(MlsTestDevice.b64(device.encrypt(channelId, "m" + t + "." + i)));
        }
        sealed.add(mine);
      }

      AtomicBoolean running = new AtomicBoolean(true);
      CountDownLatch started = new CountDownLatch(4);
      List<Thread> posters = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        final String tok = token;
        final String ch = channelId;
        final List<String> mine = sealed.get(t);
        Thread thread = new Thread(() -> {
          started.countDown();
          for (int i = 0; i < mine.size() && running.get(); i++) {
            try {
              var r = api.post("/api/v1/channels/" + ch + "/messages",
                  Map.of("ciphertext", mine.get(i)), tok);
              if (r.status() == 201) {
                acknowledged.add(r.body().get("id").asText());
              }
            } catch (Exception e) {
              return; // the node went away under us: what was acknowledged is what counts
            }
          }
        });
        thread.start();
        posters.add(thread);
      }
      started.await();
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (acknowledged.size() < 400 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      node.stop(); // posts still in flight, the projection behind
      running.set(false);
      for (Thread t : posters) {
        t.join(30_000);
      }
    } finally {
      node.stop();
    }
    assertThat(acknowledged).hasSizeGreaterThanOrEqualTo(400);
    acknowledged.add(firstId);

    node = Node.start(TestNodes.config(dataDir, httpPort, mgmtPort));
    try {
      String again = api.token("poster", "pw");
      // The first read waits for the projection to catch up with the channel.
      List<String> history = NodeEndToEndTest.readAll(api, channelId, again);
      Set<String> unique = new HashSet<>(history);
      assertThat(unique).as("no duplicates").hasSize(history.size());
      assertThat(unique).as("every acknowledged post").containsAll(acknowledged);
      List<Long> numeric = history.stream().map(Long::parseLong).toList();
      for (int i = 1; i < numeric.size(); i++) {
        assertThat(numeric.get(i)).as("newest first").isLessThan(numeric.get(i - 1));
      }
      assertOffsetsMatchTheJournal();
    } finally {
      node.stop();
    }
  }

  /** Each tag's stored offset is the journal's last ordering for that tag: nothing left, nothing twice. */
  private void assertOffsetsMatchTheJournal() throws Exception {
    String url = embeddedUrl();
    try (Connection c = DriverManager.getConnection(url, "postgres", "")) {
      try (ResultSet rs = c.createStatement().executeQuery(
          "SELECT o.projection_key, o.current_offset, (SELECT MAX(t.event_id) FROM event_tag t "
              + "WHERE t.tag = o.projection_key) FROM pekko_projection_offset_store o "
              + "WHERE o.projection_name = 'message-history'")) {
        int tags = 0;
        while (rs.next()) {
          tags++;
          assertThat(Long.parseLong(rs.getString(2))).as("offset of %s", rs.getString(1))
              .isEqualTo(rs.getLong(3));
        }
        assertThat(tags).isPositive();
      }
      try (ResultSet rs = c.createStatement().executeQuery(
          "SELECT COUNT(*), COUNT(DISTINCT (channel_id, message_id)) FROM message_history")) {
        rs.next();
        assertThat(rs.getLong(1)).isEqualTo(rs.getLong(2));
      }
    }
  }

  private String embeddedUrl() throws Exception {
    // The running node's embedded PostgreSQL: its port is in postmaster.pid, line 4.
    List<String> pid = java.nio.file.Files.readAllLines(dataDir.resolve("postgres/postmaster.pid"));
    return "jdbc:postgresql://127.0.0.1:" + pid.get(3).strip() + "/postgres";
  }
}
