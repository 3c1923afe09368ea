package dev.cloister.guild.group;

import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.GroupView;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;

/**
 * Validates commits for a group's decisions and rebuilds the next view when an accepted commit is
 * applied (live or on replay), remembering the one just validated so it is not checked twice.
 */
public final class CommitReplay {
  private final DeliveryService ds;
  private byte[] lastCommit;
  private dev.cloister.mls.ds.Decision<DeliveryService.CommitAccepted> lastResult;

  public CommitReplay(DeliveryService ds) {
    this.ds = ds;
  }

  DeliveryService ds() {
    return ds;
  }

  dev.cloister.mls.ds.Decision<DeliveryService.CommitAccepted> validate(GroupView v,
      byte[] commit) {
    var result = ds.validateCommit(v, commit);
    lastCommit = commit;
    lastResult = result;
    return result;
  }

  dev.cloister.mls.ds.Decision<DeliveryService.CommitAccepted> validateExternal(GroupView v,
      byte[] commit, java.util.function.Predicate<DeviceCredential> mayJoin) {
    var result = ds.validateExternalCommit(v, commit, mayJoin);
    lastCommit = commit;
    lastResult = result;
    return result;
  }

  GroupView next(GroupView v, byte[] commit) {
    var result = commit == lastCommit && lastResult != null ? lastResult : replayed(v, commit);
    lastCommit = null;
    lastResult = null;
    if (!result.accepted()) {
      // validateCommit is deterministic: a journaled commit that fails now means the code changed.
      throw new IllegalStateException("journaled commit no longer validates: " + result.reason());
    }
    return result.value().view();
  }

  /** A journaled commit was accepted once: an external one was allowed to join then. */
  private dev.cloister.mls.ds.Decision<DeliveryService.CommitAccepted> replayed(GroupView v,
      byte[] commit) {
    try {
      if (MlsMessages.parsePublicMessage(commit).senderType()
          == MlsMessages.SENDER_NEW_MEMBER_COMMIT) {
        return ds.validateExternalCommit(v, commit, d -> true);
      }
    } catch (MlsWireException e) {
      return dev.cloister.mls.ds.Decision.reject("malformed journaled commit: " + e.getMessage());
    }
    return ds.validateCommit(v, commit);
  }
}
