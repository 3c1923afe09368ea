package dev.cloister.mls.group;

import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.KeyScheduleEpoch;
import org.bouncycastle.mls.TranscriptHash;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.NodeIndex;
import org.bouncycastle.mls.TreeKEM.TreeKEMPrivateKey;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.AuthenticatedContent;
import org.bouncycastle.mls.codec.Commit;
import org.bouncycastle.mls.codec.GroupInfo;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.Proposal;
import org.bouncycastle.mls.codec.ProposalOrRef;
import org.bouncycastle.mls.codec.Sender;
import org.bouncycastle.mls.codec.UpdatePath;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.CachedProposal;
import org.bouncycastle.mls.protocol.Group;

/**
 * The commit of a member who is alone once its proposals apply: the other members removed and
 * nobody added (a two-person group after a kick), a group of one committing nothing, or the only
 * member rejoining by external commit (its old leaf removed, its new one the only leaf). RFC 9420
 * still requires an UpdatePath there (section 12.4: a Remove, or an empty proposal list, needs one),
 * and it is well defined: the committer's filtered direct path is empty, so the path has no nodes
 * and encrypts to no one (section 7.5), the leaf gets a fresh encryption key and an empty
 * parent_hash (section 7.9.1: there is no parent above it), and the commit secret is derived from
 * the fresh leaf secret, so a removed member, who knew the old init_secret, cannot compute the new
 * epoch (a commit without a path would let it).
 *
 * <p>bcmls 1.84 cannot build that path: {@code TreeKEMPublicKey.parentHashes} drops the last entry
 * of the filtered direct path without checking that there is one ({@code Index -1 out of bounds
 * for length 0}); mlspp, which it follows, returns early. So this class runs {@code Group.commit}'s
 * own private steps (successor, resolve and validate the cached proposals, apply, sign, key
 * schedule, confirmation tag, protect) through reflection, pinned to 1.84 like
 * {@link GroupStateCodec}, and builds only the path itself, with bcmls's key derivations. Nobody
 * else processes such a commit (the committer is the only member left); the delivery service checks
 * its empty path.
 */
public final class LoneCommit {
    private static final Method SUCCESSOR = method(Group.class, "successor");
    private static final Method MUST_RESOLVE = method(Group.class, "mustResolve", List.class, LeafIndex.class);
    private static final Method VALIDATE = method(Group.class, "validateCachedProposals", List.class, LeafIndex.class,
            Group.CommitParameters.class);
    private static final Method APPLY = method(Group.class, "apply", List.class);
    private static final Method SIGN = method(Group.class, "sign", Sender.class, Commit.class, byte[].class, boolean.class);
    private static final Method PROTECT = method(Group.class, "protect", AuthenticatedContent.class, int.class);
    private static final Method UPDATE_EPOCH_SECRETS = method(Group.class, "updateEpochSecrets", byte[].class,
            List.class, byte[].class);
    private static final Field PROPOSAL_REF = GroupStateCodec.field(CachedProposal.class, "proposalRef");
    private static final Class<?> JOINERS_WITH_PSKS = type("org.bouncycastle.mls.protocol.Group$JoinersWithPSKS");
    private static final Field JOINERS = GroupStateCodec.field(JOINERS_WITH_PSKS, "joiners");
    private static final Field PSKS = GroupStateCodec.field(JOINERS_WITH_PSKS, "psks");

    private LoneCommit() {
    }

