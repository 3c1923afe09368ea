package dev.cloister.client.mls;

import static dev.cloister.client.mls.GroupSession.locked;

import dev.cloister.client.http.ApiException;
import dev.cloister.client.mls.GroupApi.GroupStatus;
import dev.cloister.client.mls.GroupApi.LogEntry;
import dev.cloister.client.profile.CorruptFileException;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsGroupException;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Brings this device's state in one group up to the delivery service's log (README, "End-to-end
 * encryption"): create the group if nobody has, join it (Welcome, else external commit: {@link
 * GroupJoin}), follow the log in order (proposals, revocations, commits), and commit pending
 * proposals. Every step is
 * saved before the next. A state that is damaged, or a commit this device cannot process, takes
 * the reset path: the server removes the device and its roster driver adds it again.
 *
 * <p>Forward secrecy: once a commit is applied, the epoch before the previous one is gone. The
 * {@link Messages} hooks let the chat layer fetch and decrypt every message of an epoch before
 * the commit that leaves it. The log is read only up to the seq the status named when this sync
 * began, and the messages are fetched after that status, so no message of an epoch this sync
 * leaves can be posted after it was fetched, other than in the previous epoch that stays held.
 *
 * <p>Call under the home's lock ({@link Profile#lock()}).
 */
public final class GroupSync {

  /** What the chat layer does around commits. */
  public interface Messages {
    /** Once, before this sync applies any commit: fetch the group's channels' new messages. */
    void beforeCommits(GroupSession session) throws IOException;

    /** Decrypts (or marks unreadable) every kept message of the group the session can settle now. */
    void openHeld(GroupSession session) throws IOException;
  }

  public enum Outcome {
    /** This device is a member and has processed the log. */
    MEMBER,
    /** Not a member yet (or any more, after a reset): {@code detail} says what it waits for. */
    WAITING,
    /** Removed from the group; the state keeps its last epoch for messages sent before. */
    LOST
  }

  /** Where a sync left the group; {@code session} is null when the device has no state in it. */
  public record Result(Outcome outcome, GroupSession session, String detail, boolean soon) {
    public boolean member() {
      return outcome == Outcome.MEMBER;
    }
  }

  /** Status reads and commit attempts per sync: a commit race or a join race costs a round each. */
  static final int MAX_ROUNDS = 6;
  static final int LOG_PAGE = 500;

  private final GroupApi api;
  private final Profile profile;
  private final DeviceIdentity identity;
  private final Consumer<String> notices;
  private final GroupJoin joining;

  public GroupSync(GroupApi api, Profile profile, DeviceIdentity identity, Consumer<String> notices) {
    this.api = api;
    this.profile = profile;
    this.identity = identity;
    this.notices = notices;
    this.joining = new GroupJoin(this, api, profile, identity);
  }

  public DeviceIdentity identity() {
    return identity;
  }

  String userId() {
    return identity.credential().userId();
  }

  String deviceId() {
    return identity.credential().deviceId();
  }

  /**
   * The saved state of a group; a damaged one takes the reset path (and is reported) and a
   * waiting state replaces it.
   */
  public Optional<GroupSession> load(String groupId) throws IOException {
    try {
      return GroupSession.load(profile, identity, groupId);
    } catch (CorruptFileException e) {
      long floor = 0;
      try {
        floor = api.reset(groupId, deviceId()).seq();
      } catch (ApiException refused) {
        // 403/409: the server does not count this device in the group; nothing to remove.
      }
      profile.deleteGroupState(groupId);
      GroupSession fresh = GroupSession.waiting(profile, identity, groupId, floor);
      fresh.save();
      notices.accept(e.getMessage() + "; deleted it and asked the server to remove this device "
          + "from group " + groupId + " and add it again (messages sent meanwhile stay unreadable)");
      return Optional.of(fresh);
    }
  }

