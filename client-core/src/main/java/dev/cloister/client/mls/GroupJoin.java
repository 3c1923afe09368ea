package dev.cloister.client.mls;

import static dev.cloister.client.mls.GroupSession.locked;
import static dev.cloister.client.mls.GroupSync.mls;

import dev.cloister.client.http.ApiException;
import dev.cloister.client.mls.GroupApi.GroupStatus;
import dev.cloister.client.mls.GroupApi.LogEntry;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.group.MlsGroupException;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * How a device gets into a group, for {@link GroupSync}: create it (nobody has), join from its
 * Welcome (with the stored key package the Welcome names), or by external commit from the
 * GroupInfo the last committer uploaded (RFC 9420 section 12.4.3.2) when its Add is pending and
 * no member is there to commit it; or wait, saying for what. A state the server does not count,
 * or a Welcome that does not open, takes the reset path.
 */
final class GroupJoin {

  private final GroupSync sync;
  private final GroupApi api;
  private final Profile profile;
  private final DeviceIdentity identity;
  /** Set once the server refused an external commit; then wait for a Welcome instead. */
  private boolean externalRefused;

  GroupJoin(GroupSync sync, GroupApi api, Profile profile, DeviceIdentity identity) {
    this.sync = sync;
    this.api = api;
    this.profile = profile;
    this.identity = identity;
  }

  /**
   * Creates the group at epoch 0, this device alone, the server its only external sender. A
   * creation saved but not acknowledged (the process died) is sent again; a 409 (another device
   * was first) leaves a waiting state.
   */
  GroupSession create(String groupId, GroupSession s) throws IOException {
    if (s == null || !s.joined() || s.epoch() != 0) {
      GroupApi.DeliveryServiceKey ds = api.deliveryService();
      GroupMember m = mls("create group " + groupId, () -> GroupMember.create(identity,
          groupId.getBytes(StandardCharsets.UTF_8), ds.signatureKey(), ds.name()));
      s = GroupSession.waiting(profile, identity, groupId, s == null ? 0 : s.welcomeFloor);
      s.member = m;
      s.joinedEpoch = 0;
      s.save(); // a creation the server took must never find its state missing
    }
    GroupSession created = s;
    try {
      GroupStatus st = api.create(groupId, sync.deviceId(),
          mls("sign the GroupInfo of " + groupId, created.member::groupInfo));
      created.seq = st.seq();
      created.save();
      return created;
    } catch (ApiException e) {
      if (e.status() != 409) {
        throw e;
      }
      // Someone created it first: this state is for nothing.
      GroupSession fresh = GroupSession.waiting(profile, identity, groupId, created.welcomeFloor);
      fresh.save();
      return fresh;
    }
  }

  /** Where a join attempt left the device: a session (or none), try again now, or wait. */
  record Joining(GroupSession session, boolean again, String detail, boolean soon) {}

  /** Joins the created group if this device can now; else says what it waits for. */
  Joining join(String groupId, GroupSession s, GroupStatus status) throws IOException {
    if (s != null && s.member != null && s.member.externalJoinPending()) {
      return settleExternalJoin(s, status);
    }
    long floor = s == null ? 0 : s.welcomeFloor;
    if (status.welcomeSeq() > floor) {
      return joinFromWelcome(groupId, s, status);
    }
    if (status.hasMember(sync.userId(), sync.deviceId())) {
      if (removalPending(status)) {
        return new Joining(s, false, "waiting for a member to commit this device's removal from "
            + groupId + ", after which the server adds it again", false);
      }
      GroupSession fresh = sync.reset(groupId, "this device holds no usable state of group " + groupId);
      return new Joining(fresh, false, "this device asked to be removed from " + groupId
          + " and added again", false);
    }
    if (!status.onRoster()) {
      return new Joining(s, false, "this device is not on the roster of group " + groupId, false);
    }
    if (status.groupInfo() != null && !externalRefused) {
      return joinExternally(groupId, s, status);
    }
    return new Joining(s, false, "waiting for a member of group " + groupId
        + " to commit this device's Add", false);
  }

