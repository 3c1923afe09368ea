package dev.cloister.guild.group;

import dev.cloister.guild.CborSerializable;
import dev.cloister.mls.ds.GroupView;
import dev.cloister.mls.group.DeviceCredential;
import java.util.List;

/**
 * A {@link GroupView} as plain records, so that it travels in snapshots through jackson-cbor
 * (mls-groups has no Pekko or Jackson of its own). Byte for byte the same view.
 */
public record GroupViewData(
    byte[] groupId, long epoch, byte[] ratchetTree, byte[] confirmedTranscriptHash,
    byte[] interimTranscriptHash, byte[] extensions, List<MemberData> members,
    List<PendingData> pending) implements CborSerializable {

  public record MemberData(int leaf, String userId, String deviceId, byte[] signatureKey)
      implements CborSerializable {}

  public record PendingData(byte[] ref, String kind, String userId, String deviceId, int leaf,
      byte[] message, byte[] keyPackage) implements CborSerializable {}

  public static GroupViewData of(GroupView v) {
    return new GroupViewData(v.groupId(), v.epoch(), v.ratchetTree(), v.confirmedTranscriptHash(),
        v.interimTranscriptHash(), v.extensions(),
        v.members().stream().map(m -> new MemberData(m.leaf(), m.device().userId(),
            m.device().deviceId(), m.signatureKey())).toList(),
        v.pending().stream().map(p -> new PendingData(p.ref(), p.kind().name(),
            p.device().userId(), p.device().deviceId(), p.leaf(), p.message(), p.keyPackage()))
            .toList());
  }

  public GroupView toView() {
    return new GroupView(groupId, epoch, ratchetTree, confirmedTranscriptHash,
        interimTranscriptHash, extensions,
        members.stream().map(m -> new GroupView.Member(m.leaf(),
            new DeviceCredential(m.userId(), m.deviceId()), m.signatureKey())).toList(),
        pending.stream().map(p -> new GroupView.PendingProposal(p.ref(),
            GroupView.ProposalKind.valueOf(p.kind()), new DeviceCredential(p.userId(), p.deviceId()),
            p.leaf(), p.message(), p.keyPackage())).toList());
  }
}
