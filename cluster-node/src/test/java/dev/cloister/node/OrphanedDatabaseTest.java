package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a node: its embedded PostgreSQL must not outlive it, and a server left
 * running anyway (its watchdog killed too) must not keep the next node on that data from starting.
 */
class OrphanedDatabaseTest {

  private static final Duration START = Duration.ofSeconds(120);

  @TempDir
  Path dataDir;

  @Test
  void theDatabaseGoesWithAKilledNodeAndALeftOverOneIsStoppedByTheNextNode() throws Exception {
    // 1. kill -9 of the node: its watchdog stops the server.
    TestNodes.seedDatabase(dataDir);
    Process node = NodeProcess.start(dataDir, TestNodes.freePort(), TestNodes.freePort(), START);
    ProcessHandle postmaster = postmaster();
    node.destroyForcibly(); // SIGKILL
    assertThat(node.waitFor(30, TimeUnit.SECONDS)).isTrue();
    await("the embedded PostgreSQL stops after its node was killed")
        .atMost(Duration.ofSeconds(30)).until(() -> !postmaster.isAlive());

    // 2. kill -9 of the node and of its watchdog (say, the whole process group): the server is
    // left running, holding the data directory...
    node = NodeProcess.start(dataDir, TestNodes.freePort(), TestNodes.freePort(), START);
    ProcessHandle orphan = postmaster();
    List<ProcessHandle> watchdogs = node.toHandle().children()
        .filter(c -> c.info().arguments().map(a -> List.of(a).contains("cloister-postgres-watchdog"))
            .orElse(false))
        .toList();
    assertThat(watchdogs).hasSize(1);
    watchdogs.get(0).destroyForcibly();
    node.destroyForcibly();
    assertThat(node.waitFor(30, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(1_000);
    assertThat(orphan.isAlive()).as("left running").isTrue();

    // ...and the next node on that data stops it, then starts its own.
    int port = TestNodes.freePort();
    Node again = Node.start(TestNodes.config(dataDir, port, TestNodes.freePort()));
    try {
      assertThat(orphan.isAlive()).isFalse();
      assertThat(postmaster().pid()).isNotEqualTo(orphan.pid());
      assertThat(new ApiClient("http://127.0.0.1:" + port).get("/health", null).status())
          .isEqualTo(200);
    } finally {
      again.stop();
    }
  }

  private ProcessHandle postmaster() throws Exception {
    long pid = Long.parseLong(
        Files.readAllLines(dataDir.resolve("postgres/postmaster.pid")).get(0).strip());
    return ProcessHandle.of(pid).orElseThrow();
  }
}
