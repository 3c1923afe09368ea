package dev.cloister.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import dev.cloister.client.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each simulation at a few users against a real node in this JVM, so that none of them rots:
 * the run completes, its assertions hold and it leaves an HTML report.
 */
class LoadSmokeTest {

  static TestServer node;
  // The homes fsync every save: on tmpfs when there is one, as LoadSettings' default is.
  @TempDir(factory = TestServer.Scratch.class) static Path work;

  @BeforeAll
  static void startNode() throws Exception {
    // Every virtual user comes from 127.0.0.1: per-IP limits lifted.
    node = TestServer.start(java.util.Map.<String, Object>of(
        "cloister.rate-limits.rest-per-ip.burst", 1_000_000,
        "cloister.rate-limits.rest-per-ip.per-second", 100_000,
        "cloister.rate-limits.gateway-connects-per-ip.burst", 100_000,
        "cloister.rate-limits.gateway-connects-per-ip.per-second", 10_000,
        "cloister.gateway.heartbeat-timeout", "5s",
        "cloister.auth.max-pending-logins-per-client", 100_000));
  }

  @AfterAll
  static void stopNode() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private static LoadRun.Outcome run(String simulation, String... extra) {
    // No p99 limits on a shared build machine: what must hold is that nothing failed and no
    // message was lost (the limits are for operators' runs, README "Load tests").
    String[] base = {simulation, "--url", node.url().toString(), "--work-dir",
        work.resolve("homes").toString(), "--results", work.resolve("results").toString(),
        "--latency-limits", "off"};
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
    assertThat(Files.readString(o.report().get())).contains("connect-to-ready")
        .contains("Global: count of failed events is 0.0")
        .contains("session held: count of successful events is 4.0");
  }

  @Test
  void chatFanout() throws Exception {
    LoadRun.Outcome o = run("chat-fanout", "--users", "4", "--ramp", "1s", "--duration", "4s",
        "--posters", "2", "--rate", "4", "--decrypting", "2");
    assertThat(o.status()).isZero();
    String report = Files.readString(o.report().get());
    assertThat(report).contains("send-to-delivery").contains("send-to-decrypted")
        .contains("send-to-ack")
        // the assertions that need no clock are in force: nothing failed, nothing lost
        .contains("Global: count of failed events is 0.0")
        .contains("send-to-delivery: count of failed events is 0.0")
        .contains("send-to-decrypted: count of failed events is 0.0");
  }

  @Test
  void mixed() throws Exception {
    LoadRun.Outcome o = run("mixed", "--users", "4", "--joins", "2", "--ramp", "1s",
        "--duration", "6s", "--think", "1s", "--decrypting", "2", "--voice", "3");
    assertThat(o.status()).isZero();
    assertThat(Files.readString(o.report().get())).contains("join-to-member")
        .contains("send-to-delivery")
        // the voice channel beside the chat: a host stays, two callers come and go
        .contains("join-to-first-audio").contains("audio lost (ms/s)").contains("frames checked")
        .contains("send-to-delivery: count of failed events is 0.0")
        .contains("send-to-decrypted: count of failed events is 0.0");
  }

  @Test
  void voiceJoin() throws Exception {
    LoadRun.Outcome o = run("voice-join", "--users", "3", "--speakers", "2", "--ramp", "1s",
        "--duration", "4s");
    assertThat(o.status()).isZero();
    assertThat(Files.readString(o.report().get())).contains("join-to-first-audio")
        .contains("audio lost (ms/s)")
        .contains("Global: count of failed events is 0.0")
        .contains("frames checked: count of successful events is 3.0");
  }

  @Test
  void badInputIsRefusedBeforeAnythingRuns() {
    assertThatThrownBy(() -> LoadRun.run()).hasMessageContaining("name a simulation");
    assertThatThrownBy(() -> LoadRun.run("voice-call", "--url", "http://127.0.0.1:1"))
        .hasMessageContaining("unknown simulation 'voice-call'");
    assertThatThrownBy(() -> run("voice-join", "--users", "1"))
        .hasMessageContaining("voice-join needs at least 2 users");
    assertThatThrownBy(() -> run("voice-join", "--users", "3", "--speakers", "3"))
        .hasMessageContaining("load.speakers must be between 1 and 2, not 3");
    assertThatThrownBy(() -> run("mixed", "--users", "3", "--voice", "4"))
        .hasMessageContaining("load.voice must be between 0 and 3, not 4");
    assertThatThrownBy(() -> run("chat-fanout", "--users", "many"))
        .hasMessageContaining("load.users must be a whole number, not 'many'");
    assertThatThrownBy(() -> run("chat-fanout", "--users", "0"))
        .hasMessageContaining("load.users must be between 1 and 100000");
    assertThatThrownBy(() -> run("mixed", "--duration", "soon"))
        .hasMessageContaining("load.duration must be a duration such as 500ms, 30s");
    assertThatThrownBy(() -> run("mixed", "--colour", "red"))
        .hasMessageContaining("unknown option '--colour'");
    assertThatThrownBy(() -> run("mixed", "--ramp"))
        .hasMessageContaining("--ramp needs a value");
    assertThatThrownBy(() -> run("mixed", "--latency-limits", "maybe"))
        .hasMessageContaining("load.latency-limits must be on or off, not 'maybe'");
    assertThatThrownBy(() -> LoadRun.run("connect-storm", "--url", "ftp://example"))
        .hasMessageContaining("cloister.url must be http://host:port");
  }

  @Test
  void aNodeThatIsNotThereFailsTheRun() throws Exception {
    int closed = TestServer.freePort(); // nothing listens there any more
    LoadRun.Outcome o = LoadRun.run("connect-storm", "--url", "http://127.0.0.1:" + closed,
        "--users", "2", "--work-dir", work.resolve("homes").toString(), "--results",
        work.resolve("results").toString());
    assertThat(o.status()).isNotZero();
  }
}
