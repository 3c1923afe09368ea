package dev.cloister.mls.ds;

import dev.cloister.mls.ds.DeliveryService.CommitAccepted;
import dev.cloister.mls.ds.GroupView.Member;
import dev.cloister.mls.ds.GroupView.PendingProposal;
import dev.cloister.mls.ds.GroupView.ProposalKind;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.LoneCommit;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.LeafNodeSource;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.codec.UpdatePath;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/**
 * The delivery service's check of a member's commit (group and epoch already checked): the sender
 * is a member, it commits exactly the pending proposals by reference and not its own removal,
 * carries an update path whose leaf keeps its credential and follows the leaf rules, and its
 * signature verifies over the GroupContext the server tracks. The next view is computed by
 * applying the proposals to the public tree as bcmls members do (removes, adds, truncate, path).
 * A committer left alone by its commit still sends a path (RFC 9420 section 12.4), one with no
 * nodes and an empty parent hash ({@link LoneCommit}); its leaf replaces the committer's.
 */
final class MemberCommits {
    private static final HexFormat HEX = HexFormat.of();

    private MemberCommits() {
    }

    static Decision<CommitAccepted> validate(GroupView view, MlsMessages.PublicMessage pm) throws Exception {
        MlsCipherSuite suite = MlsSuite.SUITE;
        TreeKEMPublicKey tree = (TreeKEMPublicKey) MLSInputStream.decode(view.ratchetTree(), TreeKEMPublicKey.class);
        tree.setSuite(suite);
        long leafCount = tree.getSize().leafCount();
        if (pm.senderIndex() >= leafCount) {
            return Decision.reject("sender leaf " + pm.senderIndex() + " is outside the tree of " + leafCount + " leaves");
        }
        Member sender = view.memberAt(pm.senderIndex());
        if (sender == null) {
            return Decision.reject("sender leaf " + pm.senderIndex() + " is not a member");
        }

        // Exactly the pending proposals, each once, by reference.
        Set<String> pendingRefs = new HashSet<>();
        view.pending().forEach(p -> pendingRefs.add(HEX.formatHex(p.ref())));
        Set<String> seen = new HashSet<>();
        for (MlsMessages.ProposalOrRef item : pm.commit().proposals()) {
            if (!item.isReference()) {
                return Decision.reject("inline proposals are not accepted; commit the server's proposals by reference");
            }
            String ref = HEX.formatHex(item.reference());
            if (!pendingRefs.contains(ref)) {
                return Decision.reject("commit references a proposal the server did not issue");
            }
            if (!seen.add(ref)) {
                return Decision.reject("commit references a proposal twice");
            }
        }
        if (seen.size() != pendingRefs.size()) {
            return Decision.reject("commit leaves out " + (pendingRefs.size() - seen.size()) + " pending proposal(s)");
        }
        boolean removes = false;
        for (PendingProposal p : view.pending()) {
            if (p.kind() == ProposalKind.REMOVE) {
                removes = true;
                if (p.leaf() == sender.leaf()) {
                    return Decision.reject("a member cannot commit its own removal");
                }
            }
        }
        MlsMessages.Commit commit = pm.commit();
        if ((removes || view.pending().isEmpty()) && !commit.hasPath()) {
            return Decision.reject("commit needs an update path");
        }
        if (commit.hasPath()) {
            MlsMessages.LeafNode leaf = commit.pathLeaf();
            if (leaf.source() != MlsMessages.LEAF_SOURCE_COMMIT) {
                return Decision.reject("update path leaf must have source commit");
            }
            if (!Arrays.equals(leaf.identity(), sender.device().encode())
                    || !Arrays.equals(leaf.signatureKey(), sender.signatureKey())) {
                return Decision.reject("committer may not change its own credential or signature key");
            }
            String why = pathLeafRules(view, leaf);
            if (why != null) {
                return Decision.reject(why);
            }
        }

        // Signature over FramedContentTBS with the GroupContext the server tracks.
        tree.setHashAll();
        byte[] context = DeliveryService.groupContext(view, tree.getRootHash());
        byte[] tbs = DeliveryService.concat(new byte[] {0, 1, 0, 1}, pm.framedContent(), context);
        if (!suite.verifyWithLabel(sender.signatureKey(), "FramedContentTBS", tbs, pm.signature())) {
            return Decision.reject("commit signature does not verify");
        }

        // Apply the proposals to the public tree as members will: removes, then adds.
        List<DeviceCredential> joiners = new ArrayList<>();
        List<DeviceCredential> removed = new ArrayList<>();
        for (PendingProposal p : view.pending()) {
            if (p.kind() == ProposalKind.REMOVE) {
                tree.blankPath(new LeafIndex(p.leaf()));
                removed.add(p.device());
            }
        }
        for (PendingProposal p : view.pending()) {
            if (p.kind() == ProposalKind.ADD) {
                KeyPackage kp = (KeyPackage) MLSInputStream.decode(p.keyPackage(), KeyPackage.class);
                tree.addLeaf(kp.getLeafNode());
                joiners.add(p.device());
            }
        }
        tree.truncate();
        tree.setHashAll();
        if (commit.hasPath()) {
            UpdatePath path = (UpdatePath) MLSInputStream.decode(commit.updatePath(), UpdatePath.class);
            LeafNode leaf = path.getLeafNode();
            if (leaf.getSource() != LeafNodeSource.COMMIT
                    || !leaf.verify(suite, leaf.toBeSigned(view.groupId(), sender.leaf()))) {
                return Decision.reject("update path leaf signature does not verify");
            }
            String why = mergePath(tree, new LeafIndex(sender.leaf()), path, commit.pathLeaf().parentHash());
            if (why != null) {
                return Decision.reject(why);
            }
        }
        List<Member> members = DeliveryService.members(tree);
        Set<DeviceCredential> devices = new HashSet<>();
        for (Member m : members) {
            if (!devices.add(m.device())) {
                return Decision.reject("device " + m.device() + " would hold two leaves");
            }
        }

        byte[] confirmed = suite.hash(DeliveryService.concat(view.interimTranscriptHash(), new byte[] {0, 1}, pm.framedContent(),
                MlsReader.opaqueOf(pm.signature())));
        byte[] interim = suite.hash(DeliveryService.concat(confirmed, MlsReader.opaqueOf(pm.confirmationTag())));
        GroupView next = new GroupView(view.groupId(), view.epoch() + 1, MLSOutputStream.encode(tree), confirmed,
                interim, view.extensions(), members, List.of());
        return Decision.accept(new CommitAccepted(next, joiners, removed));
    }

