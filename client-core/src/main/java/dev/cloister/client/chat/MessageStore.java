package dev.cloister.client.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.cloister.client.Message;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.profile.CorruptFileException;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * One channel's messages as this device decrypted them ({@code messages/<channelId>}, a {@link
 * dev.cloister.client.profile.CheckedFile} of JSON). It exists because of forward secrecy: once
 * the group moves past an epoch, nobody can decrypt that epoch's messages again, so a device
 * keeps what it read. It also keeps the ciphertexts not yet decryptable (of an epoch the device
 * has not reached), the newest id fetched from history, and an outbox: the plaintext of each
 * message this device is sending (its own messages are not decryptable by itself, as the sender
 * keys are forgotten), matched to the message by its ciphertext's digest.
 */
public final class MessageStore {

  /** What the file holds. */
  record Saved(int v, String channelId, String cursor, List<StoredMessage> messages,
      List<Outgoing> outbox) {}

  /** A message being sent: its ciphertext's digest and its text. */
  record Outgoing(String digest, String text, Instant at) {}

  private static final int VERSION = 1;
  /** Outbox entries whose post never came back are dropped after a while. */
  private static final java.time.Duration OUTBOX_KEEP = java.time.Duration.ofDays(7);

  private final Profile profile;
  private final String channelId;
  private final TreeMap<Long, StoredMessage> messages = new TreeMap<>();
  private final Map<String, Outgoing> outbox = new java.util.LinkedHashMap<>();
  private long cursor;
  private boolean dirty;

  private MessageStore(Profile profile, String channelId) {
    this.profile = profile;
    this.channelId = channelId;
  }

  /**
   * The channel's store (empty if the device has none). A damaged file is set aside as
   * {@code <channelId>.damaged} and reported through the exception's message to {@code notes}.
   */
  public static MessageStore load(Profile profile, String channelId,
      java.util.function.Consumer<String> notes) throws IOException {
    MessageStore store = new MessageStore(profile, channelId);
    Optional<byte[]> bytes;
    try {
      bytes = profile.channelMessages(channelId);
      if (bytes.isEmpty()) {
        return store;
      }
      Saved saved;
      try {
        saved = RestClient.JSON.readValue(bytes.get(), Saved.class);
      } catch (JsonProcessingException e) {
        throw new CorruptFileException(profile.messagesFile(channelId), "it is not the expected JSON");
      }
      if (saved.v() != VERSION || !channelId.equals(saved.channelId())) {
        throw new CorruptFileException(profile.messagesFile(channelId),
            "it is not a version " + VERSION + " store of channel " + channelId);
      }
      store.cursor = saved.cursor() == null ? 0 : Long.parseLong(saved.cursor());
      for (StoredMessage m : saved.messages() == null ? List.<StoredMessage>of() : saved.messages()) {
        store.messages.put(m.idValue(), m);
      }
      for (Outgoing o : saved.outbox() == null ? List.<Outgoing>of() : saved.outbox()) {
        store.outbox.put(o.digest(), o);
      }
      return store;
    } catch (CorruptFileException e) {
      Files.move(profile.messagesFile(channelId),
          profile.messagesFile(channelId).resolveSibling(channelId + ".damaged"),
          StandardCopyOption.REPLACE_EXISTING);
      notes.accept(e.getMessage() + "; set aside as " + channelId + ".damaged, the channel is "
          + "read afresh (what only it held is lost: earlier epochs cannot be decrypted again)");
      return new MessageStore(profile, channelId);
    } catch (NumberFormatException e) {
      throw new CorruptFileException(profile.messagesFile(channelId), "a message id is not a number");
    }
  }

  public String channelId() {
    return channelId;
  }

  /** The newest message id fetched from history (0 before the first fetch). */
  public long cursor() {
    return cursor;
  }

  public Optional<StoredMessage> get(String messageId) {
    return Optional.ofNullable(messages.get(Long.parseLong(messageId)));
  }

  /** The newest {@code limit} messages, oldest first. */
  public List<StoredMessage> last(int limit) {
    List<StoredMessage> out = new ArrayList<>(messages.descendingMap().values().stream()
        .limit(limit).toList());
    java.util.Collections.reverse(out);
    return out;
  }

  /** The {@code limit} messages just older than {@code messageId}, oldest first (paging back). */
  public List<StoredMessage> before(long messageId, int limit) {
    List<StoredMessage> out = new ArrayList<>(messages.headMap(messageId, false).descendingMap()
        .values().stream().limit(limit).toList());
    java.util.Collections.reverse(out);
    return out;
  }

  /** Forgets a deleted message; true if it was here. */
  public boolean remove(String messageId) {
    boolean removed = messages.remove(Long.parseLong(messageId)) != null;
    dirty |= removed;
    return removed;
  }

