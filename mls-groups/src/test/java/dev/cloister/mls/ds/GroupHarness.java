package dev.cloister.mls.ds;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.group.MlsGroupException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Drives one group through the real delivery-service flow, as the server entity and the clients
 * would: server-signed proposals broadcast to members, one member commits, the server validates
 * and, once accepted, broadcasts the commit and routes the Welcome to the joiner.
 */
final class GroupHarness {
    final DeliveryServiceKey serverKey = DeliveryServiceKey.generate("cloister-ds");
    final DeliveryService ds = new DeliveryService(serverKey);
    final byte[] groupId;
    final Map<DeviceCredential, GroupMember> members = new LinkedHashMap<>();
    GroupView view;

    GroupHarness(String groupName, String creatorUser) throws MlsGroupException {
        groupId = groupName.getBytes(StandardCharsets.UTF_8);
        DeviceIdentity creator = DeviceIdentity.generate(creatorUser, "d1");
        GroupMember m = GroupMember.create(creator, groupId, serverKey.publicKey(), serverKey.name());
        view = ds.createGroup(groupId, m.groupInfo(), creator.credential()).value();
        members.put(creator.credential(), m);
    }

    /** Proposes, commits (by {@code committer}, or the first member) and applies one Add. */
    GroupMember join(DeviceIdentity device, GroupMember committer) throws MlsGroupException {
        KeyPackageBundle kp = device.newKeyPackage(false);
        DeliveryService.Proposed p = ds.proposeAdd(view, kp.message(), device.credential()).value();
        view = p.view();
        broadcastProposal(p.message());
        GroupMember.CommitBundle bundle = (committer != null ? committer : first()).commit();
        DeliveryService.CommitAccepted accepted = accept(bundle.commit());
        if (!accepted.joiners().equals(List.of(device.credential()))) {
            throw new AssertionError("server routes the Welcome to " + accepted.joiners());
        }
        GroupMember joined = GroupMember.join(device, List.of(kp), bundle.welcome());
        members.put(device.credential(), joined);
        return joined;
    }

    /** Proposes and commits the Remove of {@code device}; returns the removed member's state. */
    GroupMember remove(DeviceCredential device, GroupMember committer) throws MlsGroupException {
        DeliveryService.Proposed p = ds.proposeRemove(view, device).value();
        view = p.view();
        broadcastProposal(p.message());
        GroupMember c = committer;
        if (c == null) {
            c = members.entrySet().stream().filter(e -> !e.getKey().equals(device)).findFirst().orElseThrow().getValue();
        }
        GroupMember.CommitBundle bundle = c.commit();
        accept(bundle.commit());
        return members.remove(device);
    }

    void broadcastProposal(byte[] message) throws MlsGroupException {
        for (GroupMember m : members.values()) {
            m.processProposal(message);
        }
    }

    /** Validates at the server; on success every member (and a removed one) processes the commit. */
    DeliveryService.CommitAccepted accept(byte[] commit) throws MlsGroupException {
        Decision<DeliveryService.CommitAccepted> d = ds.validateCommit(view, commit);
        if (!d.accepted()) {
            throw new AssertionError("server rejected commit: " + d.reason());
        }
        view = d.value().view();
        List<GroupMember> all = new ArrayList<>(members.values());
        for (GroupMember m : all) {
            m.processCommit(commit);
        }
        return d.value();
    }

    GroupMember first() {
        return members.values().iterator().next();
    }
}
