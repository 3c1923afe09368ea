package dev.cloister.client.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.Message;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-channel message store and the chat payload, offline. */
class MessageStoreTest {

  @TempDir
  Path tmp;

  static Message message(long id, byte[] ciphertext) {
    return new Message(Long.toString(id), "7", "100", ciphertext, Instant.parse("2026-01-01T00:00:00Z"),
        null, false);
  }

  /** A real PrivateMessage of group g1 at epoch 0, from a one-member group. */
  static byte[] privateMessage(String text) throws Exception {
    DeviceIdentity id = DeviceIdentity.generate("100", "d1");
    byte[] serverKey = DeviceIdentity.generate("0", "server").signaturePublicKey();
    GroupMember m = GroupMember.create(id, "g1".getBytes(StandardCharsets.UTF_8), serverKey, "cloister");
    return m.protect(ChatPayload.of(text).encode());
  }

  @Test
  void keepsPendingReadAndUnreadableMessagesAcrossLoads() throws Exception {
    Profile profile = Profile.open(tmp);
    List<String> notes = new ArrayList<>();
    MessageStore store = MessageStore.load(profile, "7", notes::add);
    assertThat(store.cursor()).isZero();
    byte[] ct = privateMessage("hi");
    StoredMessage pending = store.add(message(10, ct));
    assertThat(pending.state()).isEqualTo(StoredMessage.State.PENDING);
    assertThat(pending.groupId()).isEqualTo("g1");
    assertThat(pending.epoch()).isZero();
    StoredMessage plain = store.add(message(11, "sealed".getBytes(StandardCharsets.UTF_8)));
    assertThat(plain.state()).isEqualTo(StoredMessage.State.UNREADABLE);
    assertThat(plain.reason()).startsWith("not an MLS PrivateMessage");
    store.advanceCursor(11);
    store.put(pending.read("hi"));
    store.save();

    MessageStore again = MessageStore.load(profile, "7", notes::add);
    assertThat(again.cursor()).isEqualTo(11);
    assertThat(again.last(10)).extracting(StoredMessage::id).containsExactly("10", "11");
    assertThat(again.get("10").orElseThrow().text()).isEqualTo("hi");
    assertThat(again.get("10").orElseThrow().ciphertext()).as("not kept once read").isNull();
    assertThat(again.textOf(ct)).contains("hi");
    assertThat(again.pending("g1")).isEmpty();
    assertThat(again.add(message(10, ct)).text()).as("a known id stays as it is").isEqualTo("hi");
    assertThat(notes).isEmpty();
  }

  @Test
  void aMessageThisDeviceSentIsReadFromItsOutbox() throws Exception {
    Profile profile = Profile.open(tmp);
    MessageStore store = MessageStore.load(profile, "7", n -> {});
    byte[] ct = privateMessage("mine");
    store.outgoing(ct, "mine");
    store.save();
    // The post's answer was lost (crash, timeout); history brings the message back.
    MessageStore later = MessageStore.load(profile, "7", n -> {});
    StoredMessage m = later.add(message(20, ct));
    assertThat(m.state()).isEqualTo(StoredMessage.State.READ);
    assertThat(m.text()).isEqualTo("mine");
  }

  @Test
  void aDamagedStoreIsSetAsideAndReported() throws IOException {
    Profile profile = Profile.open(tmp);
    MessageStore store = MessageStore.load(profile, "7", n -> {});
    store.add(message(1, "x".getBytes(StandardCharsets.UTF_8)));
    store.save();
    Path file = profile.messagesFile("7");
    byte[] bytes = Files.readAllBytes(file);
    bytes[3] ^= 1;
    Files.write(file, bytes);
    List<String> notes = new ArrayList<>();
    MessageStore fresh = MessageStore.load(profile, "7", notes::add);
    assertThat(fresh.last(10)).isEmpty();
    assertThat(notes).singleElement().asString().contains("corrupt").contains("set aside");
    assertThat(file.resolveSibling("7.damaged")).exists();
  }

  @Test
  void payloadIsVersionedJsonWithAText() throws IOException {
    byte[] b = ChatPayload.of("héllo \"you\"").encode();
    assertThat(new String(b, StandardCharsets.UTF_8)).isEqualTo("{\"v\":1,\"text\":\"héllo \\\"you\\\"\"}");
    assertThat(ChatPayload.decode(b).text()).isEqualTo("héllo \"you\"");
    assertThat(ChatPayload.decode("{\"v\":2,\"text\":\"t\",\"replyTo\":\"1\"}"
        .getBytes(StandardCharsets.UTF_8)).text()).as("newer versions read").isEqualTo("t");
    assertThatThrownBy(() -> ChatPayload.decode("hello".getBytes(StandardCharsets.UTF_8)))
        .isInstanceOf(IOException.class);
    assertThatThrownBy(() -> ChatPayload.decode("{\"v\":1}".getBytes(StandardCharsets.UTF_8)))
        .hasMessageContaining("no text");
  }
}