  public Result sync(String groupId, Messages messages) throws IOException {
    GroupSession s = load(groupId).orElse(null);
    String detail = "gave up after " + MAX_ROUNDS + " rounds of racing other devices";
    for (int round = 0; round < MAX_ROUNDS; round++) {
      if (round > 0) {
        s = load(groupId).orElse(null); // a step of the last round may have replaced it on disk
      }
      GroupStatus status;
      try {
        status = api.status(groupId, deviceId());
      } catch (ApiException e) {
        if (e.status() == 404) {
          // The roster driver has not reached the group yet (a guild or channel just made).
          return new Result(Outcome.WAITING, s, "the server has no roster for group " + groupId
              + " yet", true);
        }
        if (e.status() != 403) {
          throw e;
        }
        if (s != null && s.joined()) {
          return lose(s, "this device was removed from group " + groupId, messages);
        }
        return new Result(s != null && s.lost() != null ? Outcome.LOST : Outcome.WAITING, s,
            "this device is not on the roster of group " + groupId, s == null);
      }
      if (!status.created()) {
        if (!status.onRoster()) {
          return new Result(Outcome.WAITING, s, "group " + groupId + " is not created yet", true);
        }
        s = joining.create(groupId, s);
        continue;
      }
      if (s != null && s.joined() && !status.hasMember(userId(), deviceId())) {
        // The server does not count this state: a creation that lost the race, or a removal
        // missed. Settle what it can still open, then start over.
        messages.openHeld(s);
        s = GroupSession.waiting(profile, identity, groupId, Math.max(s.welcomeFloor, s.seq));
        s.save();
      }
      if (s == null || !s.joined()) {
        GroupJoin.Joining j = joining.join(groupId, s, status);
        s = j.session();
        if (j.again()) {
          continue;
        }
        boolean lost = s != null && s.lost() != null && !status.onRoster();
        return new Result(lost ? Outcome.LOST : Outcome.WAITING, s, j.detail(), j.soon());
      }
      String stopped = follow(s, status, messages);
      if (stopped != null) {
        GroupSession now = GroupSession.load(profile, identity, groupId).orElse(null);
        return new Result(now != null && now.lost() != null ? Outcome.LOST : Outcome.WAITING, now,
            stopped, false);
      }
      if (s.member.pendingProposalCount() == 0 || s.member.removalProposed()) {
        return new Result(Outcome.MEMBER, s, null, false);
      }
      if (commitPending(s)) {
        return new Result(Outcome.MEMBER, s, null, false);
      }
      detail = "this device's commits kept losing to others'";
    }
    return new Result(s != null && s.joined() ? Outcome.MEMBER : Outcome.WAITING, s, detail, true);
  }

  /**
   * The reset path: the server proposes this device's Remove, a member commits it, the roster
   * driver adds the device again with a fresh key package. The old state is deleted.
   */
  GroupSession reset(String groupId, String why) throws IOException {
    long floor = api.reset(groupId, deviceId()).seq();
    profile.deleteGroupState(groupId);
    GroupSession fresh = GroupSession.waiting(profile, identity, groupId, floor);
    fresh.save();
    notices.accept(why + "; asked the server to remove this device from group " + groupId
        + " and add it again (messages sent meanwhile stay unreadable)");
    return fresh;
  }

  // ---- follow the log ----

  /**
   * Applies the log up to {@code status.seq()}; null when done, else why this device left the
   * group on the way (removed, or reset after a commit it could not process).
   */
  private String follow(GroupSession s, GroupStatus status, Messages messages)
      throws IOException {
    List<LogEntry> entries = readLog(s.groupId(), s.seq, status.seq());
    long epoch = s.epoch();
    boolean commits = !status.pendingProposals().isEmpty()
        || entries.stream().anyMatch(e -> "commit".equals(e.type()) && e.epoch() != null
            && e.epoch() >= epoch);
    if (commits) {
      messages.beforeCommits(s);
    }
    for (LogEntry e : entries) {
      switch (e.type()) {
        case "proposal" -> propose(s, e);
        case "revoked" -> {
          try {
            locked(() -> {
              s.member.revokeProposals(e.refs());
              return null;
            });
          } catch (MlsGroupException bad) {
            notices.accept("revocation " + e.seq() + " of group " + s.groupId() + " refused: "
                + bad.getMessage());
          }
        }
        case "commit" -> {
          if (e.epoch() != null && e.epoch() < s.epoch()) {
            break; // applied already: our own, taken when the server accepted it
          }
          messages.openHeld(s); // the last chance for this epoch's messages
          GroupMember.CommitResult r;
          try {
            r = locked(() -> s.member.processCommit(e.message()));
          } catch (MlsGroupException bad) {
            String why = "this device cannot process commit " + e.seq() + " of group "
                + s.groupId() + " (" + bad.getMessage() + ")";
            reset(s.groupId(), why);
            return why;
          }
          if (r == GroupMember.CommitResult.REMOVED) {
            s.seq = e.seq();
            s.lost = "removed from group " + s.groupId() + " at epoch " + s.epoch();
            s.welcomeFloor = Math.max(s.welcomeFloor, e.seq());
            s.save();
            messages.openHeld(s);
            return s.lost;
          }
        }
        default -> { } // created: nothing to do
      }
      s.seq = e.seq();
      s.save();
    }
    s.seq = Math.max(s.seq, status.seq());
    s.save();
    messages.openHeld(s);
    return null;
  }

