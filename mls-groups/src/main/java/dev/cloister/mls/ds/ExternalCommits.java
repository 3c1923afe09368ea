package dev.cloister.mls.ds;

import dev.cloister.mls.ds.DeliveryService.CommitAccepted;
import dev.cloister.mls.ds.GroupView.Member;
import dev.cloister.mls.ds.GroupView.PendingProposal;
import dev.cloister.mls.ds.GroupView.ProposalKind;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.codec.UpdatePath;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/**
 * The delivery service's check of an external commit (RFC 9420 section 12.4.3.2): a device joins
 * from the GroupInfo of the current epoch without waiting for a member to commit its Add. It
 * applies what honest bcmls members apply and what bcmls 1.84 leaves out (whom a Remove removes),
 * and mirrors bcmls's tree rules exactly: the Remove is applied, the tree truncated, the joiner's
 * leaf added at the leftmost blank leaf, and the update path merged there (a nodeless one when the
 * joiner is alone: {@link MemberCommits#mergePath}). The transcript hashes advance as for any
 * commit; the init secret comes from the ExternalInit, which the server cannot see into (nor can it
 * check the confirmation tag or the path's HPKE ciphertexts).
 */
final class ExternalCommits {
    private ExternalCommits() {
    }

    static Decision<CommitAccepted> validate(GroupView view, MlsMessages.PublicMessage pm,
                                             Predicate<DeviceCredential> mayJoin,
                                             Function<DeviceCredential, byte[]> registeredKey) throws Exception {
        MlsCipherSuite suite = MlsSuite.SUITE;
        if (pm.contentType() != MlsMessages.CONTENT_COMMIT) {
            return Decision.reject("not a commit");
        }
        if (!Arrays.equals(pm.groupId(), view.groupId())) {
            return Decision.reject("commit is for another group");
        }
        if (pm.epoch() != view.epoch()) {
            return Decision.reject("wrong epoch: commit is for epoch " + pm.epoch() + ", group is at " + view.epoch());
        }
        if (pm.senderType() != MlsMessages.SENDER_NEW_MEMBER_COMMIT) {
            return Decision.reject("not an external commit");
        }
        MlsMessages.Commit commit = pm.commit();
        if (!commit.hasPath()) {
            return Decision.reject("external commit without an update path");
        }
        MlsMessages.LeafNode leaf = commit.pathLeaf();
        if (leaf.source() != MlsMessages.LEAF_SOURCE_COMMIT) {
            return Decision.reject("update path leaf must have source commit");
        }
        DeviceCredential joiner = DeviceCredential.decode(leaf.identity());

        // Exactly one ExternalInit; at most one Remove, and only of the joiner's own earlier leaf.
        int inits = 0;
        byte[] kemOutput = null;
        Member removed = null;
        for (MlsMessages.ProposalOrRef item : commit.proposals()) {
            if (item.isReference()) {
                return Decision.reject("external commit must not reference proposals");
            }
            MlsMessages.Proposal p = item.proposal();
            if (p.type() == MlsMessages.PROPOSAL_EXTERNAL_INIT) {
                inits++;
                kemOutput = p.kemOutput();
            } else if (p.type() == MlsMessages.PROPOSAL_REMOVE) {
                if (removed != null) {
                    return Decision.reject("external commit may remove at most one leaf");
                }
                Member target = view.memberAt(p.removed());
                if (target == null) {
                    return Decision.reject("external commit removes leaf " + p.removed() + ", which is not a member");
                }
                if (!target.device().equals(joiner)) {
                    return Decision.reject("external commit removes " + target.device() + ", not the joiner's own earlier leaf");
                }
                removed = target;
            } else {
                return Decision.reject("external commit carries a proposal of type " + p.type());
            }
        }
        if (inits != 1) {
            return Decision.reject("external commit needs exactly one ExternalInit");
        }
        // Members decapsulate it; a wrong length or low-order point fails them all (bcmls checks only the length).
        if (!KeyPackageCheck.usableHpkeKey(kemOutput)) {
            return Decision.reject("ExternalInit kem_output is not a usable X25519 public key");
        }
        if (!mayJoin.test(joiner)) {
            return Decision.reject("device " + joiner + " may not join this group");
        }
        Member existing = view.member(joiner);
        if (existing != null && removed == null) {
            return Decision.reject("device " + joiner + " already has leaf " + existing.leaf() + "; a rejoin must remove it");
        }
        byte[] expectedKey = expectedSignatureKey(view, joiner, existing, registeredKey);
        if (expectedKey == null) {
            return Decision.reject("no known signature key for device " + joiner + " (no pending Add, no leaf)");
        }
        if (!Arrays.equals(leaf.signatureKey(), expectedKey)) {
            return Decision.reject("external commit is signed with a key other than " + joiner + "'s");
        }

        // Signature over FramedContentTBS (sender new_member_commit) with the GroupContext the server tracks.
        TreeKEMPublicKey tree = (TreeKEMPublicKey) MLSInputStream.decode(view.ratchetTree(), TreeKEMPublicKey.class);
        tree.setSuite(suite);
        tree.setHashAll();
        byte[] tbs = DeliveryService.concat(new byte[] {0, 1, 0, 1}, pm.framedContent(),
                DeliveryService.groupContext(view, tree.getRootHash()));
        if (!KeyPackageCheck.verifies(leaf.signatureKey(), "FramedContentTBS", tbs, pm.signature())) {
            return Decision.reject("commit signature does not verify");
        }

        // Leaf rules as bcmls members apply them against the current tree.
        String rules = KeyPackageCheck.leafRules(leaf);
        if (rules != null) {
            return Decision.reject("update path leaf: " + rules);
        }
        List<MlsMessages.LeafNode> leaves = MlsMessages.parseRatchetTree(view.ratchetTree());
        for (int i = 0; i < leaves.size(); i++) {
            MlsMessages.LeafNode m = leaves.get(i);
            if (m == null) {
                continue;
            }
            if (Arrays.equals(m.encryptionKey(), leaf.encryptionKey())) {
                return Decision.reject("update path leaf reuses an encryption key already in the tree");
            }
            if (Arrays.equals(m.signatureKey(), leaf.signatureKey()) && (removed == null || removed.leaf() != i)) {
                return Decision.reject("signature key already used by the member at leaf " + i);
            }
        }

        if (removed != null) {
            tree.blankPath(new LeafIndex(removed.leaf()));
        }
        tree.truncate();
        tree.setHashAll();
        UpdatePath path = (UpdatePath) MLSInputStream.decode(commit.updatePath(), UpdatePath.class);
        LeafNode pathLeaf = path.getLeafNode();
        LeafIndex at = tree.addLeaf(pathLeaf);
        // bcmls exempts from its signature-key uniqueness check only the leaf the joiner lands on.
        if (removed != null && Arrays.equals(removed.signatureKey(), leaf.signatureKey()) && at.value() != removed.leaf()) {
            return Decision.reject("a rejoin with the same signature key must land on its old leaf " + removed.leaf()
                    + " (it would land on " + at.value() + ", where bcmls 1.84 members refuse it)");
        }
        if (!pathLeaf.verify(suite, pathLeaf.toBeSigned(view.groupId(), at.value()))) {
            return Decision.reject("update path leaf signature does not verify");
        }
        String why = MemberCommits.mergePath(tree, at, path, leaf.parentHash());
        if (why != null) {
            return Decision.reject(why);
        }
        List<Member> members = DeliveryService.members(tree);
        Set<DeviceCredential> devices = new HashSet<>();
        for (Member m : members) {
            if (!devices.add(m.device())) {
                return Decision.reject("device " + m.device() + " would hold two leaves");
            }
        }
        byte[] confirmed = suite.hash(DeliveryService.concat(view.interimTranscriptHash(), new byte[] {0, 1},
                pm.framedContent(), MlsReader.opaqueOf(pm.signature())));
        byte[] interim = suite.hash(DeliveryService.concat(confirmed, MlsReader.opaqueOf(pm.confirmationTag())));
        GroupView next = new GroupView(view.groupId(), view.epoch() + 1, MLSOutputStream.encode(tree), confirmed,
                interim, view.extensions(), members, List.of());
        return Decision.accept(new CommitAccepted(next, List.of(joiner), List.of()));
    }

