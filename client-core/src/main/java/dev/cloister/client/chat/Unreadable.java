package dev.cloister.client.chat;

import dev.cloister.client.mls.GroupSession;
import dev.cloister.mls.group.MlsGroupException;

/** Why this device cannot read a message, in words a person can act on (README, "unreadable"). */
public final class Unreadable {

  public static final String BEFORE_JOINED = "sent before this device joined";

  private Unreadable() {}

  /** Sent in an epoch before this device's membership began (as Signal and DAVE do, by design). */
  static String beforeJoined(GroupSession s) {
    return s.rejoined()
        ? BEFORE_JOINED + " (it rejoined group " + s.groupId() + " at epoch " + s.joinedEpoch()
            + " after a removal or a reset)"
        : BEFORE_JOINED;
  }

  static String afterLeft(GroupSession s, long epoch) {
    return "sent in epoch " + epoch + " of group " + s.groupId() + ", after this device's "
        + "membership ended at epoch " + s.epoch() + " (" + s.lost() + ")";
  }

  static String noState(String groupId) {
    return "this device holds no keys of group " + groupId;
  }

  static String notYet(String groupId, long epoch, String why) {
    return "not decrypted yet: this device has not reached epoch " + epoch + " of group " + groupId
        + (why == null ? "" : " (" + why + ")");
  }

  /** A decryption that failed: which sender and epoch, and what the MLS layer said. */
  static String failed(GroupSession s, String authorId, long epoch, MlsGroupException e) {
    String m = e.getMessage() == null ? e.toString() : e.getMessage();
    if (m.contains("keeps only epochs") && epoch < s.epoch()) {
      return "sent in epoch " + epoch + " of group " + s.groupId() + ", which ended before this "
          + "device fetched the message; its keys are gone (forward secrecy)";
    }
    return "cannot decrypt the message" + (authorId == null ? "" : " from user " + authorId)
        + " in epoch " + epoch + " of group " + s.groupId() + ": " + m;
  }
}
