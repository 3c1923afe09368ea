package dev.cloister.mls.ds;

import dev.cloister.mls.group.DeviceCredential;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What the delivery service knows of a group: only public data. Group id, epoch, the public
 * ratchet tree and transcript hashes (needed to check signatures over the GroupContext), the
 * members by leaf, and the external proposals it issued and awaits a commit for. Immutable; an
 * event-sourced entity persists it (or the commits that produced it) as plain bytes and values.
 */
public final class GroupView {
    public enum ProposalKind { ADD, REMOVE }

    public record Member(int leaf, DeviceCredential device, byte[] signatureKey) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Member m && leaf == m.leaf && device.equals(m.device)
                    && Arrays.equals(signatureKey, m.signatureKey);
        }

        @Override
        public int hashCode() {
            return Objects.hash(leaf, device, Arrays.hashCode(signatureKey));
        }
    }

    /**
     * An external proposal the server signed: its ProposalRef, what it does, the message sent to
     * members, and for an Add the KeyPackage (TLS bytes) it adds.
     */
    public record PendingProposal(byte[] ref, ProposalKind kind, DeviceCredential device, int leaf,
                                  byte[] message, byte[] keyPackage) {
        @Override
        public boolean equals(Object o) {
            return o instanceof PendingProposal p && Arrays.equals(ref, p.ref) && kind == p.kind
                    && device.equals(p.device) && leaf == p.leaf && Arrays.equals(message, p.message)
                    && Arrays.equals(keyPackage, p.keyPackage);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(ref);
        }
    }

    private final byte[] groupId;
    private final long epoch;
    private final byte[] ratchetTree;
    private final byte[] confirmedTranscriptHash;
    private final byte[] interimTranscriptHash;
    private final byte[] extensions;
    private final List<Member> members;
    private final List<PendingProposal> pending;

    public GroupView(byte[] groupId, long epoch, byte[] ratchetTree, byte[] confirmedTranscriptHash,
                     byte[] interimTranscriptHash, byte[] extensions, List<Member> members,
                     List<PendingProposal> pending) {
        this.groupId = groupId.clone();
        this.epoch = epoch;
        this.ratchetTree = ratchetTree.clone();
        this.confirmedTranscriptHash = confirmedTranscriptHash.clone();
        this.interimTranscriptHash = interimTranscriptHash.clone();
        this.extensions = extensions.clone();
        this.members = List.copyOf(members);
        this.pending = List.copyOf(pending);
    }

    public byte[] groupId() {
        return groupId.clone();
    }

    public long epoch() {
        return epoch;
    }

    /** The public ratchet tree, TLS-encoded as in the ratchet_tree extension. */
    public byte[] ratchetTree() {
        return ratchetTree.clone();
    }

    public byte[] confirmedTranscriptHash() {
        return confirmedTranscriptHash.clone();
    }

    public byte[] interimTranscriptHash() {
        return interimTranscriptHash.clone();
    }

    /** The GroupContext extensions (contents of the extensions vector). */
    public byte[] extensions() {
        return extensions.clone();
    }

    public List<Member> members() {
        return members;
    }

    public List<PendingProposal> pending() {
        return pending;
    }

    public Member member(DeviceCredential device) {
        return members.stream().filter(m -> m.device().equals(device)).findFirst().orElse(null);
    }

    public Member memberAt(long leaf) {
        return members.stream().filter(m -> m.leaf() == leaf).findFirst().orElse(null);
    }

    GroupView withPending(List<PendingProposal> newPending) {
        return new GroupView(groupId, epoch, ratchetTree, confirmedTranscriptHash, interimTranscriptHash,
                extensions, members, newPending);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GroupView v && Arrays.equals(groupId, v.groupId) && epoch == v.epoch
                && Arrays.equals(ratchetTree, v.ratchetTree)
                && Arrays.equals(confirmedTranscriptHash, v.confirmedTranscriptHash)
                && Arrays.equals(interimTranscriptHash, v.interimTranscriptHash)
                && Arrays.equals(extensions, v.extensions) && members.equals(v.members) && pending.equals(v.pending);
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(groupId), epoch, Arrays.hashCode(confirmedTranscriptHash));
    }

    @Override
    public String toString() {
        return "GroupView[epoch=" + epoch + ", members=" + members.size() + ", pending=" + pending.size() + "]";
    }
}
