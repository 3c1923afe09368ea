package dev.cloister.client.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterApi;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.Message;
import dev.cloister.client.TestServer;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The SDK's gateway client against a real node: live events, resume after a drop, backfill after invalid_session. */
class GatewayClientTest {

  private static final Duration WAIT = Duration.ofSeconds(20);
  // A session keeps this many dispatches for resume: the backfill test goes past it on purpose.
  private static final int RESUME_BUFFER = 10;

  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start(Map.of("cloister.gateway.resume.max-events", RESUME_BUFFER));
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  /** A guild owned by the first user that the others joined, and its text channel. */
  private record Club(Guild guild, String channelId) {}

  /** The guild, with every device in its encryption group (posts are MLS PrivateMessages). */
  private static Club club(CloisterClient owner, CloisterClient... members) throws Exception {
    CloisterApi api = owner.api();
    Guild g = api.createGuild("Gateway Club");
    String code = api.createInvite(g.id()).code();
    for (CloisterClient m : members) {
      m.api().useInvite(code);
    }
    Club club = new Club(g, g.channels().stream().filter(Channel::isText).findFirst().orElseThrow().id());
    List<CloisterClient> all = new ArrayList<>(List.of(owner));
    all.addAll(List.of(members));
    TestServer.awaitGroup(club.channelId(), all.toArray(CloisterClient[]::new));
    return club;
  }