  /** Messages of {@code groupId} still waiting to be decrypted, oldest first. */
  public List<StoredMessage> pending(String groupId) {
    return messages.values().stream()
        .filter(m -> m.state() == StoredMessage.State.PENDING && groupId.equals(m.groupId()))
        .toList();
  }

  /** The groups with messages still waiting here. */
  public List<String> pendingGroups() {
    return messages.values().stream().filter(m -> m.state() == StoredMessage.State.PENDING)
        .map(StoredMessage::groupId).distinct().toList();
  }

  /** The text of a message this device read whose ciphertext was exactly this. */
  public Optional<String> textOf(byte[] ciphertext) {
    String d = digest(ciphertext);
    return messages.values().stream()
        .filter(m -> m.state() == StoredMessage.State.READ && d.equals(m.digest()))
        .map(StoredMessage::text).findFirst();
  }

  /**
   * Takes a message from history or the gateway (once; a known id is left as it is): pending
   * with its ciphertext, read at once if it is one this device sent, or unreadable if it is not
   * an MLS PrivateMessage at all.
   */
  public StoredMessage add(Message m) {
    StoredMessage known = messages.get(m.idValue());
    if (known != null) {
      return known;
    }
    String digest = digest(m.ciphertext());
    StoredMessage stored;
    try {
      MlsMessages.PrivateMessageHeader h = MlsMessages.parsePrivateMessageHeader(m.ciphertext());
      stored = new StoredMessage(m.id(), m.authorId(), m.createdAt(),
          new String(h.groupId(), StandardCharsets.UTF_8), h.epoch(), StoredMessage.State.PENDING,
          null, null, m.ciphertext(), digest);
      Outgoing mine = outbox.remove(digest);
      if (mine != null) {
        stored = stored.read(mine.text());
      }
    } catch (MlsWireException e) {
      stored = new StoredMessage(m.id(), m.authorId(), m.createdAt(), null, -1,
          StoredMessage.State.UNREADABLE, null, "not an MLS PrivateMessage (" + e.getMessage()
              + ")", null, digest);
    }
    put(stored);
    return stored;
  }

  /**
   * An edit arrived (a new PrivateMessage for a message id): the message waits to be decrypted
   * again, keeping when it was first posted. An edit seen before (same ciphertext) changes nothing.
   */
  public StoredMessage edit(Message m) {
    StoredMessage known = messages.get(m.idValue());
    String digest = digest(m.ciphertext());
    if (known != null && digest.equals(known.digest())) {
      return known;
    }
    java.time.Instant created = known != null ? known.createdAt() : m.createdAt();
    StoredMessage stored;
    try {
      MlsMessages.PrivateMessageHeader h = MlsMessages.parsePrivateMessageHeader(m.ciphertext());
      stored = new StoredMessage(m.id(), m.authorId(), created,
          new String(h.groupId(), StandardCharsets.UTF_8), h.epoch(), StoredMessage.State.PENDING,
          null, null, m.ciphertext(), digest);
      Outgoing mine = outbox.remove(digest); // this device's own edit: it cannot decrypt it
      if (mine != null) {
        stored = stored.read(mine.text());
      }
    } catch (MlsWireException e) {
      stored = new StoredMessage(m.id(), m.authorId(), created, null, -1,
          StoredMessage.State.UNREADABLE, null, "edited into something that is not an MLS"
              + " PrivateMessage (" + e.getMessage() + ")", null, digest);
    }
    put(stored);
    return stored;
  }

  public void put(StoredMessage m) {
    messages.put(m.idValue(), m);
    dirty = true;
  }

  public void advanceCursor(long messageId) {
    if (messageId > cursor) {
      cursor = messageId;
      dirty = true;
    }
  }

  /** Remembers the text of a message about to be posted with this ciphertext. */
  public void outgoing(byte[] ciphertext, String text) {
    Instant now = Instant.now();
    outbox.values().removeIf(o -> o.at() == null || o.at().isBefore(now.minus(OUTBOX_KEEP)));
    outbox.put(digest(ciphertext), new Outgoing(digest(ciphertext), text, now));
    dirty = true;
  }

  /** Records a message this device posted, readable from its text (the sender keys are forgotten). */
  public StoredMessage sent(Message m, String groupId, long epoch, byte[] ciphertext, String text) {
    String digest = digest(ciphertext);
    outbox.remove(digest);
    StoredMessage stored = new StoredMessage(m.id(), m.authorId(), m.createdAt(), groupId, epoch,
        StoredMessage.State.READ, text, null, null, digest);
    put(stored);
    return stored;
  }

  /** Writes the store if anything changed; plaintexts must be on disk before the keys go. */
  public void save() throws IOException {
    if (!dirty) {
      return;
    }
    Saved saved = new Saved(VERSION, channelId, Long.toString(cursor),
        List.copyOf(messages.values()), List.copyOf(outbox.values()));
    profile.saveChannelMessages(channelId, RestClient.JSON.writeValueAsBytes(saved));
    dirty = false;
  }

  static String digest(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
