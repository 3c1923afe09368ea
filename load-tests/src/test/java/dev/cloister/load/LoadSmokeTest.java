package dev.cloister.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each simulation at a few users against a real node in this JVM, so that none of them rots:
 * the run completes, its assertions hold and it leaves an HTML report.
 */
class LoadSmokeTest {

  static TestNode node;
  @TempDir static Path work;

  @BeforeAll
  static void startNode() throws Exception {
    node = TestNode.start();
  }

  @AfterAll
  static void stopNode() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private static LoadRun.Outcome run(String simulation, String... extra) {
    String[] base = {simulation, "--url", node.url().toString(), "--work-dir",
        work.resolve("homes").toString(), "--results", work.resolve("results").toString()};
    String[] args = new String[base.length + extra.length];
    System.arraycopy(base, 0, args, 0, base.length);
    System.arraycopy(extra, 0, args, base.length, extra.length);
    return LoadRun.run(args);
  }

  @Test
  void connectStorm() throws Exception {
    LoadRun.Outcome o = run("connect-storm", "--users", "4", "--ramp", "1s", "--duration", "3s");
    assertThat(o.status()).isZero();
    assertThat(o.report()).isPresent();
    assertThat(Files.readString(o.report().get())).contains("connect-to-ready");
  }
}
