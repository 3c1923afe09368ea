package dev.cloister.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.auth.Login;
import dev.cloister.client.auth.Srp;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.http.ServerUnreachableException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The SDK's SRP login and typed REST calls against a real node. */
@ExtendWith(TestServer.Shared.class)
class ApiEndToEndTest {

  private static TestServer server;

  @BeforeAll
  static void start(TestServer shared) {
    server = shared; // the tests make their own users and homes: no node of their own needed
  }

  @Test
  void registersAndLogsInWithSrp() {
    Srp srp = new Srp(server.rest());
    String userId = srp.register("carol_srp", "a long passphrase");
    Login login = srp.login("carol_srp", "a long passphrase");
    assertThat(login.userId()).isEqualTo(userId);
    assertThat(login.username()).isEqualTo("carol_srp");
    assertThat(login.token()).isNotBlank();
    assertThat(login.expiresAt()).isAfter(Instant.now());
    assertThat(login.toString()).doesNotContain(login.token());
  }

  @Test
  void loginFailuresAreTypedErrors() {
    Srp srp = new Srp(server.rest());
    srp.register("dave_srp", "right");
    assertThatThrownBy(() -> srp.login("dave_srp", "wrong"))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.status()).isEqualTo(401);
          assertThat(e.code()).isEqualTo("unauthorized");
        });
    assertThatThrownBy(() -> srp.login("nobody_here", "x"))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(401));
    assertThatThrownBy(() -> srp.register("dave_srp", "again"))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.status()).isEqualTo(409);
          assertThat(e.code()).isEqualTo("conflict");
          assertThat(e.getMessage()).isNotBlank();
        });
    assertThatThrownBy(() -> srp.register("Bad Name!", "x"))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo("invalid"));
  }

  @Test
  void anUnreachableServerIsNotAnApiError() throws Exception {
    RestClient nowhere = new RestClient(URI.create("http://127.0.0.1:" + TestServer.freePort()));
    assertThatThrownBy(() -> new Srp(nowhere).login("alice", "pw"))
        .isInstanceOf(ServerUnreachableException.class).hasMessageContaining("cannot reach");
  }

  @Test
  void guildsInvitesAndModeration() {
    Login alice = server.newUser("alice");
    Login bob = server.newUser("bob");
    Login carol = server.newUser("carol");
    CloisterApi a = server.api(alice);
    CloisterApi b = server.api(bob);
    CloisterApi c = server.api(carol);

    Guild g = a.createGuild("Book Club");
    assertThat(g.ownerId()).isEqualTo(alice.userId());
    assertThat(g.channels()).extracting(Channel::type).contains("text", "voice");
    assertThat(a.channels(g.id())).extracting(Channel::name).contains("general", "General");
    Channel general = g.channels().stream().filter(Channel::isText).findFirst().orElseThrow();
    assertThat(a.channel(general.id())).isEqualTo(general);

    assertThatThrownBy(() -> b.guild(g.id()))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(403));

    Invite invite = a.createInvite(g.id());
    assertThat(invite.guildId()).isEqualTo(g.id());
    assertThat(b.useInvite(invite.code())).isEqualTo(g.id());
    assertThat(c.useInvite(invite.code())).isEqualTo(g.id());
    assertThat(memberIds(a, g.id())).contains(bob.userId(), carol.userId());
    assertThat(a.guild(g.id()).memberCount()).isEqualTo(3);

    a.kick(g.id(), bob.userId());
    assertThat(memberIds(a, g.id())).doesNotContain(bob.userId());
    assertThat(b.useInvite(invite.code())).isEqualTo(g.id()); // a kick is not a ban

    a.ban(g.id(), carol.userId());
    assertThat(memberIds(a, g.id())).doesNotContain(carol.userId());
    assertThatThrownBy(() -> c.useInvite(invite.code()))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(403));
    assertThatThrownBy(() -> b.kick(g.id(), alice.userId()))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.code()).isEqualTo("forbidden");
          assertThat(e.getMessage()).contains("KICK_MEMBERS");
        });
    assertThatThrownBy(() -> a.useInvite("no-such-code"))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(404));

    Invite limited = a.createInvite(g.id(), 1, 3600);
    assertThat(limited.maxUses()).isEqualTo(1);
    assertThat(limited.expiresAt()).isAfter(Instant.now());
  }

  @Test
  void postsAndPagesHistoryBothWays() throws Exception {
    CloisterClient alice = server.newDevice("alice");
    CloisterApi a = alice.api();
    Guild g = a.createGuild("History");
    String channel = g.channels().stream().filter(Channel::isText).findFirst().orElseThrow().id();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      // Posts must be MLS PrivateMessages of the channel's group: sealed by the chat layer.
      byte[] ciphertext = alice.chat().seal(channel, "m" + i).ciphertext();
      Message m = a.post(channel, ciphertext);
      assertThat(m.authorId()).isEqualTo(alice.account().userId());
      assertThat(m.ciphertext()).isEqualTo(ciphertext);
      ids.add(m.id());
    }
    assertThat(a.history(channel, HistoryQuery.latest(3))).extracting(Message::id)
        .containsExactly(ids.get(6), ids.get(5), ids.get(4));
    assertThat(a.history(channel, HistoryQuery.before(ids.get(4), 3))).extracting(Message::id)
        .containsExactly(ids.get(3), ids.get(2), ids.get(1));
    // after= gives the ones just newer than it, still newest first.
    assertThat(a.history(channel, HistoryQuery.after(ids.get(1), 2))).extracting(Message::id)
        .containsExactly(ids.get(3), ids.get(2));
    assertThat(a.history(channel, new HistoryQuery(ids.get(6), ids.get(0), 100)))
        .extracting(Message::id).containsExactly(ids.get(5), ids.get(4), ids.get(3), ids.get(2), ids.get(1));
    assertThat(a.history(channel, HistoryQuery.after(ids.get(6), 10))).isEmpty();
    assertThat(a.history(channel, HistoryQuery.latest(1)).get(0).createdAt()).isNotNull();

    String voice = g.channels().stream().filter(ch -> ch.type().equals("voice")).findFirst()
        .orElseThrow().id();
    assertThatThrownBy(() -> a.post(channel, "plain".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(400));
    assertThatThrownBy(() -> a.post(voice, new byte[] {1}))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(400));
    assertThatThrownBy(() -> HistoryQuery.latest(101)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aBadTokenIsUnauthorized() {
    CloisterApi forged = new CloisterApi(server.rest().authenticated("forged"));
    assertThatThrownBy(() -> forged.createGuild("x"))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.status()).isEqualTo(401);
          assertThat(e.code()).isEqualTo("unauthorized");
        });
  }

  private static List<String> memberIds(CloisterApi api, String guildId) {
    return api.members(guildId).stream().map(Member::userId).toList();
  }
}