    /**
     * Checks a GroupInfo a committer uploads for joiners against the view of the epoch it claims:
     * same group, epoch, GroupContext extensions, confirmed transcript hash and ratchet tree (so
     * the tree hash), a confirmation tag that gives the view's interim transcript hash (so it is
     * the accepted commit's tag), only the ratchet_tree and external_pub extensions, and the
     * signature of a member. The external_pub itself cannot be checked without the epoch secret.
     */
    static Decision<GroupView> checkGroupInfo(GroupView view, byte[] groupInfoMessage) throws Exception {
        MlsCipherSuite suite = MlsSuite.SUITE;
        MlsMessages.GroupInfo info = MlsMessages.parseGroupInfo(groupInfoMessage);
        if (info.cipherSuite() != suite.getSuiteID() || !Arrays.equals(info.groupId(), view.groupId())) {
            return Decision.reject("GroupInfo is for another group or cipher suite");
        }
        if (info.epoch() != view.epoch()) {
            return Decision.reject("GroupInfo is for epoch " + info.epoch() + ", group is at " + view.epoch());
        }
        if (!Arrays.equals(info.contextExtensions(), view.extensions())
                || !Arrays.equals(info.confirmedTranscriptHash(), view.confirmedTranscriptHash())) {
            return Decision.reject("GroupInfo's GroupContext differs from the group's");
        }
        byte[] interim = suite.hash(DeliveryService.concat(info.confirmedTranscriptHash(),
                MlsReader.opaqueOf(info.confirmationTag())));
        if (!Arrays.equals(interim, view.interimTranscriptHash())) {
            return Decision.reject("GroupInfo's confirmation tag is not that of the accepted commit");
        }
        for (int type : info.extensions().keySet()) {
            if (type != MlsMessages.EXT_RATCHET_TREE && type != MlsMessages.EXT_EXTERNAL_PUB) {
                return Decision.reject("GroupInfo extension " + type + " is not allowed");
            }
        }
        if (!Arrays.equals(info.ratchetTree(), view.ratchetTree())) {
            return Decision.reject("GroupInfo's ratchet tree differs from the group's");
        }
        byte[] pubExtension = info.extensions().get(MlsMessages.EXT_EXTERNAL_PUB);
        if (pubExtension == null) {
            return Decision.reject("GroupInfo carries no external_pub");
        }
        MlsReader pub = new MlsReader(pubExtension);
        byte[] externalPub = pub.opaque("external_pub", MlsMessages.MAX_KEY);
        pub.expectEnd("external_pub");
        if (!KeyPackageCheck.usableHpkeKey(externalPub)) {
            return Decision.reject("GroupInfo's external_pub is not a usable X25519 public key");
        }
        TreeKEMPublicKey tree = (TreeKEMPublicKey) MLSInputStream.decode(view.ratchetTree(), TreeKEMPublicKey.class);
        tree.setSuite(suite);
        tree.setHashAll();
        if (!Arrays.equals(tree.getRootHash(), info.treeHash())) {
            return Decision.reject("GroupInfo's tree hash does not match the group's tree");
        }
        Member signer = view.memberAt(info.signer());
        if (signer == null) {
            return Decision.reject("GroupInfo signer " + info.signer() + " is not a member");
        }
        if (!KeyPackageCheck.verifies(signer.signatureKey(), "GroupInfoTBS", info.toBeSigned(), info.signature())) {
            return Decision.reject("GroupInfo signature does not verify");
        }
        return Decision.accept(view);
    }

    /** The registered key if the caller knows one, else the pending Add's, else the old leaf's. */
    private static byte[] expectedSignatureKey(GroupView view, DeviceCredential joiner, Member existing,
                                               Function<DeviceCredential, byte[]> registeredKey) throws Exception {
        byte[] registered = registeredKey.apply(joiner);
        if (registered != null) {
            return registered;
        }
        for (PendingProposal p : view.pending()) {
            if (p.kind() == ProposalKind.ADD && p.device().equals(joiner)) {
                return MlsMessages.parseKeyPackage(p.keyPackage()).leafNode().signatureKey();
            }
        }
        return existing == null ? null : existing.signatureKey();
    }
}
