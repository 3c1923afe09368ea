package dev.cloister.guild.channel;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.guild.EntityTestKits;
import dev.cloister.guild.Snowflake;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.ProcessingSuccess$;
import org.apache.pekko.persistence.testkit.WriteEvents;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TextChannelTest {

  private static final ActorTestKit testKit = EntityTestKits.create();

  private EventSourcedBehaviorTestKit<TextChannel.Command, TextChannel.Event, TextChannel.State>
      channel;

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void fresh() {
    channel = EventSourcedBehaviorTestKit.create(
        testKit.system(), TextChannel.create("200", new Snowflake(1)));
  }

  private StatusReply<TextChannel.Message> post(byte[] ciphertext) {
    return channel.<StatusReply<TextChannel.Message>>runCommand(
        r -> new TextChannel.Post("1", ciphertext, r)).reply();
  }

  /**
   * Posts that arrive while a write is under way are persisted together in the next write (one
   * fsync for the batch), and each poster is answered in order with ids that keep increasing.
   */
  @Test
  void postsArrivingTogetherArePersistedTogetherAndAnsweredInOrder() {
    PersistenceTestKit journal = PersistenceTestKit.create(testKit.system());
    List<Integer> writes = new CopyOnWriteArrayList<>();
    journal.withPolicy((persistenceId, operation) -> {
      if (persistenceId.endsWith("|300") && operation instanceof WriteEvents w) {
        writes.add(w.getBatch().size());
      }
      return ProcessingSuccess$.MODULE$;
    });
    try {
      ActorRef<TextChannel.Command> ch = testKit.spawn(TextChannel.create("300",
          new Snowflake(2)));
      TestProbe<StatusReply<TextChannel.Info>> created = testKit.createTestProbe();
      ch.tell(new TextChannel.Create("100", "general", created.ref()));
      assertThat(created.receiveMessage().isSuccess()).isTrue();
      TestProbe<StatusReply<TextChannel.Message>> replies = testKit.createTestProbe();
      int n = 50;
      for (int i = 0; i < n; i++) {
        ch.tell(new TextChannel.Post("1", new byte[] {(byte) i}, replies.ref()));
      }
      long previous = 0;
      for (int i = 0; i < n; i++) {
        StatusReply<TextChannel.Message> r = replies.receiveMessage();
        assertThat(r.isSuccess()).isTrue();
        assertThat(r.getValue().ciphertext()[0]).as("answered in order").isEqualTo((byte) i);
        assertThat(r.getValue().id()).isGreaterThan(previous);
        previous = r.getValue().id();
      }
      int postWrites = writes.size() - 1; // the first write is the Create
      assertThat(writes.stream().skip(1).mapToInt(Integer::intValue).sum()).isEqualTo(n);
      assertThat(postWrites).as("writes for %s posts: %s", n, writes).isLessThan(n / 5);
    } finally {
      journal.resetPolicy();
    }
  }

  @Test
  void postingToAChannelThatWasNeverCreatedIsNotFound() {
    assertThat(post(new byte[] {1}).getError().getMessage()).isEqualTo("not_found: unknown channel");
  }

  @Test
  void messagesGetStrictlyIncreasingIdsThatSurviveRestart() {
    channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Create("100", "general", r));
    long previous = 0;
    for (int i = 0; i < 250; i++) {
      TextChannel.Message m = post(new byte[] {(byte) i}).getValue();
      assertThat(m.id()).isGreaterThan(previous);
      assertThat(m.channelId()).isEqualTo("200");
      assertThat(m.createdAtMillis()).isEqualTo(Snowflake.timestampOf(m.id()).toEpochMilli());
      previous = m.id();
    }
    channel.restart();
    assertThat(channel.getState().lastMessageId()).isEqualTo(previous);
    assertThat(post(new byte[] {9}).getValue().id()).isGreaterThan(previous);
  }

  @Test
  void emptyAndOversizedCiphertextIsRejectedWithoutAnEvent() {
    channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Create("100", "general", r));
    assertThat(post(new byte[0]).getError().getMessage()).startsWith("invalid:");
    var result = channel.<StatusReply<TextChannel.Message>>runCommand(
        r -> new TextChannel.Post("1", new byte[TextChannel.MAX_CIPHERTEXT_BYTES + 1], r));
    assertThat(result.reply().isError()).isTrue();
    assertThat(result.events()).isEmpty();
    assertThat(post(new byte[TextChannel.MAX_CIPHERTEXT_BYTES]).isSuccess()).isTrue();
  }

  @Test
  void idsNeverGoBackwardsEvenIfTheGeneratorDoes() {
    var state = new TextChannel.State("200", "100", "general", 5_000, 2, java.util.List.of());
    var decision = state.post("1", new byte[] {1}, 10);
    assertThat(((TextChannel.MessagePosted)
        ((dev.cloister.guild.Decision.Accept<TextChannel.Event>) decision).events().get(0))
        .messageId()).isEqualTo(5_001);
  }

  @Test
  void editsDeletesAndPinsNeedAnExistingMessageAndPinsAreBounded() {
    channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Create("100", "general", r));
    long id = post(new byte[] {1}).getValue().id();
    var edit = channel.<StatusReply<TextChannel.Info>>runCommand(
        r -> new TextChannel.Edit(id, "1", new byte[] {2}, r));
    assertThat(edit.events()).hasSize(1);
    var unknown = channel.<StatusReply<TextChannel.Info>>runCommand(
        r -> new TextChannel.Edit(id + 1, "1", new byte[] {2}, r));
    assertThat(unknown.reply().getError().getMessage()).isEqualTo("not_found: unknown message");
    var pinned = channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Pin(id, true, r));
    assertThat(pinned.reply().getValue().pinned()).containsExactly(id);
    var again = channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Pin(id, true, r));
    assertThat(again.events()).isEmpty();
    var deleted = channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Delete(id, "1", r));
    assertThat(deleted.reply().getValue().pinned()).as("a deleted message is unpinned").isEmpty();
    assertThat(deleted.reply().getValue().version()).as("created, posted, edited, pinned, deleted").isEqualTo(5);

    // A deleted message stays deleted: an edit or pin that raced the deletion is refused, and
    // nothing is dispatched for it; deleting again changes nothing.
    var editAfter = channel.<StatusReply<TextChannel.Info>>runCommand(
        r -> new TextChannel.Edit(id, "1", new byte[] {3}, r));
    assertThat(editAfter.reply().getError().getMessage()).isEqualTo("not_found: unknown message");
    assertThat(editAfter.events()).isEmpty();
    var pinAfter = channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Pin(id, true, r));
    assertThat(pinAfter.reply().getError().getMessage()).isEqualTo("not_found: unknown message");
    var deleteAgain = channel.<StatusReply<TextChannel.Info>>runCommand(r -> new TextChannel.Delete(id, "1", r));
    assertThat(deleteAgain.reply().isSuccess()).isTrue();
    assertThat(deleteAgain.events()).isEmpty();
    channel.restart(); // the deletion is remembered across recovery
    assertThat(channel.<StatusReply<TextChannel.Info>>runCommand(
        r -> new TextChannel.Edit(id, "1", new byte[] {3}, r)).reply().isError()).isTrue();

    var full = new TextChannel.State("200", "100", "general", 1000, 1,
        java.util.stream.LongStream.rangeClosed(1, TextChannel.MAX_PINS).boxed().toList());
    assertThat(full.pin(999, true)).isInstanceOf(dev.cloister.guild.Decision.Reject.class);
  }

  @Test
  void eventsAreTaggedIntoAFixedSet() {
    assertThat(TextChannel.tagFor("200")).matches("channel-[0-3]");
  }
}
