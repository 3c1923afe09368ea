package dev.cloister.mls.ds;

import dev.cloister.mls.ds.GroupView.Member;
import dev.cloister.mls.ds.GroupView.PendingProposal;
import dev.cloister.mls.ds.GroupView.ProposalKind;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.io.ByteArrayOutputStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.codec.Proposal;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/**
 * The MLS delivery service as pure functions over a {@link GroupView}: create the view from the
 * creator's GroupInfo, issue server-signed external Add/Remove proposals (Adds only for key
 * packages that pass {@link KeyPackageCheck}), revoke them, validate a member's or a joiner's
 * external commit, check the GroupInfo a committer uploads and the clear header of chat posts.
 * It holds no group secret: it checks what public data allows (group, epoch, sender, the exact
 * pending proposals, signatures over the GroupContext it tracks, the update path against the
 * public tree) and accepts the first valid commit of an epoch; later ones fail the epoch check.
 * Every function returns a {@link Decision}; a rejection leaves the given view untouched.
 */
public final class DeliveryService {
    private static final HexFormat HEX = HexFormat.of();
    private static final int EXT_EXTERNAL_SENDERS = MlsMessages.EXT_EXTERNAL_SENDERS;

    private final DeliveryServiceKey key;
    private final Clock clock;
    private final MlsCipherSuite suite = MlsSuite.SUITE;

    public DeliveryService(DeliveryServiceKey key) {
        this(key, Clock.systemUTC());
    }

    /** {@code clock} decides key package lifetimes ({@link KeyPackageCheck}). */
    public DeliveryService(DeliveryServiceKey key, Clock clock) {
        this.key = key;
        this.clock = clock;
    }

    public record Proposed(GroupView view, byte[] message, byte[] ref) {
    }

    public record CommitAccepted(GroupView view, List<DeviceCredential> joiners, List<DeviceCredential> removed) {
    }

    // bcmls's MlsCipherSuite shares one digest per suite, so its hashing is serialized here.
    private static final Object BCMLS = MlsSuite.SUITE;

    /** Builds the view of a new group from its creator's GroupInfo (with the tree inline). */
    public Decision<GroupView> createGroup(byte[] groupId, byte[] groupInfoMessage, DeviceCredential creator) {
        synchronized (BCMLS) {
            try {
                return doCreate(groupId, groupInfoMessage, creator);
            } catch (MlsWireException e) {
                return Decision.reject("malformed GroupInfo: " + e.getMessage());
            } catch (Exception e) {
                return Decision.reject("invalid GroupInfo: " + e.getMessage());
            }
        }
    }

    private Decision<GroupView> doCreate(byte[] groupId, byte[] msg, DeviceCredential creator) throws Exception {
        MlsMessages.GroupInfo info = MlsMessages.parseGroupInfo(msg);
        if (info.cipherSuite() != suite.getSuiteID()) {
            return Decision.reject("GroupInfo for another cipher suite");
        }
        if (!Arrays.equals(info.groupId(), groupId)) {
            return Decision.reject("GroupInfo is for another group");
        }
        if (info.epoch() != 0) {
            return Decision.reject("a new group must start at epoch 0");
        }
        String ext = checkExternalSenders(info.contextExtensions());
        if (ext != null) {
            return Decision.reject(ext);
        }
        byte[] treeBytes = info.ratchetTree();
        if (treeBytes == null) {
            return Decision.reject("GroupInfo carries no ratchet tree");
        }
        MlsMessages.parseRatchetTree(treeBytes);
        TreeKEMPublicKey tree = (TreeKEMPublicKey) MLSInputStream.decode(treeBytes, TreeKEMPublicKey.class);
        tree.setSuite(suite);
        tree.setHashAll();
        if (!Arrays.equals(tree.getRootHash(), info.treeHash())) {
            return Decision.reject("ratchet tree does not match the tree hash");
        }
        List<Member> members = members(tree);
        if (members.size() != 1 || members.get(0).leaf() != 0 || !members.get(0).device().equals(creator)) {
            return Decision.reject("a new group must hold only its creator " + creator + " at leaf 0");
        }
        if (info.signer() != 0) {
            return Decision.reject("GroupInfo must be signed by the creator");
        }
        if (!suite.verifyWithLabel(members.get(0).signatureKey(), "GroupInfoTBS", info.toBeSigned(), info.signature())) {
            return Decision.reject("GroupInfo signature does not verify");
        }
        byte[] confirmed = info.confirmedTranscriptHash();
        byte[] interim = suite.hash(concat(confirmed, MlsReader.opaqueOf(info.confirmationTag())));
        return Decision.accept(new GroupView(groupId, 0, MLSOutputStream.encode(tree), confirmed, interim,
                info.contextExtensions(), members, List.of()));
    }

