package dev.cloister.client.cli;

import static dev.cloister.client.cli.CliHarness.byId;
import static dev.cloister.client.cli.CliHarness.epoch;
import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.TestServer;
import dev.cloister.client.cli.CliHarness.Person;
import dev.cloister.client.cli.CliHarness.Result;
import dev.cloister.mls.wire.MlsMessages;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end encrypted chat through the CLI against a real node: real MLS groups driven by the
 * server's log, each verb one in-process run over its person's home.
 */
@ExtendWith(TestServer.Shared.class)
class ChatCliTest {

  private static TestServer server;

  @TempDir(factory = TestServer.Scratch.class) // homes fsync every save: on tmpfs when there is one
  Path tmp;
  private CliHarness h;

  @BeforeAll
  static void start(TestServer shared) {
    server = shared; // the tests make their own users and homes: no node of their own needed
  }

  @BeforeEach
  void harness() {
    h = new CliHarness(server, tmp);
  }

  /** A guild of {@code owner} with the others in it and in its group; returns {guildId, general}. */
  private String[] guildWith(Person owner, Person... others) throws Exception {
    String guild = h.as(owner, "guild-create", "Book Club").line();
    String general = h.general(owner, guild);
    String code = h.as(owner, "invite", guild).line();
    List<Person> all = new ArrayList<>(List.of(owner));
    for (Person p : others) {
      assertThat(h.as(p, "join", code).line()).isEqualTo(guild);
      all.add(p);
    }
    h.awaitMembers(owner, general, all.toArray(Person[]::new));
    return new String[] {guild, general, code};
  }

  @Test
  void threePeopleChatAndTheServerHoldsOnlyMlsCiphertext() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person carol = h.register("carol");
    String[] g = guildWith(alice, bob);
    String general = g[1];

    String hello = h.as(alice, "send", general, "hello bob").line();
    String hi = h.as(bob, "send", general, "hi alice,\nnew line").line();
    assertThat(h.as(carol, "join", g[2]).line()).isEqualTo(g[0]);
    h.awaitMembers(bob, general, alice, bob, carol);
    String welcome = h.as(carol, "send", general, "carol here").line();

    Map<String, String> aliceSees = byId(h.as(alice, "read", general).lines());
    assertThat(aliceSees).containsExactly(
        Map.entry(hello, alice.name() + " hello bob"),
        Map.entry(hi, bob.name() + " hi alice,\\nnew line"),
        Map.entry(welcome, carol.name() + " carol here"));
    assertThat(byId(h.as(bob, "read", general).lines())).isEqualTo(aliceSees);
    // Carol joined after the first two: by design she cannot read them, and says why.
    Map<String, String> carolSees = byId(h.as(carol, "read", general).lines());
    assertThat(carolSees.get(hello)).isEqualTo(alice.name()
        + " [unreadable: sent before this device joined]");
    assertThat(carolSees.get(hi)).endsWith("[unreadable: sent before this device joined]");
    assertThat(carolSees.get(welcome)).isEqualTo(carol.name() + " carol here");
    assertThat(byId(h.as(carol, "read", general, "--limit", "1").lines())).containsOnlyKeys(welcome);

    // What the server stores is an MLS PrivateMessage of the guild's group, and no plaintext.
    for (String id : List.of(hello, hi, welcome)) {
      String raw = h.as(bob, "raw", general, id).line();
      byte[] ciphertext = Base64.getDecoder().decode(raw);
      MlsMessages.PrivateMessageHeader header = MlsMessages.parsePrivateMessageHeader(ciphertext);
      assertThat(new String(header.groupId(), StandardCharsets.UTF_8)).isEqualTo("g" + g[0]);
      assertThat(header.contentType()).isEqualTo(MlsMessages.CONTENT_APPLICATION);
      String bytes = new String(ciphertext, StandardCharsets.ISO_8859_1);
      assertThat(bytes).doesNotContain("hello").doesNotContain("alice").doesNotContain("carol here")
          .doesNotContain("\"text\"");
    }
    // Opening a raw ciphertext by hand: bob has read it (its key is spent), so from his store.
    Result opened = h.as(bob, "open", general, h.as(alice, "raw", general, welcome).line());
    assertThat(opened.line()).isEqualTo("carol here");

