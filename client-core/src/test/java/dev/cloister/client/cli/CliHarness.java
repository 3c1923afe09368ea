package dev.cloister.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.TestServer;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/** Runs the CLI's main in-process against a test node, one home per person, as separate processes would. */
final class CliHarness {

  private static final AtomicInteger NAMES = new AtomicInteger();

  /** What one run printed and returned. */
  record Result(int exit, String out, String err) {
    String line() {
      assertThat(exit).as("exit code; stderr: %s", err).isZero();
      return out.strip();
    }

    List<String> lines() {
      return line().isEmpty() ? List.of() : line().lines().toList();
    }
  }

  /** One person: a home, and the user and device ids it registered. */
  record Person(Path home, String userId, String deviceId, String name) {
    String device() {
      return userId + "/" + deviceId;
    }
  }

  private final TestServer server;
  private final Path tmp;

  CliHarness(TestServer server, Path tmp) {
    this.server = server;
    this.tmp = tmp;
  }

  static Result cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Cli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8),
        new BufferedReader(new StringReader("")), Map.of());
    return new Result(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  Result as(Person p, String... verbAndArgs) {
    return as(p.home(), verbAndArgs);
  }

  Result as(Path home, String... verbAndArgs) {
    List<String> args = new ArrayList<>(List.of("--server", server.url().toString(), "--home",
        home.toString()));
    args.addAll(List.of(verbAndArgs));
    return cli(args.toArray(String[]::new));
  }

  Person register(String prefix) {
    String name = prefix + "_" + NAMES.incrementAndGet();
    Path home = tmp.resolve(name);
    String[] ids = as(home, "register", name, "pw of " + name).line().split(" ");
    return new Person(home, ids[0], ids[1], name);
  }

  /** The guild's text channel "general". */
  String general(Person p, String guildId) {
    return as(p, "channels", guildId).lines().stream().filter(l -> l.endsWith(" text general"))
        .findFirst().orElseThrow().split(" ")[0];
  }

  /**
   * Runs {@code group} as {@code p} (each run syncs: joins, follows the log, commits pending
   * proposals) until its line passes {@code done}; returns that line ("groupId epoch member...").
   */
  String awaitGroup(Person p, String channelId, Predicate<String> done) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    Result last = null;
    while (System.nanoTime() < deadline) {
      last = as(p, "group", channelId);
      if (last.exit() == 0 && done.test(last.out().strip())) {
        return last.out().strip();
      }
      Thread.sleep(50);
    }
    throw new AssertionError("group of channel " + channelId + " as " + p.name()
        + " never got there; last: " + last);
  }

  /** Until {@code p}'s view of the group has exactly these members. */
  String awaitMembers(Person p, String channelId, Person... members) throws InterruptedException {
    return awaitGroup(p, channelId, line -> {
      List<String> have = List.of(line.split(" ")).subList(2, line.split(" ").length);
      return have.size() == members.length
          && List.of(members).stream().allMatch(m -> have.contains(m.device()));
    });
  }

  static long epoch(String groupLine) {
    return Long.parseLong(groupLine.split(" ")[1]);
  }

  /** {@code read}'s lines as id -> the rest ("author text"). */
  static Map<String, String> byId(List<String> readLines) {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    for (String l : readLines) {
      int space = l.indexOf(' ');
      out.put(l.substring(0, space), l.substring(space + 1));
    }
    return out;
  }
}
