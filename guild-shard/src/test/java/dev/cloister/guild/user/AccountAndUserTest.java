package dev.cloister.guild.user;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.guild.EntityTestKits;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class AccountAndUserTest {

  private static final ActorTestKit testKit = EntityTestKits.create();

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @Test
  void aUsernameIsClaimedOnceAndItsCredentialsSurviveRestart() {
    var account = EventSourcedBehaviorTestKit.<Account.Command, Account.Event, Account.State>create(
        testKit.system(), Account.create("alice"));
    byte[] salt = {1, 2, 3};
    byte[] verifier = {4, 5, 6};
    var first = account.<StatusReply<Account.Credentials>>runCommand(
        r -> new Account.Register("11", "alice", salt, verifier, r));
    assertThat(first.reply().getValue().userId()).isEqualTo("11");
    assertThat(first.events()).hasSize(1);

    var retry = account.<StatusReply<Account.Credentials>>runCommand(
        r -> new Account.Register("11", "alice", salt, verifier, r));
    assertThat(retry.reply().isSuccess()).isTrue();
    assertThat(retry.events()).isEmpty();

    // The API picks a new user id per attempt: a retry with the same credentials gets the first
    // attempt's id (so a registration whose User step failed can be finished); anyone else is
    // told the name is taken.
    var retriedWithNewId = account.<StatusReply<Account.Credentials>>runCommand(
        r -> new Account.Register("12", "alice", salt, verifier, r));
    assertThat(retriedWithNewId.reply().getValue().userId()).isEqualTo("11");
    assertThat(retriedWithNewId.events()).isEmpty();
    var taken = account.<StatusReply<Account.Credentials>>runCommand(
        r -> new Account.Register("13", "alice", new byte[] {9}, verifier, r));
    assertThat(taken.reply().getError().getMessage()).isEqualTo("conflict: username 'alice' is taken");

    account.restart();
    var creds = account.<StatusReply<Account.Credentials>>runCommand(Account.GetCredentials::new);
    assertThat(creds.reply().getValue().salt()).containsExactly(salt);
    assertThat(creds.reply().getValue().verifier()).containsExactly(verifier);
  }

  @Test
  void malformedUsernamesAndSizesAreInvalid() {
    var state = Account.State.EMPTY;
    assertThat(state.register("1", "Alice", new byte[1], new byte[1]))
        .isInstanceOf(dev.cloister.guild.Decision.Reject.class);
    assertThat(state.register("1", "a", new byte[1], new byte[1]))
        .isInstanceOf(dev.cloister.guild.Decision.Reject.class);
    assertThat(state.register("1", "bob", new byte[0], new byte[1]))
        .isInstanceOf(dev.cloister.guild.Decision.Reject.class);
    assertThat(state.register("1", "bob", new byte[1], new byte[Account.MAX_VERIFIER_BYTES + 1]))
        .isInstanceOf(dev.cloister.guild.Decision.Reject.class);
    assertThat(state.register("1", "bob", new byte[1], new byte[1]))
        .isInstanceOf(dev.cloister.guild.Decision.Accept.class);
  }

  @Test
  void userRecordsGuildsOnceEach() {
    var user = EventSourcedBehaviorTestKit.<User.Command, User.Event, User.State>create(
        testKit.system(), User.create("11"));
    var missing = user.<StatusReply<User.Profile>>runCommand(r -> new User.JoinGuild("100", r));
    assertThat(missing.reply().getError().getMessage()).isEqualTo("not_found: no such user");
    user.<StatusReply<User.Profile>>runCommand(r -> new User.Create("alice", r));
    user.<StatusReply<User.Profile>>runCommand(r -> new User.JoinGuild("100", r));
    var again = user.<StatusReply<User.Profile>>runCommand(r -> new User.JoinGuild("100", r));
    assertThat(again.events()).isEmpty();
    user.restart();
    var profile = user.<StatusReply<User.Profile>>runCommand(User.GetProfile::new);
    assertThat(profile.reply().getValue())
        .isEqualTo(new User.Profile("11", "alice", java.util.List.of("100")));
  }
}
