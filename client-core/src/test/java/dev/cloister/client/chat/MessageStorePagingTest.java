package dev.cloister.client.chat;

import static dev.cloister.client.chat.MessageStoreTest.message;
import static dev.cloister.client.chat.MessageStoreTest.privateMessage;
import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.profile.Profile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a desktop client asks of the store: paging back, deletions, and its own edits. */
class MessageStorePagingTest {

  @TempDir
  Path tmp;

  @Test
  void pagesBackOldestFirstAndForgetsDeletedMessages() throws Exception {
    Profile profile = Profile.open(tmp);
    List<String> notes = new ArrayList<>();
    MessageStore store = MessageStore.load(profile, "7", notes::add);
    byte[] ct = privateMessage("x");
    for (long id = 10; id < 20; id++) {
      store.add(message(id, ct));
    }
    assertThat(store.before(15, 3)).extracting(StoredMessage::id).containsExactly("12", "13", "14");
    assertThat(store.before(11, 5)).extracting(StoredMessage::id).containsExactly("10");
    assertThat(store.before(10, 5)).isEmpty();

    assertThat(store.remove("13")).isTrue();
    assertThat(store.remove("13")).isFalse();
    store.save();
    MessageStore again = MessageStore.load(profile, "7", notes::add);
    assertThat(again.before(15, 3)).extracting(StoredMessage::id).containsExactly("11", "12", "14");
    assertThat(again.get("13")).isEmpty();
    assertThat(notes).isEmpty();
  }

  @Test
  void anEditThisDeviceSentReadsAsItsTextOthersWaitToBeDecrypted() throws Exception {
    MessageStore store = MessageStore.load(Profile.open(tmp), "7", n -> {});
    store.add(message(10, privateMessage("first")));
    byte[] mine = privateMessage("edited by me");
    store.outgoing(mine, "edited by me");
    StoredMessage edited = store.edit(message(10, mine));
    assertThat(edited.state()).isEqualTo(StoredMessage.State.READ);
    assertThat(edited.text()).isEqualTo("edited by me");

    StoredMessage theirs = store.edit(message(10, privateMessage("edited by someone")));
    assertThat(theirs.state()).isEqualTo(StoredMessage.State.PENDING);
  }
}
