package dev.cloister.node.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The embedded PostgreSQL on its own (one server for the class): durable settings, one node per
 * data directory, a restart after its postmaster is killed.
 */
class EmbeddedServerTest {

  private static Path dataDir;
  private static Database db;

  static Config config() {
    return ConfigFactory.parseMap(Map.of("cloister.db.url", "")).withFallback(ConfigFactory.load());
  }

  @BeforeAll
  static void start() throws Exception {
    dataDir = Files.createTempDirectory("cloister-db-test");
    db = Database.start(config(), dataDir);
  }

  @AfterAll
  static void stop() throws Exception {
    if (db != null) {
      db.close();
    }
    try (var files = Files.walk(dataDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Test
  void runsDurably() throws Exception {
    // The embedded library starts the server with -F (fsync off) and synchronous_commit off.
    assertThat(show("fsync")).isEqualTo("on");
    assertThat(show("synchronous_commit")).isEqualTo("on");
    assertThat(show("full_page_writes")).isEqualTo("on");
    assertThat(db.health().isUp()).isTrue();
  }

  @Test
  void aSecondNodeOnTheSameDataDirectoryIsRefused() throws Exception {
    long pid = PostmasterPidFile.read(dataDir.resolve("postgres")).orElseThrow().pid();
    assertThatThrownBy(() -> Database.start(config(), dataDir))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("in use by another running Cloister node");
    assertThat(PostmasterPidFile.read(dataDir.resolve("postgres")).orElseThrow().pid())
        .as("the first node's server untouched").isEqualTo(pid);
    assertThat(show("fsync")).isEqualTo("on");
  }

  @Test
  void aServerThatDiesIsNoticedAndStartedAgainOnTheSamePort() throws Exception {
    PostmasterPidFile before = PostmasterPidFile.read(dataDir.resolve("postgres")).orElseThrow();
    ProcessHandle.of(before.pid()).orElseThrow().destroyForcibly(); // kill -9 of the postmaster

    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
        .until(() -> !db.health().isUp());
    await().atMost(Duration.ofSeconds(60)).until(() -> db.health().isUp());
    PostmasterPidFile after = PostmasterPidFile.read(dataDir.resolve("postgres")).orElseThrow();
    assertThat(after.pid()).isNotEqualTo(before.pid());
    assertThat(after.port()).isEqualTo(before.port());
    assertThat(show("fsync")).as("the same settings after the restart").isEqualTo("on");
    assertThat(show("synchronous_commit")).isEqualTo("on");
  }

  private static String show(String setting) throws Exception {
    try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SHOW " + setting)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
