package dev.cloister.desktop;

import dev.cloister.client.chat.StoredMessage;
import dev.cloister.client.chat.Unreadable;
import java.time.Instant;

/**
 * One row of a text channel as the UI shows it: the decrypted text, or a plain sentence saying
 * why it cannot be shown ({@code problem}), or that it is still being sent.
 */
record MessageItem(String id, String authorId, Instant at, String text, String problem,
    boolean pending, boolean edited, boolean pinned, boolean sending) {

  static MessageItem of(StoredMessage m, boolean edited, boolean pinned) {
    return switch (m.state()) {
      case READ -> new MessageItem(m.id(), m.authorId(), m.createdAt(), m.text(), null, false,
          edited, pinned, false);
      case UNREADABLE -> new MessageItem(m.id(), m.authorId(), m.createdAt(), null,
          unreadable(m.reason()), false, edited, pinned, false);
      case PENDING -> new MessageItem(m.id(), m.authorId(), m.createdAt(), null,
          "Waiting for the keys of epoch " + m.epoch() + " to decrypt this message.", true,
          edited, pinned, false);
    };
  }

  /** A message on its way: shown at once, replaced by the stored one when the server has it. */
  static MessageItem sending(String localId, String authorId, String text) {
    return new MessageItem(localId, authorId, Instant.now(), text, null, false, false, false, true);
  }

  static String unreadable(String reason) {
    if (reason != null && reason.startsWith(Unreadable.BEFORE_JOINED)) {
      return "Sent before you joined. End-to-end encryption keeps earlier messages from new "
          + "devices; ask someone to repeat it if you need it.";
    }
    return "Cannot decrypt this message: " + reason;
  }

  MessageItem withPinned(boolean p) {
    return new MessageItem(id, authorId, at, text, problem, pending, edited, p, sending);
  }

  boolean readable() {
    return text != null;
  }
}