    /** The group context must name exactly one external sender: this server. */
    private String checkExternalSenders(byte[] contextExtensions) throws MlsWireException {
        MlsReader r = new MlsReader(contextExtensions);
        int senders = 0;
        boolean ours = false;
        while (r.remaining() > 0) {
            int type = r.u16("extension type");
            MlsReader data = r.vector("extension data", MlsMessages.MAX_EXTENSIONS);
            if (type != EXT_EXTERNAL_SENDERS) {
                return "group context extension " + type + " is not allowed";
            }
            MlsReader list = data.vector("external senders", MlsMessages.MAX_EXTENSIONS);
            while (list.remaining() > 0) {
                byte[] sigKey = list.opaque("external sender key", MlsMessages.MAX_KEY);
                if (list.u16("credential type") != MlsMessages.CREDENTIAL_BASIC) {
                    return "external sender must have a basic credential";
                }
                list.skipOpaque("external sender identity", MlsMessages.MAX_IDENTITY);
                senders++;
                ours |= Arrays.equals(sigKey, key.publicKey());
            }
        }
        if (senders != 1 || !ours) {
            return "the server must be the group's only external sender";
        }
        return null;
    }

    /**
     * Issues a server-signed Add for a key package the server claimed for {@code device}, with no
     * registered signature key to pin it to (see the four-argument form).
     */
    public Decision<Proposed> proposeAdd(GroupView view, byte[] keyPackageMessage, DeviceCredential device) {
        return proposeAdd(view, keyPackageMessage, device, null);
    }

    /**
     * Issues a server-signed Add for a key package the server claimed for {@code device}, whose
     * registered signature key is {@code expectedSignatureKey}. The package must pass
     * {@link KeyPackageCheck} at this service's clock, and its keys must be new to the group: no
     * member or pending Add may use its signature key, encryption key or init key (members refuse
     * such an Add, and the group could then commit nothing).
     */
    public Decision<Proposed> proposeAdd(GroupView view, byte[] keyPackageMessage, DeviceCredential device,
                                         byte[] expectedSignatureKey) {
        synchronized (BCMLS) {
            Decision<KeyPackageCheck.KeyPackageInfo> checked =
                    KeyPackageCheck.check(keyPackageMessage, device, expectedSignatureKey, clock.instant());
            if (!checked.accepted()) {
                return Decision.reject(checked.reason());
            }
            try {
                MlsMessages.KeyPackage kp = MlsMessages.parseKeyPackageMessage(keyPackageMessage);
                if (view.member(device) != null) {
                    return Decision.reject("device " + device + " already has a leaf in the group");
                }
                for (PendingProposal p : view.pending()) {
                    if (p.kind() == ProposalKind.ADD && p.device().equals(device)) {
                        return Decision.reject("device " + device + " is already being added");
                    }
                }
                String clash = keyClash(view, kp);
                if (clash != null) {
                    return Decision.reject(clash);
                }
                MLSMessage decoded = (MLSMessage) MLSInputStream.decode(keyPackageMessage, MLSMessage.class);
                return issue(view, Proposal.add(decoded.keyPackage), ProposalKind.ADD, device, -1, kp.encoded());
            } catch (MlsWireException e) {
                return Decision.reject("malformed key package: " + e.getMessage());
            } catch (Exception e) {
                return Decision.reject("invalid key package: " + e.getMessage());
            }
        }
    }

