package dev.cloister.node.http;

import dev.cloister.guild.Rejection;
import dev.cloister.guild.group.GroupState;
import dev.cloister.node.metrics.CloisterMetrics;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.pattern.StatusReply;

/**
 * Counts MLS commits by what the delivery service answered, as the node receives it: accepted,
 * or rejected with the delivery service's reason (stale_epoch, future_epoch, ...) or the
 * rejection's code (invalid, forbidden, not_found, conflict), or
 * unavailable when the group entity did not answer in time.
 */
final class CommitOutcomes {

  /** The delivery service's own reasons, carried at the start of a rejection's message. */
  private static final List<String> SPECIFIC = List.of(GroupState.STALE_EPOCH,
      GroupState.FUTURE_EPOCH, GroupState.WRONG_GROUP, GroupState.NO_GROUP,
      GroupState.ROSTER_PENDING);

  private CommitOutcomes() {}

  static void count(Throwable failure) {
    String outcome = "accepted";
    String reason = "none";
    if (failure != null) {
      Throwable t = failure instanceof CompletionException && failure.getCause() != null
          ? failure.getCause() : failure;
      outcome = "rejected";
      if (t instanceof StatusReply.ErrorMessage) {
        Rejection r = Rejection.parse(t.getMessage());
        reason = r.code().wire;
        for (String specific : SPECIFIC) {
          if (r.message().startsWith(specific + ":")) {
            reason = specific;
          }
        }
      } else if (t instanceof ApiError e) {
        reason = e.code;
      } else if (t instanceof TimeoutException) {
        reason = "unavailable";
      } else {
        reason = "error";
      }
    }
    CloisterMetrics.MLS_COMMITS.withTag("outcome", outcome).withTag("reason", reason).increment();
  }
}
