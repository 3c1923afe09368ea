package dev.cloister.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.TestServer;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's main, in-process, against a real node: each call is what one process would do. */
@ExtendWith(TestServer.Shared.class)
class CliTest {

  private static TestServer server;

  @TempDir(factory = TestServer.Scratch.class) // homes fsync every save: on tmpfs when there is one
  Path tmp;

  @BeforeAll
  static void start(TestServer shared) {
    server = shared; // the tests make their own users and homes: no node of their own needed
  }

  /** What one run printed and returned. */
  record Result(int exit, String out, String err) {
    String line() {
      assertThat(exit).as("exit code; stderr: %s", err).isZero();
      return out.strip();
    }
  }

  private static Result cli(String stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Cli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8),
        new BufferedReader(new StringReader(stdin)), Map.of());
    return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private Result as(Path home, String... verbAndArgs) {
    List<String> args = new ArrayList<>(List.of("--server", server.url().toString(), "--home",
        home.toString()));
    args.addAll(List.of(verbAndArgs));
    return cli("", args.toArray(String[]::new));
  }

  @Test
  void twoPeopleMakeAGuildInviteJoinAndModerate() {
    Path alice = tmp.resolve("alice");
    Path bob = tmp.resolve("bob");
    String[] aliceIds = as(alice, "register", "alice_cli", "alice's password").line().split(" ");
    assertThat(aliceIds).hasSize(2);
    // Password from stdin: kept out of the process list.
    Result bobRegistered = cli("bob's password\n", "--server", server.url().toString(), "--home",
        bob.toString(), "register", "bob_cli", "-");
    String bobId = bobRegistered.line().split(" ")[0];

    assertThat(as(alice, "whoami").line()).isEqualTo(aliceIds[0] + " " + aliceIds[1]);
    // Later verbs find the server in the home.
    assertThat(cli("", "--home", alice.toString(), "whoami").line())
        .isEqualTo(aliceIds[0] + " " + aliceIds[1]);
    assertThat(as(alice, "login", "alice_cli", "alice's password").line())
        .as("a later login keeps the device").isEqualTo(aliceIds[0] + " " + aliceIds[1]);

    String guild = as(alice, "guild-create", "Book Club").line();
    assertThat(guild).matches("\\d+");
    List<String> channels = as(alice, "channels", guild).line().lines().toList();
    assertThat(channels).anyMatch(l -> l.matches("\\d+ text general"))
        .anyMatch(l -> l.matches("\\d+ voice General"));

    String code = as(alice, "invite", guild).line();
    assertThat(as(bob, "join", code).line()).isEqualTo(guild);
    assertThat(as(bob, "channels", guild).line().lines()).hasSameSizeAs(channels);

    assertThat(as(alice, "kick", guild, bobId).line()).isEmpty();
    Result afterKick = as(bob, "channels", guild);
    assertThat(afterKick.exit()).isEqualTo(1);
    assertThat(afterKick.err()).contains("403");

    assertThat(as(bob, "join", code).line()).isEqualTo(guild);
    assertThat(as(alice, "ban", guild, bobId).line()).isEmpty();
    Result banned = as(bob, "join", code);
    assertThat(banned.exit()).isEqualTo(1);
    assertThat(banned.err()).startsWith("cloister: error:").contains("403");

    Result limited = as(alice, "invite", guild, "--max-uses", "1", "--max-age", "60");
    assertThat(limited.line()).isNotEqualTo(code);
    Result notAMember = as(bob, "kick", guild, aliceIds[0]);
    assertThat(notAMember.exit()).isEqualTo(1);
  }

  @Test
  void badInputIsAClearLineOnStderrAndANonZeroExit() throws Exception {
    Path home = tmp.resolve("carol");
    as(home, "register", "carol_cli", "right").line();

    Result unknown = as(home, "frobnicate");
    assertThat(unknown.exit()).isEqualTo(2);
    assertThat(unknown.err()).startsWith("cloister: unknown verb 'frobnicate'");
    assertThat(unknown.out()).isEmpty();

    Result missing = as(home, "kick", "123");
    assertThat(missing.exit()).isEqualTo(2);
    assertThat(missing.err()).contains("missing USER_ID").contains("usage:");

    Result extra = as(home, "whoami", "extra");
    assertThat(extra.exit()).isEqualTo(2);
    Result badOption = as(home, "channels", "1", "--colour", "red");
    assertThat(badOption.exit()).isEqualTo(2);
    assertThat(badOption.err()).contains("unknown option --colour");

    Result wrongPassword = as(tmp.resolve("carol2"), "login", "carol_cli", "wrong");
    assertThat(wrongPassword.exit()).isEqualTo(1);
    assertThat(wrongPassword.err()).startsWith("cloister: error:").contains("401")
        .contains("password");

    Result taken = as(tmp.resolve("carol3"), "register", "carol_cli", "x");
    assertThat(taken.exit()).isEqualTo(1);
    assertThat(taken.err()).startsWith("cloister: error:").contains("409");

    Result unreachable = cli("", "--server", "http://127.0.0.1:" + TestServer.freePort(), "--home",
        tmp.resolve("nowhere").toString(), "login", "carol_cli", "right");
    assertThat(unreachable.exit()).isEqualTo(1);
    assertThat(unreachable.err()).startsWith("cloister: error: cannot reach").contains("connection refused");

    Result noServer = cli("", "whoami");
    assertThat(noServer.exit()).isEqualTo(2);
    assertThat(noServer.err()).contains("--server");

    Result badServer = cli("", "--server", "ftp://x", "whoami");
    assertThat(badServer.exit()).isEqualTo(2);

    Result notLoggedIn = as(tmp.resolve("empty"), "whoami");
    assertThat(notLoggedIn.exit()).isEqualTo(1);
    assertThat(notLoggedIn.err()).contains("register or log in first");

    Result otherAccount = as(home, "login", "someone_else", "x");
    assertThat(otherAccount.exit()).isEqualTo(1);
    assertThat(otherAccount.err()).contains("holds the device of carol_cli");

    Result notAGuild = as(home, "channels", "../../auth/register");
    assertThat(notAGuild.exit()).isEqualTo(1);
    assertThat(notAGuild.err()).startsWith("cloister: error:");

    Result help = cli("", "--help");
    assertThat(help.exit()).isZero();
    assertThat(help.out()).contains("register USER PASSWORD", "guild-create NAME", "listen [--seconds N]");
    Result verbHelp = cli("", "invite", "--help");
    assertThat(verbHelp.exit()).isZero();
    assertThat(verbHelp.out()).startsWith("usage: cloister cli").contains("--max-uses");
  }
}