    /** Why {@code kp}'s keys are not new to the group (members' leaves and pending Adds), or null. */
    private static String keyClash(GroupView view, MlsMessages.KeyPackage kp) throws MlsWireException {
        MlsMessages.LeafNode leaf = kp.leafNode();
        List<MlsMessages.LeafNode> leaves = MlsMessages.parseRatchetTree(view.ratchetTree());
        for (int i = 0; i < leaves.size(); i++) {
            MlsMessages.LeafNode m = leaves.get(i);
            if (m == null) {
                continue;
            }
            String who = "the member at leaf " + i;
            Member member = view.memberAt(i);
            if (member != null) {
                who = member.device().toString();
            }
            if (Arrays.equals(m.signatureKey(), leaf.signatureKey())) {
                return "signature key already used by " + who;
            }
            if (Arrays.equals(m.encryptionKey(), leaf.encryptionKey()) || Arrays.equals(m.encryptionKey(), kp.initKey())) {
                return "key package reuses the encryption key of " + who;
            }
        }
        for (PendingProposal p : view.pending()) {
            if (p.kind() != ProposalKind.ADD) {
                continue;
            }
            MlsMessages.KeyPackage other = MlsMessages.parseKeyPackage(p.keyPackage());
            if (Arrays.equals(other.leafNode().signatureKey(), leaf.signatureKey())) {
                return "signature key already used by the pending Add of " + p.device();
            }
            for (byte[] mine : List.of(leaf.encryptionKey(), kp.initKey())) {
                if (Arrays.equals(mine, other.leafNode().encryptionKey()) || Arrays.equals(mine, other.initKey())) {
                    return "key package reuses a key of the pending Add of " + p.device();
                }
            }
        }
        return null;
    }

    /** Issues a server-signed Remove of {@code device}'s leaf. */
    public Decision<Proposed> proposeRemove(GroupView view, DeviceCredential device) {
        synchronized (BCMLS) {
            Member m = view.member(device);
            if (m == null) {
                return Decision.reject("device " + device + " is not a member");
            }
            for (PendingProposal p : view.pending()) {
                if (p.kind() == ProposalKind.REMOVE && p.leaf() == m.leaf()) {
                    return Decision.reject("device " + device + " is already being removed");
                }
            }
            try {
                return issue(view, Proposal.remove(new LeafIndex(m.leaf())), ProposalKind.REMOVE, device, m.leaf(), null);
            } catch (Exception e) {
                return Decision.reject("cannot sign proposal: " + e.getMessage());
            }
        }
    }

    /**
     * Revokes pending proposals (by ProposalRef), as DAVE's proposals op does: the way out of an
     * Add or Remove no member can commit, or one the server no longer wants. Every ref must be
     * pending. The server tells members, who call {@code GroupMember.revokeProposals}, before any
     * later commit of the epoch (the group's log keeps that order).
     */
    public Decision<GroupView> revoke(GroupView view, List<byte[]> refs) {
        Set<String> drop = new HashSet<>();
        for (byte[] ref : refs) {
            drop.add(HEX.formatHex(ref));
        }
        List<PendingProposal> kept = new ArrayList<>();
        for (PendingProposal p : view.pending()) {
            if (!drop.remove(HEX.formatHex(p.ref()))) {
                kept.add(p);
            }
        }
        if (!drop.isEmpty()) {
            return Decision.reject("proposal " + drop.iterator().next() + " is not pending in epoch " + view.epoch());
        }
        return Decision.accept(view.withPending(kept));
    }

