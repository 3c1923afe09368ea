package dev.cloister.client.chat;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/**
 * One message of a channel as this device keeps it: decrypted ({@link State#READ}, with its
 * text), never readable ({@link State#UNREADABLE}, with the reason), or waiting for the epoch it
 * was sent in ({@link State#PENDING}, with its ciphertext). {@code digest} is the SHA-256 of the
 * ciphertext, so a ciphertext seen again is recognised; {@code epoch} is -1 for non-MLS bytes.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record StoredMessage(String id, String authorId, Instant createdAt, String groupId,
    long epoch, State state, String text, String reason, byte[] ciphertext, String digest) {

  public enum State { PENDING, READ, UNREADABLE }

  public long idValue() {
    return Long.parseLong(id);
  }

  public StoredMessage read(String text) {
    return new StoredMessage(id, authorId, createdAt, groupId, epoch, State.READ, text, null, null,
        digest);
  }

  public StoredMessage unreadable(String reason) {
    return new StoredMessage(id, authorId, createdAt, groupId, epoch, State.UNREADABLE, null,
        reason, null, digest);
  }
}