    /**
     * Checks the parent hashes of {@code path} from {@code from} and merges it into {@code tree} as
     * bcmls members do ({@code parentHash}: that of the path's leaf, from our parser); null when
     * merged, else why not. A committer alone in the tree has an empty filtered direct path: its
     * path must have no nodes and its leaf an empty parent hash (RFC 9420 sections 7.5 and 7.9.1),
     * and that leaf replaces its own.
     */
    static String mergePath(TreeKEMPublicKey tree, LeafIndex from, UpdatePath path, byte[] parentHash) throws Exception {
        if (LoneCommit.alone(tree, from)) {
            // bcmls 1.84 can neither check nor merge a path from an empty filtered direct path (committer left alone).
            if (!path.getNodes().isEmpty() || parentHash == null || parentHash.length != 0) {
                return "update path of a committer left alone must have no nodes and an empty parent hash";
            }
            tree.updateLeaf(from, path.getLeafNode());
            tree.setHashAll();
            return null;
        }
        if (!tree.verifyParentHash(from, path)) {
            return "update path has an invalid parent hash";
        }
        tree.merge(from, path);
        return null;
    }

    /**
     * The leaf rules for an UpdatePath's leaf that honest bcmls members apply (RFC 9420 section
     * 7.3): capabilities and extensions as for any leaf, and an encryption key used by no leaf of
     * the current tree (bcmls compares with every leaf, the committer's old one included) nor by a
     * joiner. Null when met; otherwise the server would accept a commit its members refuse.
     */
    private static String pathLeafRules(GroupView view, MlsMessages.LeafNode leaf) throws MlsWireException {
        String rules = KeyPackageCheck.leafRules(leaf);
        if (rules != null) {
            return "update path leaf: " + rules;
        }
        for (MlsMessages.LeafNode m : MlsMessages.parseRatchetTree(view.ratchetTree())) {
            if (m != null && Arrays.equals(m.encryptionKey(), leaf.encryptionKey())) {
                return "update path leaf reuses an encryption key already in the tree";
            }
        }
        for (PendingProposal p : view.pending()) {
            if (p.kind() == ProposalKind.ADD
                    && Arrays.equals(MlsMessages.parseKeyPackage(p.keyPackage()).leafNode().encryptionKey(), leaf.encryptionKey())) {
                return "update path leaf reuses the encryption key of joiner " + p.device();
            }
        }
        return null;
    }
}
