package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.GroupInfo;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.Group;

/**
 * Builds an external commit (RFC 9420 section 12.4.3.2) from a GroupInfo the delivery service
 * hands out. The GroupInfo comes through the server, so it is checked before bcmls trusts it:
 * bounded parse, only the extensions Cloister groups use, the tree against the tree hash and its
 * parent hashes, every leaf's signature and credential, and the signer's signature (bcmls 1.84's
 * external join checks none of the signatures). Members check others' external commits here too.
 */
final class ExternalJoiner {
    private static final SecureRandom RANDOM = new SecureRandom();

    private ExternalJoiner() {
    }

    static GroupMember.ExternalJoin join(DeviceIdentity identity, byte[] groupInfoMessage, boolean rejoin)
            throws MlsGroupException {
        MlsCipherSuite suite = MlsSuite.SUITE;
        MlsMessages.GroupInfo info;
        List<MlsMessages.LeafNode> leaves;
        try {
            info = MlsMessages.parseGroupInfo(groupInfoMessage);
            if (info.cipherSuite() != suite.getSuiteID()) {
                throw new MlsWireException("GroupInfo for another cipher suite");
            }
            for (int type : info.extensions().keySet()) {
                if (type != MlsMessages.EXT_RATCHET_TREE && type != MlsMessages.EXT_EXTERNAL_PUB) {
                    throw new MlsWireException("GroupInfo extension " + type + " is not supported");
                }
            }
            checkContextExtensions(info.contextExtensions());
            if (info.ratchetTree() == null) {
                throw new MlsWireException("GroupInfo carries no ratchet tree");
            }
            byte[] externalPub = info.extensions().get(MlsMessages.EXT_EXTERNAL_PUB);
            if (externalPub == null) {
                throw new MlsWireException("GroupInfo carries no external_pub");
            }
            MlsReader pub = new MlsReader(externalPub);
            pub.opaque("external_pub", MlsMessages.MAX_KEY);
            pub.expectEnd("external_pub");
            leaves = MlsMessages.parseRatchetTree(info.ratchetTree());
        } catch (MlsWireException e) {
            throw new MlsGroupException("malformed GroupInfo: " + e.getMessage());
        }

        LeafIndex removePrior = null;
        GroupInfo groupInfo;
        try {
            groupInfo = ((MLSMessage) MLSInputStream.decode(groupInfoMessage, MLSMessage.class)).groupInfo;
            TreeKEMPublicKey tree = (TreeKEMPublicKey) MLSInputStream.decode(info.ratchetTree(), TreeKEMPublicKey.class);
            tree.setSuite(suite);
            tree.setHashAll();
            if (!Arrays.equals(tree.getRootHash(), info.treeHash())) {
                throw new MlsGroupException("GroupInfo's ratchet tree does not match its tree hash");
            }
            if (!tree.verifyParentHash()) {
                throw new MlsGroupException("GroupInfo's ratchet tree has invalid parent hashes");
            }
            List<Integer> own = checkLeaves(identity, info.groupId(), leaves);
            if (info.signer() >= leaves.size() || leaves.get((int) info.signer()) == null) {
                throw new MlsGroupException("GroupInfo signer " + info.signer() + " is not a member");
            }
            if (!verifies(leaves.get((int) info.signer()).signatureKey(), "GroupInfoTBS", info.toBeSigned(), info.signature())) {
                throw new MlsGroupException("GroupInfo signature does not verify");
            }
            if (!rejoin && !own.isEmpty()) {
                throw new MlsGroupException("this device already has leaf " + own.get(0) + " in the group; rejoin instead");
            }
            if (rejoin) {
                if (own.size() != 1) {
                    throw new MlsGroupException("this device has no leaf in the group to rejoin from");
                }
                removePrior = new LeafIndex(own.get(0));
                checkRejoinLanding(identity, tree, leaves, own.get(0));
            }
        } catch (MlsGroupException e) {
            throw e;
        } catch (Exception e) {
            throw new MlsGroupException("invalid GroupInfo: " + e.getMessage(), e);
        }

        try {
            KeyPackageBundle template = identity.newKeyPackage(false);
            byte[] leafSecret = new byte[suite.getKDF().getHashLength()];
            RANDOM.nextBytes(leafSecret);
            // bcmls 1.84 cannot build the path of a rejoiner left alone (empty filtered direct path): LoneCommit does.
            Group.GroupWithMessage gwm = removePrior != null && onlyLeaf(leaves, removePrior.value())
                    ? LoneCommit.rejoin(identity.signatureKeyPair(), template.keyPackage(), groupInfo,
                            externalPub(info), removePrior, new Secret(leafSecret))
                    : Group.externalJoin(new Secret(leafSecret), identity.signatureKeyPair(),
                            template.keyPackage(), groupInfo, null, new Group.MessageOptions(false, new byte[0], 0),
                            removePrior, new HashMap<>());
            byte[] commit = MLSOutputStream.encode(gwm.message);
            return new GroupMember.ExternalJoin(GroupMember.pendingJoin(identity, info.groupId(), commit, gwm.group),
                    commit);
        } catch (Exception e) {
            throw new MlsGroupException("cannot build the external commit: " + e.getMessage(), e);
        }
    }