    // Everyone is at the same epoch with the same three members.
    String a = h.as(alice, "group", general).line();
    assertThat(h.as(bob, "group", general).line()).isEqualTo(a);
    assertThat(h.as(carol, "group", general).line()).isEqualTo(a);
    assertThat(a).startsWith("g" + g[0] + " ").contains(alice.device(), bob.device(), carol.device());

    // Safety numbers: the same 60 digits on both sides.
    String ab = h.as(alice, "safety-number", bob.userId()).line();
    assertThat(ab.replaceAll("\\s", "")).matches("\\d{60}");
    assertThat(h.as(bob, "safety-number", alice.userId()).line()).isEqualTo(ab);
    assertThat(h.as(alice, "safety-number", carol.userId()).line()).isNotEqualTo(ab);
  }

  @Test
  void aMessageIsShownOnlyAsFromTheMemberWhoEncryptedIt() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person mallory = h.register("mallory");
    String general = guildWith(alice, bob, mallory)[1];

    // Alice's device encrypts; Mallory (or a server lying about authors) posts it as hers.
    byte[] sealed = new dev.cloister.client.chat.Chat(
            dev.cloister.client.CloisterClient.open(alice.home(), server.url()))
        .seal(general, "alice's words").ciphertext();
    String posted = dev.cloister.client.CloisterClient.open(mallory.home(), server.url()).api()
        .post(general, sealed).id();
    Map<String, String> bobSees = byId(h.as(bob, "read", general).lines());
    assertThat(bobSees.get(posted)).isEqualTo(mallory.name() + " [unreadable: sent by user "
        + alice.userId() + " but posted as user " + mallory.userId() + ": not shown]");
    // Her own words under her own name read as ever.
    String own = h.as(mallory, "send", general, "mine").line();
    assertThat(byId(h.as(bob, "read", general).lines()).get(own)).isEqualTo(mallory.name() + " mine");
  }

  @Test
  void aKickedMemberIsLockedOutByTheKeysWhileTheOthersReadOn() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person carol = h.register("carol");
    String[] g = guildWith(alice, bob, carol);
    String general = g[1];
    String before = h.as(alice, "send", general, "before the kick").line();
    assertThat(byId(h.as(carol, "read", general).lines()).get(before)).endsWith("before the kick");
    String rawBefore = h.as(carol, "raw", general, before).line();

    assertThat(h.as(alice, "kick", g[0], carol.userId()).line()).isEmpty();
    // Here the Remove is committed before the send (the next test sends with no wait at all).
    h.awaitMembers(alice, general, alice, bob);
    String after = h.as(alice, "send", general, "after the kick").line();

    assertThat(byId(h.as(bob, "read", general).lines()).get(after))
        .isEqualTo(alice.name() + " after the kick");
    String rawAfter = h.as(bob, "raw", general, after).line();
    Result locked = h.as(carol, "open", general, rawAfter);
    assertThat(locked.exit()).as(locked.toString()).isEqualTo(ChatVerbs.CANNOT_OPEN);
    assertThat(locked.out()).isEmpty();
    assertThat(locked.err()).startsWith("cloister: cannot open:").contains("epoch");
    // What carol could read before the kick stays readable to her.
    assertThat(h.as(carol, "open", general, rawBefore).line()).isEqualTo("before the kick");
    Result noHistory = h.as(carol, "read", general);
    assertThat(noHistory.exit()).isEqualTo(1);
    assertThat(noHistory.err()).contains("403");
  }

  @Test
  void aMessageSentRightAfterAKickIsNotReadableByTheKickedDevice() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person carol = h.register("carol");
    String[] g = guildWith(alice, bob, carol);
    String general = g[1];
    assertThat(h.as(carol, "read", general).exit()).isZero();
    // No waiting: the server refuses the old epoch (roster_pending, then stale_epoch while the
    // Remove is pending) and alice's send syncs, commits the Remove and posts again.
    assertThat(h.as(alice, "kick", g[0], carol.userId()).line()).isEmpty();
    String after = h.as(alice, "send", general, "right after the kick").line();
    Result locked = h.as(carol, "open", general, h.as(bob, "raw", general, after).line());
    assertThat(locked.exit()).as(locked.toString()).isEqualTo(ChatVerbs.CANNOT_OPEN);
    assertThat(byId(h.as(bob, "read", general).lines()).get(after))
        .isEqualTo(alice.name() + " right after the kick");
  }

  @Test
  void aDeviceOfflineAcrossManyEpochsCatchesUpAndReadsEverything() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person carol = h.register("carol");
    Person dave = h.register("dave");
    String[] g = guildWith(alice, bob, carol);
    String general = g[1];
    assertThat(h.as(bob, "read", general).exit()).isZero();
    long start = epoch(h.as(alice, "group", general).line());

    // Bob stays offline while dave joins and is kicked again and again: two epochs a round,
    // 50 epochs by default as issue 9 asks (-Dcloister.catchup.rounds to change).
    int rounds = Integer.getInteger("cloister.catchup.rounds", 25);
    List<String> sent = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      assertThat(h.as(dave, "join", g[2]).line()).isEqualTo(g[0]);
      h.awaitMembers(alice, general, alice, bob, carol, dave);
      sent.add(h.as(alice, "send", general, "with dave " + round).line());
      h.as(alice, "kick", g[0], dave.userId()).line();
      h.awaitMembers(alice, general, alice, bob, carol);
      sent.add(h.as(carol, "send", general, "without dave " + round).line());
    }
    long end = epoch(h.as(alice, "group", general).line());
    assertThat(end - start).isGreaterThanOrEqualTo(2L * rounds);

    long t0 = System.nanoTime();
    Map<String, String> bobSees = byId(h.as(bob, "read", general, "--limit", "100").lines());
    System.out.printf("figure: catch-up read over %d epochs and %d messages took %d ms%n",
        end - start, sent.size(), (System.nanoTime() - t0) / 1_000_000);
    for (int i = 0; i < sent.size(); i++) {
      String text = (i % 2 == 0 ? "with dave " : "without dave ") + i / 2;
      assertThat(bobSees.get(sent.get(i))).as("message %d", i).endsWith(" " + text);
    }
    assertThat(bobSees.values()).noneMatch(v -> v.contains("unreadable"));
    assertThat(epoch(h.as(bob, "group", general).line())).isEqualTo(end);
  }

  @Test
  void aDamagedGroupStateTakesTheResetPathAndTheDeviceReadsAgain() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person carol = h.register("carol");
    String[] g = guildWith(alice, bob, carol);
    String general = g[1];
    String one = h.as(alice, "send", general, "one").line();
    assertThat(byId(h.as(bob, "read", general).lines()).get(one)).endsWith(" one");
    long before = epoch(h.as(alice, "group", general).line());

    Path state = bob.home().resolve("groups").resolve("g" + g[0] + ".mls");
    byte[] bytes = Files.readAllBytes(state);
    bytes[bytes.length / 2] ^= 0x5a;
    Files.write(state, bytes);

    Result reset = h.as(bob, "read", general);
    assertThat(reset.exit()).as(reset.toString()).isZero();
    assertThat(reset.err()).contains("is corrupt").contains("asked the server to remove this device");
    assertThat(byId(reset.lines()).get(one)).as("kept in the message store").endsWith(" one");

    // A member commits bob's removal, the driver adds his device again, a member commits that.
    h.awaitGroup(alice, general, line -> epoch(line) >= before + 2 && line.contains(bob.device()));
    String two = h.as(alice, "send", general, "two").line();
    Map<String, String> bobSees = byId(h.as(bob, "read", general).lines());
    assertThat(bobSees.get(two)).isEqualTo(alice.name() + " two");
    assertThat(bobSees.get(one)).endsWith(" one");
    assertThat(h.as(bob, "group", general).line()).isEqualTo(h.as(alice, "group", general).line());
  }

  @Test
  void twoMembersCommittingAtOnceBothEndUpInTheSameEpoch() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person carol = h.register("carol");
    Person dave = h.register("dave");
    String[] g = guildWith(alice, bob, carol);
    String general = g[1];
    h.as(bob, "group", general).line();
    h.as(carol, "group", general).line();
    assertThat(h.as(dave, "join", g[2]).line()).isEqualTo(g[0]);
    Thread.sleep(300); // let the driver propose dave's Add, so that both race to commit it
    CompletableFuture<Result> a = CompletableFuture.supplyAsync(() -> h.as(bob, "group", general));
    CompletableFuture<Result> b = CompletableFuture.supplyAsync(() -> h.as(carol, "group", general));
    assertThat(a.get(60, TimeUnit.SECONDS).exit()).isZero();
    assertThat(b.get(60, TimeUnit.SECONDS).exit()).isZero();
    String line = h.awaitMembers(alice, general, alice, bob, carol, dave);
    assertThat(h.as(bob, "group", general).line()).isEqualTo(line);
    assertThat(h.as(carol, "group", general).line()).isEqualTo(line);
    String m = h.as(dave, "send", general, "dave made it").line();
    assertThat(byId(h.as(bob, "read", general).lines()).get(m)).endsWith(" dave made it");
  }

  @Test
  void listenPrintsDecryptedMessagesAndKeepsTheGroupMoving() throws Exception {
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    String[] g = guildWith(alice);
    String general = g[1];
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    CompletableFuture<Integer> listening = CompletableFuture.supplyAsync(() -> Cli.run(
        new String[] {"--home", alice.home().toString(), "listen", "--seconds", "8"},
        new java.io.PrintStream(out, true, StandardCharsets.UTF_8),
        new java.io.PrintStream(err, true, StandardCharsets.UTF_8),
        new java.io.BufferedReader(new java.io.StringReader("")), Map.of()));
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(30).toNanos();
    while (!out.toString(StandardCharsets.UTF_8).contains("\"op\":\"ready\"")) {
      assertThat(System.nanoTime()).as("ready in time; %s", err).isLessThan(deadline);
      Thread.sleep(50);
    }
    // Bob joins while alice listens: his Add is committed by her listening device (or he joins
    // by external commit); either way her device follows into the new epoch to read him.
    assertThat(h.as(bob, "join", g[2]).line()).isEqualTo(g[0]);
    String id = h.as(bob, "send", general, "hello listener").line();
    new dev.cloister.client.chat.Chat(
            dev.cloister.client.CloisterClient.open(bob.home(), server.url()))
        .edit(general, id, "hello, listener");
    assertThat(listening.get(30, TimeUnit.SECONDS)).as("stderr: %s", err).isZero();
    List<com.fasterxml.jackson.databind.JsonNode> lines = new ArrayList<>();
    List<com.fasterxml.jackson.databind.JsonNode> messages = new ArrayList<>();
    List<com.fasterxml.jackson.databind.JsonNode> edits = new ArrayList<>();
    for (String l : out.toString(StandardCharsets.UTF_8).split("\n")) {
      var json = dev.cloister.client.http.RestClient.JSON.readTree(l);
      lines.add(json);
      if ("MESSAGE_CREATE".equals(json.path("t").asText())) {
        messages.add(json);
      }
      if ("MESSAGE_UPDATE".equals(json.path("t").asText())) {
        edits.add(json);
      }
    }
    assertThat(lines.get(0).path("op").asText()).isEqualTo("ready");
    assertThat(messages).singleElement().satisfies(m -> {
      assertThat(m.path("s").asLong()).isPositive();
      assertThat(m.at("/d/id").asText()).isEqualTo(id);
      assertThat(m.at("/d/text").asText()).as("%s; stderr: %s", m, err).isEqualTo("hello listener");
      assertThat(m.at("/d/authorId").asText()).isEqualTo(bob.userId());
      assertThat(m.at("/d/ciphertext").isMissingNode()).isTrue();
    });
    // The edit arrives decrypted too, and the stored message reads as edited.
    assertThat(edits).singleElement().satisfies(e -> {
      assertThat(e.at("/d/id").asText()).isEqualTo(id);
      assertThat(e.at("/d/text").asText()).as("%s; stderr: %s", e, err).isEqualTo("hello, listener");
      assertThat(e.at("/d/ciphertext").isMissingNode()).isTrue();
    });
    assertThat(byId(h.as(alice, "read", general).lines()).get(id)).endsWith(" hello, listener");
  }
}