    /**
     * Whether {@code leaf}'s filtered direct path in {@code tree} is empty: every copath node
     * resolves to nothing, so no other member is left to encrypt to (and bcmls 1.84 cannot build or
     * merge an UpdatePath from that leaf). The delivery service asks this of the tree it tracks.
     */
    public static boolean alone(TreeKEMPublicKey tree, LeafIndex leaf) throws Exception {
        for (NodeIndex n : new NodeIndex(leaf).copath(tree.getSize())) {
            if (!tree.resolve(n).isEmpty()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Commits every proposal in {@code current}'s cache by reference, as {@code Group.commit} with a
     * forced path would, for a committer alone once they apply. Throws if it would not be alone.
     */
    static Group.GroupWithMessage commit(Group current, Secret leafSecret) throws Exception {
        Commit commit = new Commit();
        List<CachedProposal> cached = GroupStateCodec.get(GroupStateCodec.PENDING_PROPOSALS, current);
        for (CachedProposal c : cached) {
            byte[] ref = GroupStateCodec.get(PROPOSAL_REF, c);
            commit.getProposals().add(ProposalOrRef.forRef(ref));
        }
        return build(current, commit, leafSecret, new Group.CommitParameters(Group.NORMAL_COMMIT_PARAMS),
                Sender.forMember(current.getIndex()), null, null);
    }

    /**
     * The external commit of a device rejoining a group in which its old leaf is the only one, as
     * {@code Group.externalJoin} would build it: an ExternalInit to {@code info}'s external_pub and
     * the Remove of {@code oldLeaf}, inline; the joiner's leaf from {@code keyPackage}.
     */
    static Group.GroupWithMessage rejoin(AsymmetricCipherKeyPair signatureKeys, KeyPackage keyPackage, GroupInfo info,
                                         byte[] externalPub, LeafIndex oldLeaf, Secret leafSecret) throws Exception {
        Group preliminary = new Group(signatureKeys, info, null);
        MlsCipherSuite suite = preliminary.getSuite();
        KeyScheduleEpoch.ExternalInitParams init = new KeyScheduleEpoch.ExternalInitParams(suite,
                suite.getHPKE().deserializePublicKey(externalPub));
        Commit commit = new Commit();
        commit.getProposals().add(ProposalOrRef.forProposal(Proposal.externalInit(init.getKEMOutput())));
        commit.getProposals().add(ProposalOrRef.forProposal(Proposal.remove(oldLeaf)));
        return build(preliminary, commit, leafSecret, new Group.CommitParameters(keyPackage, init.getInitSecret()),
                Sender.forNewMemberCommit(), keyPackage.getLeafNode(), init.getInitSecret().value());
    }

    /** {@code Group.commit}'s steps, with the path of a one-member tree; {@code joinerLeaf} for an external commit. */
    private static Group.GroupWithMessage build(Group current, Commit commit, Secret leafSecret,
                                                Group.CommitParameters params, Sender sender, LeafNode joinerLeaf,
                                                byte[] forceInitSecret) throws Exception {
        Group next = invoke(SUCCESSOR, current);
        List<?> proposals = invoke(MUST_RESOLVE, current, commit.getProposals(), current.getIndex());
        if (!(Boolean) invoke(VALIDATE, current, proposals, current.getIndex(), params)) {
            throw new IllegalStateException("invalid proposal list");
        }
        Object applied = invoke(APPLY, next, proposals);
        TreeKEMPublicKey tree = next.getTree();
        if (joinerLeaf != null) {
            GroupStateCodec.set(GroupStateCodec.INDEX, next, tree.addLeaf(joinerLeaf));
        }
        LeafIndex me = next.getIndex();
        List<?> joiners = GroupStateCodec.get(JOINERS, applied);
        if (!joiners.isEmpty() || !alone(tree, me)) {
            throw new IllegalStateException("the committer is not alone after this commit");
        }

        // The UpdatePath of a one-member tree: a re-signed leaf with a fresh key, no nodes.
        MlsCipherSuite suite = current.getSuite();
        TreeKEMPrivateKey priv = TreeKEMPrivateKey.create(tree, me, leafSecret);
        AsymmetricCipherKeyPair leafKeys = suite.getHPKE().deriveKeyPair(leafSecret.deriveSecret(suite, "node").value());
        priv.insertPrivateKey(new NodeIndex(me), leafKeys);
        byte[] identitySk = GroupStateCodec.get(GroupStateCodec.IDENTITY_SK, current);
        LeafNode leaf = tree.getLeafNode(me).forCommit(suite, current.getGroupID(), me,
                suite.getHPKE().serializePublicKey(leafKeys.getPublic()), new byte[0], new Group.LeafNodeOptions(),
                identitySk);
        tree.updateLeaf(me, leaf);
        tree.setHashAll();
        GroupStateCodec.set(GroupStateCodec.TREE_PRIV, next, priv);
        commit.setUpdatePath(new UpdatePath(leaf, new ArrayList<>()));

        // Signed over the current epoch's GroupContext, then the new epoch's transcript and keys.
        AuthenticatedContent content = invoke(SIGN, current, sender, commit, new byte[0], false);
        TranscriptHash transcript = GroupStateCodec.get(GroupStateCodec.TRANSCRIPT, next);
        transcript.updateConfirmed(content);
        GroupStateCodec.set(GroupStateCodec.EPOCH, next, next.getEpoch() + 1);
        invoke(UPDATE_EPOCH_SECRETS, next, priv.getUpdateSecret().value(), GroupStateCodec.get(PSKS, applied),
                forceInitSecret);
        content.setConfirmationTag(next.getKeySchedule().confirmationTag(transcript.getConfirmed()));
        transcript.updateInterim(content);
        MLSMessage message = invoke(PROTECT, current, content, 0);
        return new Group.GroupWithMessage(next, message);
    }

    private static Method method(Class<?> type, String name, Class<?>... parameters) {
        try {
            Method m = type.getDeclaredMethod(name, parameters);
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("bcmls is not 1.84: " + type.getName() + "." + name + " is missing", e);
        }
    }

    private static Class<?> type(String name) {
        try {
            return Class.forName(name);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("bcmls is not 1.84: " + name + " is missing", e);
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> T invoke(Method m, Object target, Object... args) throws Exception {
        try {
            return (T) m.invoke(target, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            throw new IllegalStateException(cause);
        }
    }
}
