package dev.cloister.client;

import java.time.Instant;

/**
 * A stored message. The server never interprets {@code ciphertext}; {@code editedAt} is null
 * unless edited.
 */
public record Message(String id, String channelId, String authorId, byte[] ciphertext,
    Instant createdAt, Instant editedAt, boolean pinned) {

  /** The numeric value of the id: snowflakes sort by time, so this orders a channel's messages. */
  public long idValue() {
    return Long.parseLong(id);
  }
}
