package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.codec.Credential;
import org.bouncycastle.mls.codec.Extension;
import org.bouncycastle.mls.codec.ExternalSender;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.codec.WireFormat;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.Group;

/**
 * One device's view of one MLS group, on Bouncy Castle's {@link Group}: create a group whose only
 * external sender is the delivery service, take the server's Add/Remove proposals, commit exactly
 * those, join from a Welcome or by external commit, follow others' commits, protect chat, export
 * per-epoch keys, and save its state to bytes and restore it.
 *
 * <p>Every incoming message first goes through our bounded parser ({@link MlsMessages}); bcmls
 * 1.84 resolves a commit's proposal references by silently dropping unknown ones, so this class
 * checks that every reference names a proposal it holds ({@link HeldProposals}). Commits always
 * carry an update path: with bcmls 1.84, after Add-only commits without a path a later Remove
 * commit failed to decrypt for some members (HPKE tag mismatch), and a path on every commit also
 * gives forward secrecy. A committer left alone by its commit gets its (node-less) path from
 * {@link LoneCommit}, as bcmls 1.84 fails to build one.
 *
 * <p>One instance is not thread-safe. Every call that runs bcmls holds the process-wide bcmls lock
 * ({@link MlsSuite#SUITE}), as the delivery service does: a client beside a server in one process,
 * or a client's second thread, no longer corrupts the shared digest and signer.
 */
public final class GroupMember {
    /** The Remove of this device has been committed, or it left. */
    public enum Status { ACTIVE, REMOVED, LEFT }

    /** What a processed commit did to this device. */
    public enum CommitResult { APPLIED_OWN, APPLIED, REMOVED }

    /** A commit to send to the delivery service, and the Welcome for its joiners (or null). */
    public record CommitBundle(byte[] commit, byte[] welcome, long epoch) {
    }

    /**
     * An external join: the member, whose state waits until the delivery service accepts
     * {@code commit} and it comes back to {@link #processCommit} (APPLIED_OWN), and the commit.
     */
    public record ExternalJoin(GroupMember member, byte[] commit) {
    }

    /** How far past a sender's ratchet a message may claim to be (bcmls derives every key in between). */
    public static final int MAX_GENERATION_SKIP = PrivateMessages.MAX_GENERATION_SKIP;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final DeviceIdentity identity;
    private final byte[] groupId;
    /** The current epoch; null while an external join waits for the server, and once membership ends. */
    private Group group;
    private Status status = Status.ACTIVE;
    private HeldProposals proposals = new HeldProposals();
    private byte[] pendingCommit;
    private Group pendingNext;
    /**
     * A decrypt-only copy of the epoch before the current one (of the last one, once removed), so
     * PrivateMessages sent before a commit and delivered after it still open.
     */
    private Group previous;
    /** Where this device was when its membership ended. */
    private long lastEpoch;
    private int lastLeaf;

    private GroupMember(DeviceIdentity identity, Group group) {
        this.identity = identity;
        this.groupId = group.getGroupID().clone();
        this.group = group;
    }

    private GroupMember(DeviceIdentity identity, byte[] groupId) {
        this.identity = identity;
        this.groupId = groupId.clone();
    }

    /** A member whose only state is its external commit and the epoch it leads to. */
    static GroupMember pendingJoin(DeviceIdentity identity, byte[] groupId, byte[] commit, Group next) {
        GroupMember m = new GroupMember(identity, groupId);
        m.pendingCommit = commit;
        m.pendingNext = next;
        return m;
    }