    private Decision<Proposed> issue(GroupView view, Proposal proposal, ProposalKind kind, DeviceCredential device,
                                     int leaf, byte[] keyPackage) throws Exception {
        MLSMessage msg = MLSMessage.externalProposal(suite, view.groupId(), view.epoch(), proposal, 0, key.privateKeyBytes());
        byte[] bytes = MLSOutputStream.encode(msg);
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(bytes);
        byte[] ref = suite.refHash(pm.authenticatedContent(), "MLS 1.0 Proposal Reference");
        List<PendingProposal> pending = new ArrayList<>(view.pending());
        pending.add(new PendingProposal(ref, kind, device, leaf, bytes, keyPackage));
        return Decision.accept(new Proposed(view.withPending(pending), bytes, ref));
    }

    /**
     * Validates a member's commit against the view ({@link MemberCommits}). Accepted: the view of
     * the next epoch, the devices to route the Welcome to and the devices removed. The first valid
     * commit of an epoch wins: once it is applied, any other commit for that epoch fails the epoch
     * check. External commits are checked in full and then refused here, as if no device may join:
     * they go through {@link #validateExternalCommit}.
     */
    public Decision<CommitAccepted> validateCommit(GroupView view, byte[] commitMessage) {
        synchronized (BCMLS) {
            try {
                return doValidate(view, commitMessage);
            } catch (MlsWireException e) {
                return Decision.reject("malformed commit: " + e.getMessage());
            } catch (Exception e) {
                return Decision.reject("invalid commit: " + e.getMessage());
            }
        }
    }

    private Decision<CommitAccepted> doValidate(GroupView view, byte[] bytes) throws Exception {
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(bytes);
        if (pm.contentType() != MlsMessages.CONTENT_COMMIT) {
            return Decision.reject("not a commit");
        }
        if (!Arrays.equals(pm.groupId(), view.groupId())) {
            return Decision.reject("commit is for another group");
        }
        if (pm.epoch() != view.epoch()) {
            return Decision.reject("wrong epoch: commit is for epoch " + pm.epoch() + ", group is at " + view.epoch());
        }
        if (pm.senderType() == MlsMessages.SENDER_NEW_MEMBER_COMMIT) {
            return ExternalCommits.validate(view, pm, d -> false, d -> null);
        }
        if (pm.senderType() != MlsMessages.SENDER_MEMBER) {
            return Decision.reject("commit sender must be a member");
        }
        return MemberCommits.validate(view, pm);
    }

    /**
     * Validates an external commit (RFC 9420 section 12.4.3.2) by a device joining from the
     * GroupInfo the last committer uploaded, as strictly as a member commit: see
     * {@link ExternalCommits}. {@code mayJoin} says whether the device may join (the server's
     * answer to "has a pending Add or is on the roster"). The joiner's signature key must be that of
     * its pending Add's key package, or of its old leaf when it rejoins. Accepted: the next view,
     * with no pending proposals (an external commit drops them all, so the server issues again the
     * ones it still wants), and the joiner in {@code joiners}.
     */
    public Decision<CommitAccepted> validateExternalCommit(GroupView view, byte[] commitMessage,
                                                           Predicate<DeviceCredential> mayJoin) {
        return validateExternalCommit(view, commitMessage, mayJoin, d -> null);
    }

    /**
     * As {@link #validateExternalCommit(GroupView, byte[], Predicate)}, with the devices'
     * registered signature keys ({@code null} for a device without one): a registered key is
     * required of the joiner before any key the view knows.
     */
    public Decision<CommitAccepted> validateExternalCommit(GroupView view, byte[] commitMessage,
                                                           Predicate<DeviceCredential> mayJoin,
                                                           Function<DeviceCredential, byte[]> registeredSignatureKey) {
        synchronized (BCMLS) {
            try {
                return ExternalCommits.validate(view, MlsMessages.parsePublicMessage(commitMessage), mayJoin,
                        registeredSignatureKey);
            } catch (MlsWireException e) {
                return Decision.reject("malformed commit: " + e.getMessage());
            } catch (Exception e) {
                return Decision.reject("invalid commit: " + e.getMessage());
            }
        }
    }