  private void propose(GroupSession s, LogEntry e) {
    try {
      long epoch = MlsMessages.parsePublicMessage(e.message()).epoch();
      if (epoch != s.epoch()) {
        return; // of an epoch already left
      }
      locked(() -> {
        s.member.processProposal(e.message());
        return null;
      });
    } catch (MlsWireException | MlsGroupException bad) {
      // The commit will leave it out and the server will say so; others may still commit it.
      notices.accept("proposal " + e.seq() + " of group " + s.groupId() + " refused: "
          + bad.getMessage());
    }
  }

  /** The handshake entries after {@code after} up to {@code upTo}, in order. */
  List<LogEntry> readLog(String groupId, long after, long upTo) {
    List<LogEntry> out = new ArrayList<>();
    while (after < upTo) {
      List<LogEntry> page = api.log(groupId, deviceId(), after, LOG_PAGE);
      long last = after;
      for (LogEntry e : page) {
        if (e.seq() > upTo) {
          return out;
        }
        if (e.seq() > last) {
          out.add(e);
          last = e.seq();
        }
      }
      // Events that are not handshake messages leave gaps; everything up to upTo existed when asked.
      after = Math.max(last, Math.min(after + LOG_PAGE, upTo));
    }
    return out;
  }

  // ---- commit ----

  /**
   * Commits now, with whatever proposals are pending (none: an empty commit with a fresh path,
   * which rotates the group's keys); false if another commit won the epoch. Call after a sync
   * that left this device a member.
   */
  public boolean commitNow(GroupSession s) throws IOException {
    return commitPending(s);
  }

  /** Commits the pending proposals; false if the commit lost (then the caller syncs again). */
  private boolean commitPending(GroupSession s) throws IOException {
    GroupMember.CommitBundle b;
    try {
      b = locked(s.member::commit);
    } catch (MlsGroupException e) {
      notices.accept("this device cannot commit the pending proposals of " + s.groupId() + " ("
          + e.getMessage() + "); another member may");
      return true;
    }
    s.save(); // the commit is decided: a crash after the server takes it finds it in the log
    GroupStatus accepted;
    try {
      accepted = api.commit(s.groupId(), deviceId(), b.commit(), b.welcome());
    } catch (ApiException e) {
      s.member.discardPendingCommit();
      s.save();
      if (e.status() == 409 || e.status() == 400) {
        return false; // lost the epoch, or the proposals moved: process the log and try again
      }
      throw e;
    }
    try {
      locked(() -> s.member.processCommit(b.commit()));
    } catch (MlsGroupException e) {
      reset(s.groupId(), "this device's own commit to " + s.groupId() + " does not apply ("
          + e.getMessage() + ")");
      return false;
    }
    s.seq = Math.max(s.seq, accepted.seq());
    s.save();
    publishGroupInfo(s);
    return true;
  }

  /** The new epoch's GroupInfo, so a device whose Add is pending can join while nobody is online. */
  void publishGroupInfo(GroupSession s) {
    try {
      api.uploadGroupInfo(s.groupId(), deviceId(), locked(s.member::groupInfo));
    } catch (ApiException | MlsGroupException e) {
      notices.accept("could not publish the GroupInfo of " + s.groupId() + ": " + e.getMessage());
    }
  }

  /** An MLS step that must work for the sync to go on; its failure is reported as an I/O failure. */
  static <T> T mls(String what, GroupSession.MlsCall<T> call) throws IOException {
    try {
      return locked(call);
    } catch (MlsGroupException e) {
      throw new IOException("cannot " + what + ": " + e.getMessage(), e);
    }
  }

  private Result lose(GroupSession s, String why, Messages messages) throws IOException {
    s.lost = why;
    s.welcomeFloor = Math.max(s.welcomeFloor, s.seq);
    s.save();
    messages.openHeld(s);
    return new Result(Outcome.LOST, s, why, false);
  }
}