  private Joining joinFromWelcome(String groupId, GroupSession s, GroupStatus status)
      throws IOException {
    GroupApi.Welcome w;
    try {
      w = api.welcome(groupId, sync.deviceId());
    } catch (ApiException e) {
      if (e.status() == 404) {
        return new Joining(s, false, "the Welcome of " + groupId + " is not there yet", true);
      }
      throw e;
    }
    Profile.StoredKeyPackages stored = profile.keyPackages();
    for (KeyPackageBundle b : stored.usable()) {
      GroupMember m;
      try {
        m = locked(() -> GroupMember.join(identity, List.of(b), w.welcome()));
      } catch (MlsGroupException e) {
        if (e.getMessage() != null && e.getMessage().contains("none of this device's key packages")) {
          continue;
        }
        GroupSession fresh = sync.reset(groupId, "the Welcome to group " + groupId
            + " does not open: " + e.getMessage());
        return new Joining(fresh, false, "this device asked to be added to " + groupId + " again",
            false);
      }
      GroupSession joined = GroupSession.waiting(profile, identity, groupId,
          s == null ? 0 : s.welcomeFloor);
      joined.member = m;
      joined.seq = w.seq();
      joined.joinedEpoch = m.epoch();
      joined.save();
      if (!b.lastResort()) {
        profile.deleteKeyPackage(b.ref()); // its private keys now live in the group state only
      }
      return new Joining(joined, true, null, false);
    }
    GroupSession fresh = sync.reset(groupId, "the Welcome to group " + groupId + " is for a key package"
        + " this device no longer has" + (stored.corrupt().isEmpty() ? ""
            : " (" + stored.corrupt().size() + " stored key packages are damaged)"));
    return new Joining(fresh, false, "this device asked to be added to " + groupId + " again",
        false);
  }

  private Joining joinExternally(String groupId, GroupSession s, GroupStatus status)
      throws IOException {
    GroupMember.ExternalJoin ej;
    try {
      ej = locked(() -> GroupMember.joinExternal(identity, status.groupInfo()));
    } catch (MlsGroupException e) {
      return new Joining(s, false, "the GroupInfo of " + groupId + " does not admit an external "
          + "join (" + e.getMessage() + "); waiting for a member to commit this device's Add", false);
    }
    GroupSession pending = GroupSession.waiting(profile, identity, groupId,
        s == null ? 0 : s.welcomeFloor);
    pending.member = ej.member();
    pending.seq = status.seq();
    pending.save(); // if the server takes the commit and this process dies, the log settles it
    GroupStatus accepted;
    try {
      accepted = api.commit(groupId, sync.deviceId(), ej.commit(), null);
    } catch (ApiException e) {
      GroupSession back = GroupSession.waiting(profile, identity, groupId, pending.welcomeFloor);
      back.save();
      String why = e.getMessage() == null ? "" : e.getMessage();
      if (e.status() == 409) {
        return new Joining(back, true, null, false); // another commit took the epoch
      }
      if (e.status() == 403) {
        return new Joining(back, false, "waiting for the server to propose this device's Add to "
            + groupId + " (" + why + ")", true);
      }
      if (e.status() == 400) {
        externalRefused = true; // not again in this process: wait for a Welcome instead
        return new Joining(back, false, (why.contains("not accepted")
            ? "the server does not accept external commits yet" : "the server refused this "
            + "device's external commit (" + why + ")") + "; waiting for a member of " + groupId
            + " to commit this device's Add", false);
      }
      throw e;
    }
    try {
      locked(() -> pending.member.processCommit(ej.commit()));
    } catch (MlsGroupException e) {
      GroupSession fresh = sync.reset(groupId, "this device's external join of " + groupId
          + " was accepted but does not apply (" + e.getMessage() + ")");
      return new Joining(fresh, false, "this device asked to be added to " + groupId + " again",
          false);
    }
    pending.seq = Math.max(pending.seq, accepted.seq());
    pending.joinedEpoch = pending.epoch();
    pending.save();
    sync.publishGroupInfo(pending);
    return new Joining(pending, true, null, false);
  }

  /** An external join saved before the server answered: the log says whether it was taken. */
  private Joining settleExternalJoin(GroupSession s, GroupStatus status) throws IOException {
    for (LogEntry e : sync.readLog(s.groupId(), s.seq, status.seq())) {
      if (!"commit".equals(e.type())) {
        continue;
      }
      try {
        locked(() -> s.member.processCommit(e.message()));
        s.seq = e.seq();
        s.joinedEpoch = s.epoch();
        s.save();
        return new Joining(s, true, null, false);
      } catch (MlsGroupException notOurs) {
        break;
      }
    }
    GroupSession back = GroupSession.waiting(profile, identity, s.groupId(), s.welcomeFloor);
    back.save();
    return new Joining(back, true, null, false);
  }

  /** Whether the server has proposed removing this device's leaf. */
  private boolean removalPending(GroupStatus status) {
    int leaf = status.members().stream()
        .filter(m -> m.userId().equals(sync.userId()) && m.deviceId().equals(sync.deviceId()))
        .mapToInt(GroupApi.Member::leaf).findFirst().orElse(-1);
    for (byte[] p : status.pendingProposals()) {
      try {
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(p);
        if (pm.contentType() == MlsMessages.CONTENT_PROPOSAL
            && pm.proposal().type() == MlsMessages.PROPOSAL_REMOVE && pm.proposal().removed() == leaf) {
          return true;
        }
      } catch (MlsWireException ignored) {
        // not ours to judge here; the member that commits will
      }
    }
    return false;
  }
}
