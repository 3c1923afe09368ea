package dev.cloister.guild;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * What a guild answers does not grow with it: views carry a member count, members and bans come
 * in pages in id order, and the whole state and the pages travel as {@link Parts}.
 */
class GuildPagesTest {

  private static final ActorTestKit testKit = EntityTestKits.create();
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final String OWNER = "1";
  private static int guilds;

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  /** A guild of OWNER with the given members joined, in that order. */
  private static ActorRef<Guild.Command> guild(String... members) {
    ActorRef<Guild.Command> g = testKit.spawn(Guild.create(Integer.toString(500 + ++guilds)));
    ask(g, r -> new Guild.Create("Pages", OWNER, "200", "201", 0, r));
    ask(g, r -> new Guild.Act(OWNER, new Guild.CreateInvite("inv", 0, 0), 0, r));
    for (String m : members) {
      ask(g, r -> new Guild.Act(m, new Guild.AcceptInvite("inv"), 0, r));
    }
    return g;
  }

  private static Guild.GuildView ask(ActorRef<Guild.Command> g,
      java.util.function.Function<ActorRef<StatusReply<Guild.GuildView>>, Guild.Command> c) {
    TestProbe<StatusReply<Guild.GuildView>> probe = testKit.createTestProbe();
    g.tell(c.apply(probe.getRef()));
    StatusReply<Guild.GuildView> reply = probe.receiveMessage(WAIT);
    assertThat(reply.isSuccess()).as(() -> String.valueOf(reply)).isTrue();
    return reply.getValue();
  }

  private static List<String> members(ActorRef<Guild.Command> g, String who, String after,
      int limit) throws Exception {
    return Parts.ask(testKit.system(), r -> g.tell(new Guild.ListMembers(who, after, limit, r)),
            Guild.Members.class, WAIT)
        .toCompletableFuture().get(10, TimeUnit.SECONDS)
        .members().stream().map(Guild.Member::userId).toList();
  }

  @Test
  void membersComeInPagesInTheOrderOfTheirIdsAsNumbers() throws Exception {
    ActorRef<Guild.Command> g = guild("5", "1000", "40", "7", "30");
    assertThat(ask(g, r -> new Guild.Get("40", r)).memberCount()).isEqualTo(6);
    assertThat(members(g, "40", null, 2)).containsExactly("1", "5");
    assertThat(members(g, "40", "5", 2)).containsExactly("7", "30");
    assertThat(members(g, "40", "30", 1000)).containsExactly("40", "1000");
    assertThat(members(g, "40", "1000", 10)).isEmpty();
    assertThat(members(g, "40", "6", 1)).containsExactly("7"); // after an id that is no member
    // the order follows joins and leaves
    ask(g, r -> new Guild.Act("7", new Guild.Leave(), 0, r));
    ask(g, r -> new Guild.Act("8", new Guild.AcceptInvite("inv"), 0, r));
    assertThat(members(g, OWNER, "5", 2)).containsExactly("8", "30");
  }

  @Test
  void pagesAreRefusedToStrangersAndOutsideTheirBounds() {
    ActorRef<Guild.Command> g = guild("2");
    assertThat(refusal(() -> members(g, "9", null, 10))).isEqualTo(
        "forbidden: you are not a member of this guild");
    assertThat(refusal(() -> members(g, "2", null, 0))).isEqualTo(
        "invalid: limit must be within 1..1000");
    assertThat(refusal(() -> members(g, "2", null, 1001))).isEqualTo(
        "invalid: limit must be within 1..1000");
    // bans: only with BAN_MEMBERS
    assertThat(refusal(() -> Parts.ask(testKit.system(),
            r -> g.tell(new Guild.ListBans("2", null, 10, r)), Guild.Bans.class, WAIT)
        .toCompletableFuture().get(10, TimeUnit.SECONDS)))
        .isEqualTo("forbidden: missing permission BAN_MEMBERS");
  }

  @Test
  void bansComeInPagesToThoseWhoMayBan() throws Exception {
    ActorRef<Guild.Command> g = guild("3", "20");
    for (String banned : List.of("900", "3", "20", "100")) {
      ask(g, r -> new Guild.Act(OWNER, new Guild.BanMember(banned), 0, r));
    }
    var first = Parts.ask(testKit.system(), r -> g.tell(new Guild.ListBans(OWNER, null, 3, r)),
        Guild.Bans.class, WAIT).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(first.bans()).extracting(Guild.Ban::userId).containsExactly("3", "20", "100");
    var rest = Parts.ask(testKit.system(), r -> g.tell(new Guild.ListBans(OWNER, "100", 3, r)),
        Guild.Bans.class, WAIT).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertThat(rest.bans()).extracting(Guild.Ban::userId).containsExactly("900");
    assertThat(ask(g, r -> new Guild.Get(OWNER, r)).memberCount()).isEqualTo(1);
  }

  @Test
  void theWholeStateTravelsInPartsOfTheAskedSize() {
    List<String> many = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      many.add(Integer.toString(10_000 + i));
    }
    ActorRef<Guild.Command> g = guild(many.toArray(String[]::new));
    TestProbe<Parts.Part> probe = testKit.createTestProbe();
    g.tell(new Guild.GetReplica(42, 1024, probe.getRef()));
    Parts.Part first = probe.receiveMessage(WAIT);
    assertThat(first.count()).as("200 members in parts of 1 KiB").isGreaterThan(10);
    List<Parts.Part> parts = new ArrayList<>(List.of(first));
    for (int i = 1; i < first.count(); i++) {
      parts.add(probe.receiveMessage(WAIT));
    }
    assertThat(parts).allSatisfy(p -> {
      assertThat(p.transferId()).isEqualTo(42);
      assertThat(p.bytes().length).isLessThanOrEqualTo(1024);
    });
    // any order; repeats and another transfer's parts are passed over
    Collections.reverse(parts);
    Parts.Assembler in = new Parts.Assembler(42);
    assertThat(in.add(new Parts.Part(41, 0, 2, first.serializerId(), first.manifest(),
        new byte[] {1}))).isFalse();
    for (int i = 0; i < parts.size(); i++) {
      assertThat(in.add(parts.get(i))).isEqualTo(i == parts.size() - 1);
      if (i == 0) {
        assertThat(in.add(parts.get(0))).isFalse(); // a repeat
      }
    }
    Guild.Replica r = in.message(testKit.system(), Guild.Replica.class);
    assertThat(r.state().members()).hasSize(201).containsKeys(many.toArray(String[]::new));
    assertThat(r.seqNr()).isEqualTo(202); // created, an invite, 200 joins
  }

  @Test
  void anAnswerWhosePartsDoNotAllComeTimesOut() {
    TestProbe<Object> sink = testKit.createTestProbe();
    var answer = Parts.ask(testKit.system(), r -> {
      List<Parts.Part> parts = Parts.split(testKit.system(), 0,
          new Guild.Members(List.of(new Guild.Member("5", null, List.of(), 0))), 8);
      for (int i = 1; i < parts.size(); i++) { // the first part is lost
        r.tell(StatusReply.success(parts.get(i)));
      }
      sink.getRef().tell("sent");
    }, Guild.Members.class, Duration.ofMillis(300)).toCompletableFuture();
    sink.expectMessage("sent");
    assertThatThrownBy(() -> answer.get(5, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TimeoutException.class);
  }

  private interface Call {
    Object run() throws Exception;
  }

  private static String refusal(Call c) {
    try {
      c.run();
    } catch (ExecutionException e) {
      return e.getCause().getMessage();
    } catch (Exception e) {
      return e.toString();
    }
    return "no refusal";
  }
}