    /** The external_senders entry naming the delivery service's signature key. */
    public static byte[] externalSender(byte[] serverSignaturePublicKey, String serverName) {
        try {
            return MLSOutputStream.encode(new ExternalSender(serverSignaturePublicKey,
                    Credential.forBasic(serverName.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Creates a group at epoch 0 with this device alone and the server as sole external sender. */
    public static GroupMember create(DeviceIdentity identity, byte[] groupId, byte[] serverSignaturePublicKey,
                                     String serverName) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            try {
                MlsCipherSuite suite = MlsSuite.SUITE;
                AsymmetricCipherKeyPair leafKeys = suite.getHPKE().generatePrivateKey();
                LeafNode leaf = identity.leafNode(suite.getHPKE().serializePublicKey(leafKeys.getPublic()));
                ExternalSender server = (ExternalSender) MLSInputStream.decode(
                        externalSender(serverSignaturePublicKey, serverName), ExternalSender.class);
                List<Extension> extensions = new ArrayList<>();
                extensions.add(Extension.externalSender(List.of(server)));
                Group g = new Group(groupId, suite, leafKeys, identity.signaturePrivate(), leaf, extensions);
                return new GroupMember(identity, g);
            } catch (Exception e) {
                throw new MlsGroupException("cannot create group: " + e.getMessage(), e);
            }
        }
    }

    /** Joins from a Welcome (with the ratchet tree inline) using whichever key package it names. */
    public static GroupMember join(DeviceIdentity identity, List<KeyPackageBundle> keyPackages, byte[] welcome)
            throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            try {
                MlsMessages.checkWelcome(welcome, MlsSuite.SUITE.getSuiteID());
            } catch (MlsWireException e) {
                throw new MlsGroupException("malformed Welcome: " + e.getMessage());
            }
            MLSMessage msg;
            try {
                msg = (MLSMessage) MLSInputStream.decode(welcome, MLSMessage.class);
            } catch (Exception | StackOverflowError e) {
                throw new MlsGroupException("malformed Welcome");
            }
            for (KeyPackageBundle kp : keyPackages) {
                try {
                    if (msg.welcome.find(kp.keyPackage()) < 0) {
                        continue;
                    }
                } catch (IOException e) {
                    throw new MlsGroupException("malformed Welcome");
                }
                try {
                    MlsCipherSuite suite = MlsSuite.SUITE;
                    Group g = new Group(suite.getHPKE().serializePrivateKey(kp.initKeyPair().getPrivate()),
                            kp.encryptionKeyPair(), identity.signaturePrivate(), kp.keyPackage(), msg.welcome, null,
                            new HashMap<>(), new HashMap<>());
                    ExternalJoiner.checkLeaves(identity, g.getGroupID(),
                            MlsMessages.parseRatchetTree(MLSOutputStream.encode(g.getTree())));
                    return new GroupMember(identity, g);
                } catch (MlsGroupException e) {
                    throw new MlsGroupException("cannot join from Welcome: " + e.getMessage(), e);
                } catch (Exception e) {
                    throw new MlsGroupException("cannot join from Welcome: " + e.getMessage(), e);
                }
            }
            throw new MlsGroupException("Welcome is for none of this device's key packages");
        }
    }

    /**
     * Joins by external commit (RFC 9420 section 12.4.3.2) from the GroupInfo, with the ratchet
     * tree inline, that the last committer uploaded: for a device whose Add is pending while no
     * member is online. Send {@code commit} to the delivery service; once accepted, hand it back to
     * {@link #processCommit} (APPLIED_OWN). If another commit wins the epoch, join again from the
     * new GroupInfo. The GroupInfo's signature, tree and leaves are checked first.
     */
    public static ExternalJoin joinExternal(DeviceIdentity identity, byte[] groupInfoMessage) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            return ExternalJoiner.join(identity, groupInfoMessage, false);
        }
    }

    /**
     * Rejoins by external commit, removing this device's own old leaf (a resync after it lost or
     * could not follow the group's state). With bcmls 1.84 this works only when the new leaf lands
     * on the old one (no blank leaf left of it); otherwise it is refused and the device asks to be
     * removed and added again.
     */
    public static ExternalJoin rejoinExternal(DeviceIdentity identity, byte[] groupInfoMessage) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            return ExternalJoiner.join(identity, groupInfoMessage, true);
        }
    }

    public DeviceIdentity identity() {
        return identity;
    }

    public Status status() {
        return status;
    }

    public byte[] groupId() {
        return groupId.clone();
    }

    /** Whether this device's external join still waits for the delivery service to accept it. */
    public boolean externalJoinPending() {
        return status == Status.ACTIVE && group == null && pendingNext != null;
    }

    /**
     * The current epoch (the last one, once membership ended); throws
     * {@link IllegalStateException} while an external join is pending.
     */
    public long epoch() {
        return status == Status.ACTIVE ? joined().getEpoch() : lastEpoch;
    }

    /** This device's leaf (the last one, once membership ended); throws while an external join is pending. */
    public int leafIndex() {
        return status == Status.ACTIVE ? joined().getIndex().value() : lastLeaf;
    }

    private Group joined() {
        if (group == null) {
            throw new IllegalStateException("this device's external join is not accepted yet");
        }
        return group;
    }

    /** Current members by leaf index (none once this device's membership ended). */
    public Map<Integer, DeviceCredential> members() {
        Map<Integer, DeviceCredential> out = new TreeMap<>();
        if (status != Status.ACTIVE) {
            return out;
        }
        Group g = joined();
        long leaves = g.getTree().getSize().leafCount();
        for (int i = 0; i < leaves; i++) {
            LeafNode leaf = g.getTree().getLeafNode(new LeafIndex(i));
            if (leaf != null) {
                try {
                    out.put(i, DeviceCredential.decode(leaf.getCredential().getIdentity()));
                } catch (MlsWireException e) {
                    throw new IllegalStateException("member with a foreign credential at leaf " + i);
                }
            }
        }
        return out;
    }

    /** GroupInfo with the ratchet tree inline, signed by this member, for the delivery service. */
    public byte[] groupInfo() throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            requireActive();
            try {
                return MLSOutputStream.encode(group.getGroupInfo(true));
            } catch (Exception e) {
                throw new MlsGroupException("cannot sign GroupInfo: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Takes a proposal the delivery service sent. Only the group's external sender (the server)
     * may propose; a Remove of this device is noted and not handed to bcmls, which refuses it.
     */
    public void processProposal(byte[] message) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            requireActive();
            MlsMessages.PublicMessage pm = parse(message);
            if (pm.contentType() != MlsMessages.CONTENT_PROPOSAL) {
                throw new MlsGroupException("not a proposal");
            }
            if (pm.senderType() != MlsMessages.SENDER_EXTERNAL || pm.senderIndex() != 0) {
                throw new MlsGroupException("proposals are accepted only from the delivery service");
            }
            checkGroupAndEpoch(pm);
            MlsMessages.Proposal p = pm.proposal();
            if (p.type() == MlsMessages.PROPOSAL_REMOVE && p.removed() == leafIndex()) {
                proposals.take(proposalRef(pm), message, p.removed());
                return;
            }
            try {
                group.handle(message, null);
            } catch (Exception e) {
                throw new MlsGroupException("proposal refused: " + e.getMessage(), e);
            }
            long target = p.type() == MlsMessages.PROPOSAL_REMOVE ? p.removed()
                    : p.type() == MlsMessages.PROPOSAL_ADD ? HeldProposals.ADD : HeldProposals.OTHER;
            proposals.take(proposalRef(pm), message, target);
        }
    }

    /**
     * Forgets proposals the delivery service revoked, so the next {@link #commit()} leaves them out
     * and a commit that references one is refused. Refs this member never took (it refused the
     * proposal, or never saw it) are ignored. A commit of ours made before is discarded: the server
     * can no longer accept it.
     */
    public void revokeProposals(List<byte[]> refs) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            requireActive();
            if (proposals.revoke(refs)) {
                discardPendingCommit();
                proposals.refill(group, leafIndex());
            }
        }
    }

    /** Whether the server has proposed removing this device in the current epoch. */
    public boolean removalProposed() {
        return status == Status.ACTIVE && group != null && proposals.removes(leafIndex());
    }

    /** How many proposals this member holds for the current epoch. */
    public int pendingProposalCount() {
        return proposals.size();
    }

    /**
     * Commits every pending proposal by reference (and nothing else). The new state is kept aside
     * until the delivery service accepts the commit and it comes back to {@link #processCommit}.
     */
    public CommitBundle commit() throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            requireActive();
            if (removalProposed()) {
                throw new MlsGroupException("a member being removed must not commit");
            }
            try {
                byte[] leafSecret = new byte[MlsSuite.SUITE.getKDF().getHashLength()];
                RANDOM.nextBytes(leafSecret);
                // bcmls 1.84 cannot build the path of a committer left alone (empty filtered direct path):
                // LoneCommit does.
                Group.GroupWithMessage gwm = aloneAfterCommit() ? LoneCommit.commit(group, new Secret(leafSecret))
                        : group.commit(new Secret(leafSecret),
                                new Group.CommitOptions(new ArrayList<>(), true, true, new Group.LeafNodeOptions()),
                                new Group.MessageOptions(false, new byte[0], 0),
                                new Group.CommitParameters(Group.NORMAL_COMMIT_PARAMS));
                byte[] commit = MLSOutputStream.encode(gwm.message);
                byte[] welcome = null;
                if (gwm.message.welcome != null && proposals.anyAdd()) {
                    MLSMessage w = new MLSMessage(WireFormat.mls_welcome);
                    w.welcome = gwm.message.welcome;
                    welcome = MLSOutputStream.encode(w);
                }
                pendingCommit = commit;
                pendingNext = gwm.group;
                return new CommitBundle(commit, welcome, group.getEpoch());
            } catch (Exception e) {
                throw new MlsGroupException("cannot commit: " + e.getMessage(), e);
            }
        }
    }

    /** Whether no other leaf is left once the held proposals apply: each is removed, and nobody is added. */
    private boolean aloneAfterCommit() {
        if (proposals.anyAdd()) {
            return false;
        }
        int me = leafIndex();
        long leaves = group.getTree().getSize().leafCount();
        for (int i = 0; i < leaves; i++) {
            if (i != me && group.getTree().getLeafNode(new LeafIndex(i)) != null && !proposals.removes(i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Applies a commit the delivery service accepted: our own (adopting the state kept aside, also
     * after an external join), another member's, or a joiner's external commit (which drops every
     * pending proposal). A commit that removes this device ends its membership.
     */
    public CommitResult processCommit(byte[] message) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            if (status != Status.ACTIVE) {
                throw new MlsGroupException("this device is no longer in the group (" + status + ")");
            }
            MlsMessages.PublicMessage pm = parse(message);
            if (pm.contentType() != MlsMessages.CONTENT_COMMIT) {
                throw new MlsGroupException("not a commit");
            }
            if (group == null) {
                if (pendingCommit != null && Arrays.equals(pendingCommit, message)) {
                    adopt(pendingNext);
                    return CommitResult.APPLIED_OWN;
                }
                throw new MlsGroupException("this device has not joined: another commit took epoch " + pm.epoch()
                        + ", so join again from the new GroupInfo");
            }
            checkGroupAndEpoch(pm);
            if (pendingCommit != null && Arrays.equals(pendingCommit, message)) {
                adopt(pendingNext);
                return CommitResult.APPLIED_OWN;
            }
            discardPendingCommit();
            boolean removesMe;
            if (pm.senderType() == MlsMessages.SENDER_NEW_MEMBER_COMMIT) {
                removesMe = ExternalJoiner.checkFollowed(group, pm.commit());
            } else if (pm.senderType() == MlsMessages.SENDER_MEMBER) {
                if (pm.senderIndex() == leafIndex()) {
                    throw new MlsGroupException("a commit in this device's name that it did not make");
                }
                removesMe = proposals.check(pm.commit(), leafIndex());
            } else {
                throw new MlsGroupException("commits come from members or joiners only");
            }
            if (removesMe) {
                end(Status.REMOVED);
                return CommitResult.REMOVED;
            }
            try {
                Group next = group.handle(message, null);
                if (next == null) {
                    throw new MlsGroupException("commit produced no new epoch");
                }
                adopt(next);
                return CommitResult.APPLIED;
            } catch (MlsGroupException e) {
                throw e;
            } catch (Exception e) {
                throw new MlsGroupException("commit refused: " + e.getMessage(), e);
            }
        }
    }

    /** Forgets a commit of ours the delivery service rejected (an external join then has nothing left). */
    public void discardPendingCommit() {
        pendingCommit = null;
        pendingNext = null;
    }

    private void adopt(Group next) {
        previous = group == null ? null : GroupStateCodec.decryptOnly(group);
        group = next;
        proposals.clear();
        discardPendingCommit();
    }

    /** Forgets the previous epoch's keys before the next commit would (when its grace window ends). */
    public void forgetPreviousEpoch() {
        previous = null;
    }

    /** Leaves: forgets the group's secrets. The server then proposes the Remove of this leaf. */
    public void leave() {
        if (status == Status.ACTIVE) {
            end(Status.LEFT);
        }
    }

    /**
     * Membership ends: remember where and forget every secret, except that a removed device keeps
     * its last epoch's decryption keys (messages sent to it before the removal still open).
     */
    private void end(Status to) {
        previous = null;
        if (group != null) {
            lastEpoch = group.getEpoch();
            lastLeaf = group.getIndex().value();
            if (to == Status.REMOVED) {
                previous = GroupStateCodec.decryptOnly(group);
            }
        }
        status = to;
        group = null;
        proposals.clear();
        discardPendingCommit();
    }

    /** Encrypts a chat message as a PrivateMessage. */
    public byte[] protect(byte[] plaintext) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            requireActive();
            try {
                byte[] out = MLSOutputStream.encode(group.protect(new byte[0], plaintext, 0));
                GroupStateCodec.forgetSentKeys(group);
                return out;
            } catch (Exception e) {
                throw new MlsGroupException("cannot protect: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Decrypts a PrivateMessage from another member, of the current epoch or of the previous one
     * (kept for messages sent before the last commit and delivered after it). A removed device
     * still opens messages of its last epoch.
     */
    public byte[] unprotect(byte[] message) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            if (status == Status.LEFT || (status == Status.ACTIVE && group == null)) {
                requireActive();
            }
            return PrivateMessages.open(groupId, group, previous, message);
        }
    }

    /** Like {@link #unprotect}, with the member who sent it: check it against who the server says posted it. */
    public OpenedMessage open(byte[] message) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            if (status == Status.LEFT || (status == Status.ACTIVE && group == null)) {
                requireActive();
            }
            return PrivateMessages.openFrom(groupId, group, previous, message);
        }
    }

    /** The epoch a PrivateMessage was sent in, from its clear header. */
    public long epochOf(byte[] privateMessage) throws MlsGroupException {
        return PrivateMessages.header(privateMessage).epoch();
    }

    /** {@code MLS-Exporter("SFrame 1.0 Base Key", "", Nk)} for this epoch (RFC 9605 section 5.2). */
    public byte[] sframeBaseKey() throws MlsGroupException {
        return export(MlsSuite.SFRAME_EXPORTER_LABEL, new byte[0], MlsSuite.SFRAME.nk);
    }

    public byte[] export(String label, byte[] context, int length) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            requireActive();
            try {
                return group.getKeySchedule().MLSExporter(label, context, length);
            } catch (IOException e) {
                throw new MlsGroupException("exporter failed", e);
            }
        }
    }

    /** The epoch authenticator (RFC 9420 section 8.7): equal for all members of the same epoch. */
    public byte[] epochAuthenticator() throws MlsGroupException {
        requireActive();
        return group.getEpochAuthenticator().clone();
    }

    /**
     * Everything needed to go on after a restart: the epoch's state (tree, private keys, key
     * schedule, every sender's ratchet position), the previous epoch's decryption keys, held and
     * revoked proposals, status, and a commit or external join awaiting the server with the state
     * it leads to ({@link SavedMember}: a format byte first, a SHA-256 of the rest last).
     * Holds private keys: keep it in the device's encrypted storage. Save it again after every
     * {@link #protect}: a state restored from before a sent message would reuse its key and nonce
     * (bcmls 1.84 sends an all-zero reuse_guard, so nothing else tells the two apart).
     */
    public byte[] toBytes() {
        synchronized (MlsSuite.SUITE) {
            return new SavedMember(status, groupId, lastEpoch, lastLeaf, proposals, group, pendingCommit, pendingNext,
                    previous).toBytes();
        }
    }

    /** Restores a member saved by {@link #toBytes()} for {@code identity}; corrupt or foreign state is refused. */
    public static GroupMember fromBytes(DeviceIdentity identity, byte[] bytes) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            SavedMember saved = SavedMember.fromBytes(identity, bytes);
            GroupMember m = new GroupMember(identity, saved.groupId());
            m.status = saved.status();
            m.lastEpoch = saved.lastEpoch();
            m.lastLeaf = saved.lastLeaf();
            m.proposals = saved.proposals();
            m.group = saved.group();
            m.pendingCommit = saved.pendingCommit();
            m.pendingNext = saved.pendingNext();
            m.previous = saved.previous();
            if (m.group != null) {
                try {
                    // bcmls's proposal cache is refilled from the held list, which re-verifies each.
                    m.proposals.refill(m.group, m.leafIndex());
                } catch (MlsGroupException e) {
                    throw new MlsGroupException("malformed group state: held proposals do not fit it: "
                            + e.getMessage());
                }
            }
            return m;
        }
    }

    private void requireActive() throws MlsGroupException {
        if (status != Status.ACTIVE) {
            throw new MlsGroupException("this device is no longer in the group (" + status + ")");
        }
        if (group == null) {
            throw new MlsGroupException("this device's external join is not accepted yet");
        }
    }

    private MlsMessages.PublicMessage parse(byte[] message) throws MlsGroupException {
        try {
            return MlsMessages.parsePublicMessage(message);
        } catch (MlsWireException e) {
            throw new MlsGroupException("malformed message: " + e.getMessage());
        }
    }

    private void checkGroupAndEpoch(MlsMessages.PublicMessage pm) throws MlsGroupException {
        if (!Arrays.equals(pm.groupId(), group.getGroupID())) {
            throw new MlsGroupException("message for another group");
        }
        if (pm.epoch() != group.getEpoch()) {
            throw new MlsGroupException("message for epoch " + pm.epoch() + ", group is at " + group.getEpoch());
        }
    }

    /** ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent). */
    static byte[] proposalRef(MlsMessages.PublicMessage pm) {
        synchronized (MlsSuite.SUITE) {
            try {
                return MlsSuite.SUITE.refHash(pm.authenticatedContent(), "MLS 1.0 Proposal Reference");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
