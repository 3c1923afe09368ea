package dev.cloister.client.voice;

import dev.cloister.mls.ds.Decision;
import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.mls.ds.GroupView;
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
 * A voice channel's MLS group run through mls-groups' real delivery service in this process, as
 * the VoiceChannel entity will run it: server-signed Add/Remove proposals, a member commits, the
 * server validates, every member (a removed one too) processes the commit, the joiner opens its
 * Welcome. Real MLS throughout; only the transport (the gateway) is left out.
 */
final class VoiceGroup {
  private final DeliveryServiceKey serverKey = DeliveryServiceKey.generate("cloister-ds");
  private final DeliveryService ds = new DeliveryService(serverKey);
  private final Map<String, GroupMember> members = new LinkedHashMap<>();
  private GroupView view;

  VoiceGroup(String name, String creator) throws MlsGroupException {
    DeviceIdentity id = DeviceIdentity.generate(creator, "d1");
    byte[] groupId = ("voice-" + name).getBytes(StandardCharsets.UTF_8);
    GroupMember m = GroupMember.create(id, groupId, serverKey.publicKey(), serverKey.name());
    view = accepted(ds.createGroup(groupId, m.groupInfo(), id.credential()));
    members.put(creator, m);
  }

  /** Adds {@code user}'s device: the server proposes, the first member commits, the joiner takes its Welcome. */
  GroupMember add(String user) throws MlsGroupException {
    DeviceIdentity device = DeviceIdentity.generate(user, "d1");
    KeyPackageBundle kp = device.newKeyPackage(false);
    DeliveryService.Proposed p = accepted(ds.proposeAdd(view, kp.message(), device.credential()));
    view = p.view();
    for (GroupMember m : members.values()) {
      m.processProposal(p.message());
    }
    GroupMember.CommitBundle bundle = members.values().iterator().next().commit();
    accept(bundle.commit());
    GroupMember joined = GroupMember.join(device, List.of(kp), bundle.welcome());
    members.put(user, joined);
    return joined;
  }

  /** Removes {@code user}'s device; the removed member processes the commit too and ends its membership. */
  GroupMember remove(String user) throws MlsGroupException {
    GroupMember gone = members.get(user);
    DeliveryService.Proposed p = accepted(ds.proposeRemove(view, gone.identity().credential()));
    view = p.view();
    for (GroupMember m : members.values()) {
      m.processProposal(p.message());
    }
    GroupMember committer = members.entrySet().stream().filter(e -> !e.getKey().equals(user))
        .findFirst().orElseThrow().getValue();
    accept(committer.commit().commit());
    members.remove(user);
    return gone;
  }

  private void accept(byte[] commit) throws MlsGroupException {
    view = accepted(ds.validateCommit(view, commit)).view();
    for (GroupMember m : new ArrayList<>(members.values())) {
      m.processCommit(commit);
    }
  }

  GroupMember member(String user) {
    return members.get(user);
  }

  VoiceEpoch epochOf(String user) throws MlsGroupException {
    return VoiceEpoch.of(members.get(user));
  }

  private static <T> T accepted(Decision<T> d) {
    if (d instanceof Decision.Accepted<T> a) {
      return a.value();
    }
    throw new AssertionError("delivery service refused: " + ((Decision.Rejected<T>) d).reason());
  }
}
