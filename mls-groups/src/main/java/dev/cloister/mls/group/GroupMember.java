package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * those, join from a Welcome, follow others' commits, protect chat and export per-epoch keys.
 *
 * <p>Every incoming message first goes through our bounded parser ({@link MlsMessages}); bcmls
 * 1.84 resolves a commit's proposal references by silently dropping unknown ones, so this class
 * checks that every reference names a proposal it has seen. Commits always carry an update path:
 * with bcmls 1.84, after Add-only commits without a path a later Remove commit failed to decrypt
 * for some members (HPKE tag mismatch), and a path on every commit also gives forward secrecy.
 *
 * <p>Not thread-safe; and bcmls's cipher-suite objects share one digest, so all MLS work in a
 * process should run on one thread or under one lock (the delivery service takes that lock).
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

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private final DeviceIdentity identity;
    private final byte[] groupId;
    /** The current epoch's state; null while an external join waits for the delivery service. */
    private Group group;
    private Status status = Status.ACTIVE;
    private static final long ADD = -1L;
    private static final long OTHER = -2L;

    /** A server proposal this member took: its message and the leaf a Remove targets, ADD or OTHER. */
    private record Held(byte[] message, long target) {
    }

    /**
     * Proposals taken this epoch by ref (hex), in arrival order. This map, not bcmls, is the truth:
     * bcmls 1.84 caches handled proposals in a private list and commits all of them, with no way
     * to drop one, so after a revocation its cache is emptied and refilled from this map.
     */
    private final Map<String, Held> proposals = new LinkedHashMap<>();
    /** Refs the delivery service revoked this epoch, so a commit naming one is refused as such. */
    private final Set<String> revoked = new HashSet<>();
    private boolean removalProposed;
    private byte[] pendingCommit;
    private Group pendingNext;

    private GroupMember(DeviceIdentity identity, Group group) {
        this.identity = identity;
        this.groupId = group.getGroupID().clone();
        this.group = group;
    }

    private GroupMember(DeviceIdentity identity, byte[] groupId, byte[] pendingCommit, Group pendingNext) {
        this.identity = identity;
        this.groupId = groupId.clone();
        this.pendingCommit = pendingCommit;
        this.pendingNext = pendingNext;
    }

    /** A member whose only state is its external commit and the epoch it leads to. */
    static GroupMember pendingJoin(DeviceIdentity identity, byte[] groupId, byte[] commit, Group next) {
        return new GroupMember(identity, groupId, commit, next);
    }

    /**
     * Joins by external commit (RFC 9420 section 12.4.3.2) from the GroupInfo, with the ratchet
     * tree inline, that the last committer uploaded: for a device whose Add is pending while no
     * member is online. Send {@code commit} to the delivery service; once accepted, hand it back to
     * {@link #processCommit} (APPLIED_OWN). If another commit wins the epoch, join again from the
     * new GroupInfo. The GroupInfo's signature, tree and leaves are checked first.
     */
    public static ExternalJoin joinExternal(DeviceIdentity identity, byte[] groupInfoMessage) throws MlsGroupException {
        return ExternalJoiner.join(identity, groupInfoMessage, false);
    }

    /**
     * Rejoins by external commit, removing this device's own old leaf (a resync after it lost or
     * could not follow the group's state). With bcmls 1.84 this works only when the new leaf lands
     * on the old one (no blank leaf left of it); otherwise it is refused and the device asks to be
     * removed and added again.
     */
    public static ExternalJoin rejoinExternal(DeviceIdentity identity, byte[] groupInfoMessage) throws MlsGroupException {
        return ExternalJoiner.join(identity, groupInfoMessage, true);
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

    /** Joins from a Welcome (with the ratchet tree inline) using whichever key package it names. */
    public static GroupMember join(DeviceIdentity identity, List<KeyPackageBundle> keyPackages, byte[] welcome)
            throws MlsGroupException {
        checkWelcome(welcome);
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
                return new GroupMember(identity, g);
            } catch (Exception e) {
                throw new MlsGroupException("cannot join from Welcome: " + e.getMessage(), e);
            }
        }
        throw new MlsGroupException("Welcome is for none of this device's key packages");
    }

    /** Bounded structural check of a Welcome before bcmls decodes it. */
    private static void checkWelcome(byte[] welcome) throws MlsGroupException {
        try {
            if (welcome == null || welcome.length > MlsMessages.MAX_MESSAGE) {
                throw new MlsWireException("Welcome missing or larger than " + MlsMessages.MAX_MESSAGE);
            }
            MlsReader r = new MlsReader(welcome);
            if (r.u16("version") != MlsMessages.MLS10 || r.u16("wire format") != MlsMessages.WIRE_WELCOME) {
                throw new MlsWireException("not an MLS 1.0 Welcome");
            }
            if (r.u16("cipher suite") != MlsSuite.SUITE.getSuiteID()) {
                throw new MlsWireException("Welcome for another cipher suite");
            }
            MlsReader secrets = r.vector("secrets", MlsMessages.MAX_MESSAGE);
            while (secrets.remaining() > 0) {
                secrets.skipOpaque("new_member", MlsMessages.MAX_TAG);
                secrets.skipOpaque("kem_output", MlsMessages.MAX_KEY);
                secrets.skipOpaque("encrypted group secrets", MlsMessages.MAX_MESSAGE);
            }
            r.skipOpaque("encrypted_group_info", MlsMessages.MAX_MESSAGE);
            r.expectEnd("Welcome");
        } catch (MlsWireException e) {
            throw new MlsGroupException("malformed Welcome: " + e.getMessage());
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
        return group == null && pendingNext != null;
    }

    /** The current epoch; throws {@link IllegalStateException} while an external join is pending. */
    public long epoch() {
        return joined().getEpoch();
    }

    /** This device's leaf; throws {@link IllegalStateException} while an external join is pending. */
    public int leafIndex() {
        return joined().getIndex().value();
    }

    private Group joined() {
        if (group == null) {
            throw new IllegalStateException("this device's external join is not accepted yet");
        }
        return group;
    }

    /** The current epoch's state, or why there is none to work on. */
    private Group current() throws MlsGroupException {
        if (group == null) {
            throw new MlsGroupException("this device's external join is not accepted yet");
        }
        return group;
    }

    /** Current members by leaf index. */
    public Map<Integer, DeviceCredential> members() {
        Group g = joined();
        Map<Integer, DeviceCredential> out = new TreeMap<>();
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
        requireActive();
        try {
            return MLSOutputStream.encode(group.getGroupInfo(true));
        } catch (Exception e) {
            throw new MlsGroupException("cannot sign GroupInfo: " + e.getMessage(), e);
        }
    }

    /**
     * Takes a proposal the delivery service sent. Only the group's external sender (the server)
     * may propose; a Remove of this device is noted and not handed to bcmls, which refuses it.
     */
    public void processProposal(byte[] message) throws MlsGroupException {
        requireActive();
        MlsMessages.PublicMessage pm = parse(message);
        if (pm.contentType() != MlsMessages.CONTENT_PROPOSAL) {
            throw new MlsGroupException("not a proposal");
        }
        if (pm.senderType() != MlsMessages.SENDER_EXTERNAL || pm.senderIndex() != 0) {
            throw new MlsGroupException("proposals are accepted only from the delivery service");
        }
        checkGroupAndEpoch(pm);
        String ref = HEX.formatHex(proposalRef(pm));
        MlsMessages.Proposal p = pm.proposal();
        if (p.type() == MlsMessages.PROPOSAL_REMOVE && p.removed() == leafIndex()) {
            removalProposed = true;
            proposals.put(ref, new Held(message.clone(), p.removed()));
            return;
        }
        try {
            group.handle(message, null);
        } catch (Exception e) {
            throw new MlsGroupException("proposal refused: " + e.getMessage(), e);
        }
        long target = p.type() == MlsMessages.PROPOSAL_REMOVE ? p.removed() : p.type() == MlsMessages.PROPOSAL_ADD ? ADD : OTHER;
        proposals.put(ref, new Held(message.clone(), target));
    }

    /**
     * Forgets proposals the delivery service revoked, so the next {@link #commit()} leaves them out
     * and a commit that references one is refused. Refs this member never took (it refused the
     * proposal, or never saw it) are ignored. A commit of ours made before is discarded: the server
     * can no longer accept it.
     */
    public void revokeProposals(List<byte[]> refs) throws MlsGroupException {
        requireActive();
        boolean dropped = false;
        for (byte[] ref : refs) {
            String hex = HEX.formatHex(ref);
            revoked.add(hex);
            dropped |= proposals.remove(hex) != null;
        }
        if (!dropped) {
            return;
        }
        discardPendingCommit();
        removalProposed = proposals.values().stream().anyMatch(h -> h.target() == leafIndex());
        GroupStateCodec.clearPendingProposals(group);
        for (Held held : proposals.values()) {
            if (held.target() == leafIndex()) {
                continue;
            }
            try {
                group.handle(held.message(), null);
            } catch (Exception e) {
                throw new MlsGroupException("proposal taken earlier is refused now: " + e.getMessage(), e);
            }
        }
    }

    /** Whether the server has proposed removing this device in the current epoch. */
    public boolean removalProposed() {
        return removalProposed;
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
        requireActive();
        if (removalProposed) {
            throw new MlsGroupException("a member being removed must not commit");
        }
        try {
            byte[] leafSecret = new byte[MlsSuite.SUITE.getKDF().getHashLength()];
            RANDOM.nextBytes(leafSecret);
            Group.GroupWithMessage gwm = group.commit(new Secret(leafSecret),
                    new Group.CommitOptions(new ArrayList<>(), true, true, new Group.LeafNodeOptions()),
                    new Group.MessageOptions(false, new byte[0], 0),
                    new Group.CommitParameters(Group.NORMAL_COMMIT_PARAMS));
            byte[] commit = MLSOutputStream.encode(gwm.message);
            byte[] welcome = null;
            if (gwm.message.welcome != null && proposals.values().stream().anyMatch(h -> h.target() == ADD)) {
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

    /**
     * Applies a commit the delivery service accepted: our own (adopting the state kept aside, also
     * after an external join), another member's, or a joiner's external commit (which drops every
     * pending proposal). A commit that removes this device ends its membership.
     */
    public CommitResult processCommit(byte[] message) throws MlsGroupException {
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
        pendingCommit = null;
        pendingNext = null;
        boolean removesMe;
        if (pm.senderType() == MlsMessages.SENDER_NEW_MEMBER_COMMIT) {
            removesMe = checkExternalCommit(pm.commit());
        } else if (pm.senderType() == MlsMessages.SENDER_MEMBER) {
            removesMe = checkMemberCommit(pm);
        } else {
            throw new MlsGroupException("commits come from members or joiners only");
        }
        if (removesMe) {
            wipe(Status.REMOVED);
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

    /** A member's commit references exactly the proposals this member holds; true if it removes us. */
    private boolean checkMemberCommit(MlsMessages.PublicMessage pm) throws MlsGroupException {
        if (pm.senderIndex() == leafIndex()) {
            throw new MlsGroupException("a commit in this device's name that it did not make");
        }
        boolean removesMe = false;
        for (MlsMessages.ProposalOrRef item : pm.commit().proposals()) {
            if (!item.isReference()) {
                throw new MlsGroupException("commit carries an inline proposal");
            }
            String ref = HEX.formatHex(item.reference());
            Held held = proposals.get(ref);
            if (held == null) {
                throw new MlsGroupException(revoked.contains(ref)
                        ? "commit references a proposal the delivery service revoked"
                        : "commit references a proposal this member never received");
            }
            removesMe |= held.target() == leafIndex();
        }
        if (pm.commit().proposals().size() != proposals.size()) {
            throw new MlsGroupException("commit does not reference every pending proposal");
        }
        return removesMe;
    }

    /**
     * An external commit: one ExternalInit, no references, an update path, and at most one Remove,
     * only of the joiner's own earlier leaf (bcmls 1.84 does not check whom it removes). True if
     * that leaf is ours: another instance of this device rejoined.
     */
    private boolean checkExternalCommit(MlsMessages.Commit commit) throws MlsGroupException {
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
                removesMe |= p.removed() == leafIndex();
            } else {
                throw new MlsGroupException("external commit carries a proposal of type " + p.type());
            }
        }
        if (inits != 1 || removes > 1) {
            throw new MlsGroupException("external commit needs exactly one ExternalInit and at most one Remove");
        }
        return removesMe;
    }

    /** Forgets a commit of ours the delivery service rejected. */
    public void discardPendingCommit() {
        pendingCommit = null;
        pendingNext = null;
    }

    private void adopt(Group next) {
        group = next;
        proposals.clear();
        revoked.clear();
        removalProposed = false;
        pendingCommit = null;
        pendingNext = null;
    }

    /** Leaves: forgets the group's secrets. The server then proposes the Remove of this leaf. */
    public void leave() {
        wipe(Status.LEFT);
    }

    private void wipe(Status to) {
        status = to;
        proposals.clear();
        pendingCommit = null;
        pendingNext = null;
    }

    /** Encrypts a chat message as a PrivateMessage. */
    public byte[] protect(byte[] plaintext) throws MlsGroupException {
        requireActive();
        try {
            return MLSOutputStream.encode(group.protect(new byte[0], plaintext, 0));
        } catch (Exception e) {
            throw new MlsGroupException("cannot protect: " + e.getMessage(), e);
        }
    }

    /** Decrypts a PrivateMessage from another member of the current epoch. */
    public byte[] unprotect(byte[] message) throws MlsGroupException {
        requireActive();
        try {
            if (message == null || message.length > MlsMessages.MAX_MESSAGE) {
                throw new MlsWireException("message missing or too large");
            }
            MlsReader r = new MlsReader(message);
            if (r.u16("version") != MlsMessages.MLS10 || r.u16("wire format") != MlsMessages.WIRE_PRIVATE_MESSAGE) {
                throw new MlsWireException("not an MLS 1.0 PrivateMessage");
            }
            r.skipOpaque("group_id", MlsMessages.MAX_GROUP_ID);
            long epoch = r.u64("epoch");
            r.u8("content type");
            r.skipOpaque("authenticated_data", MlsMessages.MAX_AUTHENTICATED_DATA);
            r.skipOpaque("encrypted_sender_data", MlsMessages.MAX_KEY);
            r.skipOpaque("ciphertext", MlsMessages.MAX_MESSAGE);
            r.expectEnd("PrivateMessage");
            if (epoch != group.getEpoch()) {
                throw new MlsGroupException("message for epoch " + epoch + ", group is at " + group.getEpoch());
            }
        } catch (MlsWireException e) {
            throw new MlsGroupException("malformed message: " + e.getMessage());
        }
        try {
            MLSMessage msg = (MLSMessage) MLSInputStream.decode(message, MLSMessage.class);
            return group.unprotect(msg)[1];
        } catch (Exception e) {
            throw new MlsGroupException("cannot decrypt: " + e.getMessage(), e);
        }
    }

    /** {@code MLS-Exporter("SFrame 1.0 Base Key", "", Nk)} for this epoch (RFC 9605 section 5.2). */
    public byte[] sframeBaseKey() throws MlsGroupException {
        return export(MlsSuite.SFRAME_EXPORTER_LABEL, new byte[0], MlsSuite.SFRAME.nk);
    }

    public byte[] export(String label, byte[] context, int length) throws MlsGroupException {
        requireActive();
        try {
            return group.getKeySchedule().MLSExporter(label, context, length);
        } catch (IOException e) {
            throw new MlsGroupException("exporter failed", e);
        }
    }

    /** The epoch authenticator (RFC 9420 section 8.7): equal for all members of the same epoch. */
    public byte[] epochAuthenticator() throws MlsGroupException {
        requireActive();
        return group.getEpochAuthenticator().clone();
    }

    private void requireActive() throws MlsGroupException {
        if (status != Status.ACTIVE) {
            throw new MlsGroupException("this device is no longer in the group (" + status + ")");
        }
        current();
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
        try {
            return MlsSuite.SUITE.refHash(pm.authenticatedContent(), "MLS 1.0 Proposal Reference");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