    /**
     * Checks the GroupInfo a committer uploads beside its commit, for joiners by external commit,
     * against the view of the epoch that commit produced (see {@link ExternalCommits}). Accepted:
     * the same view; store the GroupInfo and hand it to devices that join.
     */
    public Decision<GroupView> checkGroupInfo(GroupView view, byte[] groupInfoMessage) {
        synchronized (BCMLS) {
            try {
                return ExternalCommits.checkGroupInfo(view, groupInfoMessage);
            } catch (MlsWireException e) {
                return Decision.reject("malformed GroupInfo: " + e.getMessage());
            } catch (Exception e) {
                return Decision.reject("invalid GroupInfo: " + e.getMessage());
            }
        }
    }

    /**
     * Checks a chat post (an MLS PrivateMessage) against the group without any secret: its clear
     * header must be well formed, for this group, of application content, and of the current epoch
     * (or of the previous one while the caller's grace window after the last commit is open). The
     * reason starts with a stable code: {@code not_mls}, {@code wrong_group}, {@code stale_epoch}
     * or {@code future_epoch}.
     */
    public static Decision<MlsMessages.PrivateMessageHeader> checkPost(GroupView view, byte[] privateMessage,
                                                                        boolean previousEpochInGrace) {
        MlsMessages.PrivateMessageHeader header;
        try {
            header = MlsMessages.parsePrivateMessageHeader(privateMessage);
        } catch (MlsWireException e) {
            return Decision.reject("not_mls: " + e.getMessage());
        }
        if (header.contentType() != MlsMessages.CONTENT_APPLICATION) {
            return Decision.reject("not_mls: a post must carry application content; handshakes travel as PublicMessage");
        }
        if (!Arrays.equals(header.groupId(), view.groupId())) {
            return Decision.reject("wrong_group: the message is for another MLS group");
        }
        String epochRefused = checkEpoch(view.epoch(), header.epoch(), previousEpochInGrace);
        return epochRefused == null ? Decision.accept(header) : Decision.reject(epochRefused);
    }

    /**
     * Whether an application message of {@code messageEpoch} may be accepted by a group at {@code groupEpoch}: the
     * current epoch, or the previous one while the caller's grace window is open. Null when it may, else the reason,
     * starting with {@code future_epoch} or {@code stale_epoch}.
     */
    public static String checkEpoch(long groupEpoch, long messageEpoch, boolean previousEpochInGrace) {
        if (messageEpoch == groupEpoch || (previousEpochInGrace && groupEpoch > 0 && messageEpoch == groupEpoch - 1)) {
            return null;
        }
        if (Long.compareUnsigned(messageEpoch, groupEpoch) > 0) {
            return "future_epoch: the message is for epoch " + Long.toUnsignedString(messageEpoch)
                    + ", the group is only at epoch " + groupEpoch;
        }
        return "stale_epoch: the message is for epoch " + messageEpoch + ", the group is at epoch " + groupEpoch;
    }

    /** The GroupContext of the view's epoch with the given tree hash (RFC 9420 section 8.1). */
    static byte[] groupContext(GroupView view, byte[] treeHash) {
        int id = MlsSuite.SUITE.getSuiteID();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {0, 1, (byte) (id >>> 8), (byte) id});
        out.writeBytes(MlsReader.opaqueOf(view.groupId()));
        long e = view.epoch();
        for (int i = 7; i >= 0; i--) {
            out.write((int) (e >>> (8 * i)));
        }
        out.writeBytes(MlsReader.opaqueOf(treeHash));
        out.writeBytes(MlsReader.opaqueOf(view.confirmedTranscriptHash()));
        out.writeBytes(MlsReader.opaqueOf(view.extensions()));
        return out.toByteArray();
    }

    static List<Member> members(TreeKEMPublicKey tree) throws MlsWireException {
        List<Member> out = new ArrayList<>();
        long leaves = tree.getSize().leafCount();
        for (int i = 0; i < leaves; i++) {
            LeafNode leaf = tree.getLeafNode(new LeafIndex(i));
            if (leaf != null) {
                out.add(new Member(i, DeviceCredential.decode(leaf.getCredential().getIdentity()), leaf.getSignatureKey()));
            }
        }
        return out;
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