    /** Only external_senders, which bcmls decodes correctly (it mis-maps most other types). */
    private static void checkContextExtensions(byte[] extensions) throws MlsWireException {
        MlsReader r = new MlsReader(extensions);
        while (r.remaining() > 0) {
            int type = r.u16("extension type");
            r.skipOpaque("extension data", MlsMessages.MAX_EXTENSIONS);
            if (type != MlsMessages.EXT_EXTERNAL_SENDERS) {
                throw new MlsWireException("group context extension " + type + " is not supported");
            }
        }
    }

    /**
     * Every leaf signed by its own key and holding a Cloister credential (RFC 9420 section
     * 12.4.3.1, which bcmls 1.84 skips for Welcomes and external joins); returns this device's leaves.
     */
    static List<Integer> checkLeaves(DeviceIdentity identity, byte[] groupId, List<MlsMessages.LeafNode> leaves)
            throws MlsGroupException {
        List<Integer> own = new ArrayList<>();
        for (int i = 0; i < leaves.size(); i++) {
            MlsMessages.LeafNode leaf = leaves.get(i);
            if (leaf == null) {
                continue;
            }
            if (!verifies(leaf.signatureKey(), "LeafNodeTBS", leaf.toBeSigned(groupId, i), leaf.signature())) {
                throw new MlsGroupException("the ratchet tree has a badly signed leaf " + i);
            }
            try {
                if (DeviceCredential.decode(leaf.identity()).equals(identity.credential())) {
                    own.add(i);
                }
            } catch (MlsWireException e) {
                throw new MlsGroupException("the ratchet tree has a foreign credential at leaf " + i);
            }
        }
        return own;
    }

    /**
     * bcmls 1.84 members exempt a joiner's signature key from their uniqueness check only at the
     * leaf it lands on (the leftmost blank one after the Remove), so a rejoin with the same key must
     * land on its old leaf or every member refuses the commit.
     */
    private static void checkRejoinLanding(DeviceIdentity identity, TreeKEMPublicKey tree,
                                           List<MlsMessages.LeafNode> leaves, int old) throws Exception {
        if (!Arrays.equals(leaves.get(old).signatureKey(), identity.signaturePublicKey())) {
            return;
        }
        TreeKEMPublicKey after = TreeKEMPublicKey.clone(tree);
        after.blankPath(new LeafIndex(old));
        after.truncate();
        int landing = after.allocateLeaf().value();
        if (landing != old) {
            throw new MlsGroupException("cannot rejoin: the new leaf would be " + landing + ", not the old leaf " + old
                    + ", and bcmls 1.84 members refuse that; ask to be removed and added again");
        }
    }

    private static boolean verifies(byte[] key, String label, byte[] content, byte[] signature) {
        try {
            return MlsSuite.SUITE.verifyWithLabel(key, label, content, signature);
        } catch (Exception e) {
            return false;
        }
    }

    /** Whether {@code leaf} is the tree's only non-blank leaf. */
    private static boolean onlyLeaf(List<MlsMessages.LeafNode> leaves, int leaf) {
        for (int i = 0; i < leaves.size(); i++) {
            if (i != leaf && leaves.get(i) != null) {
                return false;
            }
        }
        return true;
    }

    /** The external_pub of a GroupInfo already checked to carry one. */
    private static byte[] externalPub(MlsMessages.GroupInfo info) throws MlsWireException {
        return new MlsReader(info.extensions().get(MlsMessages.EXT_EXTERNAL_PUB)).opaque("external_pub", MlsMessages.MAX_KEY);
    }

    /**
     * A member's check of another device's external commit: one ExternalInit, no references, an update path, and at most one Remove,
     * only of the joiner's own earlier leaf (bcmls 1.84 does not check whom it removes). True if
     * that leaf is ours: another instance of this device rejoined.
     */
    static boolean checkFollowed(Group group, MlsMessages.Commit commit) throws MlsGroupException {
        if (!commit.hasPath()) {
            throw new MlsGroupException("external commit without an update path");
        }
        int inits = 0;
        int removes = 0;
        boolean removesMe = false;
        for (MlsMessages.ProposalOrRef item : commit.proposals()) {
            if (item.isReference()) {
                throw new MlsGroupException("external commit must not reference proposals");
            }
            MlsMessages.Proposal p = item.proposal();
            if (p.type() == MlsMessages.PROPOSAL_EXTERNAL_INIT) {
                inits++;
            } else if (p.type() == MlsMessages.PROPOSAL_REMOVE) {
                removes++;
                LeafNode target = p.removed() < group.getTree().getSize().leafCount()
                        ? group.getTree().getLeafNode(new LeafIndex((int) p.removed())) : null;
                if (target == null || !Arrays.equals(target.getCredential().getIdentity(), commit.pathLeaf().identity())) {
                    throw new MlsGroupException("external commit removes a leaf other than the joiner's own");
                }
                removesMe |= p.removed() == group.getIndex().value();
            } else {
                throw new MlsGroupException("external commit carries a proposal of type " + p.type());
            }
        }
        if (inits != 1 || removes > 1) {
            throw new MlsGroupException("external commit needs exactly one ExternalInit and at most one Remove");
        }
        return removesMe;
    }
}