  private static GatewayClient connect(CloisterClient device, GatewayListener listener) {
    return GatewayClient.start(device.rest(), device.account().deviceId(), listener);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String post(CloisterClient device, String channelId, String text) {
    try {
      return device.chat().send(channelId, text).id();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The text of a message the device heard, decrypted with its own state. */
  private static String text(CloisterClient device, Dispatch d) throws Exception {
    return device.chat().receive(d.message()).text();
  }

  /** Every numbered dispatch follows the one before it: nothing lost, nothing twice. */
  private static void assertContiguous(List<Dispatch> dispatches, long afterSeq) {
    List<Long> seqs = dispatches.stream().filter(d -> !d.backfilled()).map(Dispatch::seq).toList();
    for (int i = 0; i < seqs.size(); i++) {
      assertThat(seqs.get(i)).as("seq of dispatch %d of %s", i, seqs).isEqualTo(afterSeq + 1 + i);
    }
  }

  @Test
  void twoClientsSeeEachOthersPostsTypingAndPresence() throws Exception {
    CloisterClient alice = server.newDevice("alice");
    CloisterClient bob = server.newDevice("bob");
    Club club = club(alice, bob);
    RecordingListener aliceHears = new RecordingListener();
    RecordingListener bobHears = new RecordingListener();
    try (GatewayClient a = connect(alice, aliceHears);
        GatewayClient b = connect(bob, bobHears)) {
      Ready ready = a.awaitReady(WAIT);
      assertThat(ready.userId()).isEqualTo(alice.account().userId());
      assertThat(ready.username()).isEqualTo(alice.account().username());
      assertThat(ready.guilds()).extracting(Guild::id).contains(club.guild().id());
      assertThat(ready.seq()).isEqualTo(1);
      b.awaitReady(WAIT);

      Message sent = a.send(club.channelId(), alice.chat().seal(club.channelId(), "hi bob")
          .ciphertext()).get(20, TimeUnit.SECONDS);
      assertThat(sent.authorId()).isEqualTo(alice.account().userId());
      Dispatch atBob = bobHears.awaitMessage(sent.id(), WAIT);
      assertThat(text(bob, atBob)).isEqualTo("hi bob");
      assertThat(atBob.data().path("guildId").asText()).isEqualTo(club.guild().id());
      assertThat(atBob.backfilled()).isFalse();

      String reply = post(bob, club.channelId(), "hi alice");
      assertThat(text(alice, aliceHears.awaitMessage(reply, WAIT))).isEqualTo("hi alice");

      a.typing(club.channelId());
      Dispatch typing = bobHears.awaitDispatch(d -> d.type().equals("TYPING_START"), WAIT);
      assertThat(typing.data().path("userId").asText()).isEqualTo(alice.account().userId());

      b.presence("idle");
      aliceHears.awaitDispatch(d -> d.type().equals("PRESENCE_UPDATE")
          && d.data().path("userId").asText().equals(bob.account().userId())
          && d.data().path("status").asText().equals("idle"), WAIT);
      // Asked (as a large guild's member list does): members' statuses, strangers left out.
      assertThat(a.requestPresences(club.guild().id(), List.of(alice.account().userId(),
          bob.account().userId(), "404")).get(20, TimeUnit.SECONDS))
          .containsExactlyInAnyOrderEntriesOf(Map.of(alice.account().userId(), "online",
              bob.account().userId(), "idle"));
      assertThatThrownBy(() -> a.requestPresences("404", List.of(bob.account().userId()))
          .get(20, TimeUnit.SECONDS)).cause().isInstanceOfSatisfying(ApiException.class,
              e -> assertThat(e.status()).isEqualTo(404));

      String voice = club.guild().channels().stream().filter(c -> c.type().equals("voice"))
          .findFirst().orElseThrow().id();
      assertThatThrownBy(() -> a.send(voice, bytes("x")).get(20, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause().isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(400));

      assertContiguous(aliceHears.dispatches(), 1);
      assertContiguous(bobHears.dispatches(), 1);
    }
  }

  @Test
  void anAbruptDropIsResumedWithNoGap() throws Exception {
    CloisterClient alice = server.newDevice("alice");
    CloisterClient bob = server.newDevice("bob");
    Club club = club(alice, bob);
    RecordingListener heard = new RecordingListener();
    try (GatewayClient a = connect(alice, heard)) {
      a.awaitReady(WAIT);
      String before = post(bob, club.channelId(), "before");
      heard.awaitMessage(before, WAIT);

      a.dropConnection();
      heard.awaitState(GatewayClient.State.WAITING_TO_RECONNECT, WAIT);
      List<String> during = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        during.add(post(bob, club.channelId(), "during " + i));
      }
      for (String id : during) {
        heard.awaitMessage(id, WAIT);
      }
      heard.awaitState("CONNECTED resumed", WAIT);

      assertThat(heard.readies()).as("resumed, not identified again").hasSize(1);
      assertThat(heard.messages()).extracting(d -> d.data().path("id").asText())
          .containsExactly(before, during.get(0), during.get(1), during.get(2));
      assertThat(heard.messages()).noneMatch(Dispatch::backfilled);
      assertContiguous(heard.dispatches(), 1);
    }
  }

  @Test
  void afterInvalidSessionTheBackfillDeliversEveryMissedPostExactlyOnce() throws Exception {
    CloisterClient alice = server.newDevice("alice");
    CloisterClient bob = server.newDevice("bob");
    Club club = club(alice, bob);
    CloisterApi aliceApi = alice.api();
    RecordingListener heard = new RecordingListener();
    RestClient aliceRest = alice.rest();

    // A post that lands after the new session began but before the backfill reads history: the
    // backfill delivers it and the new session's live copy must be dropped.
    List<String> racing = new ArrayList<>();
    AtomicInteger backfills = new AtomicInteger();
    CountDownLatch backfilled = new CountDownLatch(1);
    HistoryBackfill history = new HistoryBackfill(aliceRest);
    Backfill racingBackfill = new Backfill() {
      @Override
      public long newestMessageId(String channelId) {
        return history.newestMessageId(channelId);
      }

      @Override
      public boolean run(ChannelCursors cursors, Consumer<Dispatch> deliver) {
        racing.add(post(bob, club.channelId(), "racing"));
        boolean complete = history.run(cursors, deliver);
        backfills.incrementAndGet();
        backfilled.countDown();
        return complete;
      }
    };

    try (GatewayClient a = GatewayClient.start(aliceRest, "alice-laptop", heard, racingBackfill,
        GatewayClient.Settings.DEFAULT)) {
      a.awaitReady(WAIT);
      String seen = post(bob, club.channelId(), "seen live");
      heard.awaitMessage(seen, WAIT);

      a.disconnect();
      heard.awaitState(GatewayClient.State.OFFLINE, WAIT);
      // More posts than the session keeps for resume, and a channel made during the gap.
      List<String> missed = new ArrayList<>();
      for (int i = 0; i < RESUME_BUFFER + 5; i++) {
        missed.add(post(bob, club.channelId(), "missed " + i));
      }
      Channel news = aliceApi.createChannel(club.guild().id(), "news", "text", null);
      List<String> missedNews = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        missedNews.add(post(bob, news.id(), "news " + i));
      }

      a.reconnect();
      assertThat(backfilled.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("backfill ran").isTrue();
      String after = post(bob, club.channelId(), "after");
      Dispatch afterLive = heard.awaitMessage(after, WAIT);

      assertThat(heard.states()).anyMatch(s -> s.contains("could not be resumed"));
      assertThat(heard.readies()).hasSize(2);
      assertThat(backfills).hasValue(1);
      assertThat(afterLive.backfilled()).isFalse();

      List<String> general = new ArrayList<>();
      general.add(seen);
      general.addAll(missed);
      general.addAll(racing);
      general.add(after);
      List<Dispatch> messages = heard.messages();
      assertThat(messages.stream().filter(d -> d.data().path("channelId").asText().equals(club.channelId()))
          .map(d -> d.data().path("id").asText()).toList())
          .as("every post in #general once, in order").containsExactlyElementsOf(general);
      assertThat(messages.stream().filter(d -> d.data().path("channelId").asText().equals(news.id()))
          .map(d -> d.data().path("id").asText()).toList())
          .as("the channel made during the gap").containsExactlyElementsOf(missedNews);
      assertThat(messages.stream().filter(Dispatch::backfilled).map(d -> d.data().path("id").asText()))
          .containsExactlyInAnyOrderElementsOf(concat(missed, racing, missedNews));
      assertThat(messages.stream().filter(Dispatch::backfilled))
          .allSatisfy(d -> assertThat(d.data().path("guildId").asText()).isEqualTo(club.guild().id()));
    }
  }

  @Test
  void aForgedTokenClosesTheClientWithTheReason() throws Exception {
    RecordingListener heard = new RecordingListener();
    try (GatewayClient c = GatewayClient.start(server.rest().authenticated("forged"), "x", heard)) {
      assertThatThrownBy(() -> c.awaitReady(WAIT)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("4004");
      assertThat(c.state()).isEqualTo(GatewayClient.State.CLOSED);
    }
  }

  @SafeVarargs
  private static List<String> concat(List<String>... lists) {
    List<String> all = new ArrayList<>();
    for (List<String> l : lists) {
      all.addAll(l);
    }
    return all;
  }
}
