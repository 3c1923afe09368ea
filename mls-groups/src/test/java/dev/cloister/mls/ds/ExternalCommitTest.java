package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.function.Predicate;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.Group;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A device whose Add is pending joins by external commit from the last committer's GroupInfo;
 * the server validates it like any commit, members follow, and the group goes on. Forged and
 * stale external commits are refused with their reason.
 */
class ExternalCommitTest {
    private GroupHarness h;
    private GroupMember alice;
    private GroupMember bob;
    private GroupMember carol;
    private DeviceIdentity dave;
    private byte[] groupInfo;

    @BeforeEach
    void threeMembersAndAPendingAdd() throws Exception {
        h = new GroupHarness("external", "alice");
        alice = h.first();
        bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        carol = h.join(DeviceIdentity.generate("carol", "d"), null);
        // alice committed the last epoch and uploaded its GroupInfo beside the commit.
        groupInfo = alice.groupInfo();
        assertThat(h.ds.checkGroupInfo(h.view, groupInfo).accepted()).isTrue();
        dave = DeviceIdentity.generate("dave", "d");
        DeliveryService.Proposed add = h.ds.proposeAdd(h.view, dave.newKeyPackage(false).message(), dave.credential()).value();
        h.view = add.view();
        h.broadcastProposal(add.message());
    }

    /** The server's rule: a device with a pending Add, or one on the roster. */
    private Predicate<DeviceCredential> pendingOrMember(GroupView view) {
        return d -> view.member(d) != null || view.pending().stream()
                .anyMatch(p -> p.kind() == GroupView.ProposalKind.ADD && p.device().equals(d));
    }

    private Decision<DeliveryService.CommitAccepted> validate(byte[] commit) {
        return h.ds.validateExternalCommit(h.view, commit, pendingOrMember(h.view));
    }

    private void assertRefused(byte[] commit, String reason) {
        GroupView before = h.view;
        Decision<DeliveryService.CommitAccepted> d = validate(commit);
        assertThat(d.accepted()).as("accepted a hostile external commit").isFalse();
        assertThat(d.reason()).contains(reason);
        assertThat(h.view).isEqualTo(before);
    }

    /** Accepts at the server and applies everywhere; returns the joiner's member. */
    private GroupMember acceptJoin(GroupMember.ExternalJoin join) throws Exception {
        DeliveryService.CommitAccepted accepted = validate(join.commit()).value();
        assertThat(accepted.view().pending()).isEmpty();
        h.view = accepted.view();
        for (GroupMember m : h.members.values()) {
            assertThat(m.processCommit(join.commit())).isIn(GroupMember.CommitResult.APPLIED, GroupMember.CommitResult.REMOVED);
        }
        assertThat(join.member().processCommit(join.commit())).isEqualTo(GroupMember.CommitResult.APPLIED_OWN);
        h.members.values().removeIf(m -> m.status() != GroupMember.Status.ACTIVE);
        h.members.put(join.member().identity().credential(), join.member());
        return join.member();
    }

    private void assertConverged() throws Exception {
        for (GroupMember m : h.members.values()) {
            assertThat(m.epoch()).isEqualTo(h.view.epoch());
            assertThat(m.epochAuthenticator()).isEqualTo(alice.epochAuthenticator());
            assertThat(m.sframeBaseKey()).isEqualTo(alice.sframeBaseKey());
            assertThat(m.members().values()).containsExactlyInAnyOrderElementsOf(
                    h.view.members().stream().map(GroupView.Member::device).toList());
        }
    }

    @Test
    void pendingDeviceJoinsExternallyAndTheGroupGoesOn() throws Exception {
        GroupMember.ExternalJoin join = GroupMember.joinExternal(dave, groupInfo);
        assertThat(join.member().externalJoinPending()).isTrue();
        assertThatThrownBy(() -> join.member().protect(new byte[1])).hasMessageContaining("not accepted yet");
        DeliveryService.CommitAccepted accepted = validate(join.commit()).value();
        assertThat(accepted.joiners()).containsExactly(dave.credential());
        assertThat(accepted.removed()).isEmpty();
        GroupMember d = acceptJoin(join);
        assertThat(d.externalJoinPending()).isFalse();
        assertThat(h.view.epoch()).isEqualTo(3);
        assertThat(h.view.member(dave.credential()).leaf()).isEqualTo(d.leafIndex());
        assertConverged();
        // The pending Add lapsed everywhere: members hold no proposals.
        assertThat(bob.pendingProposalCount()).isZero();

        byte[] hello = bob.protect("welcome dave".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(d.unprotect(hello), StandardCharsets.UTF_8)).isEqualTo("welcome dave");
        byte[] reply = d.protect("thanks".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(carol.unprotect(reply), StandardCharsets.UTF_8)).isEqualTo("thanks");

        // Members keep going: the joiner commits the next Add, then a member commits a Remove.
        GroupMember erin = h.join(DeviceIdentity.generate("erin", "d"), d);
        h.remove(carol.identity().credential(), erin);
        assertConverged();
        // A replay of the accepted external commit is stale.
        assertRefused(join.commit(), "wrong epoch");
    }

    @Test
    void forgedExternalCommitsAreRefused() throws Exception {
        GroupMember.ExternalJoin join = GroupMember.joinExternal(dave, groupInfo);
        byte[] commit = join.commit();

        byte[] badSignature = commit.clone();
        badSignature[badSignature.length - 33 - 10] ^= 1;
        assertRefused(badSignature, "commit signature does not verify");

        assertThat(h.ds.validateExternalCommit(h.view, commit, d -> false).reason()).contains("dave/d may not join");
        // The member-commit entry point keeps refusing external commits.
        assertThat(h.ds.validateCommit(h.view, commit).reason()).contains("may not join");

        // Someone else claiming dave's credential with their own key.
        DeviceIdentity impostor = DeviceIdentity.generate("dave", "d");
        assertRefused(GroupMember.joinExternal(impostor, groupInfo).commit(), "signed with a key other than dave/d's");
        // A device that is neither pending nor on the roster.
        DeviceIdentity stranger = DeviceIdentity.generate("zed", "d");
        assertRefused(GroupMember.joinExternal(stranger, groupInfo).commit(), "zed/d may not join");

        // bcmls lets a joiner remove anyone; the server and the members do not.
        byte[] removesCarol = bcmlsExternalJoin(dave, groupInfo, carol.leafIndex());
        assertRefused(removesCarol, "removes carol/d, not the joiner's own earlier leaf");
        assertThatThrownBy(() -> bob.processCommit(removesCarol)).hasMessageContaining("other than the joiner's own");
        // A member joining again without removing its leaf.
        assertRefused(bcmlsExternalJoin(bob.identity(), groupInfo, -1), "already has leaf 1; a rejoin must remove it");

        // An ExternalInit whose kem_output is a low-order point, validly re-signed by dave.
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(commit);
        byte[] kem = pm.commit().proposals().get(0).proposal().kemOutput();
        byte[] framed = pm.framedContent().clone();
        System.arraycopy(new byte[kem.length], 0, framed, MlsForge.indexOf(framed, kem), kem.length);
        assertRefused(MlsForge.resign(framed, pm, h.view, dave.signaturePrivateKey()), "kem_output is not a usable X25519");

        // Stale: the group moves on (bob commits dave's Add), and the external commit is for the old epoch.
        byte[] stale = GroupMember.joinExternal(dave, groupInfo).commit();
        h.accept(bob.commit().commit());
        assertRefused(stale, "wrong epoch");
        // After the Welcome-less Add was committed, dave holds a leaf: a fresh external join is refused by dave's own client.
        assertThatThrownBy(() -> GroupMember.joinExternal(dave, h.first().groupInfo()))
                .hasMessageContaining("already has leaf");
    }

    @Test
    void theServerChecksUploadedGroupInfo() throws Exception {
        // Any member may sign it; it must describe the current epoch exactly.
        assertThat(h.ds.checkGroupInfo(h.view, carol.groupInfo()).accepted()).isTrue();
        byte[] old = groupInfo;
        h.accept(bob.commit().commit());
        assertThat(h.ds.checkGroupInfo(h.view, old).reason()).contains("GroupInfo is for epoch 2, group is at 3");
        byte[] current = bob.groupInfo();
        assertThat(h.ds.checkGroupInfo(h.view, current).accepted()).isTrue();
        byte[] forged = current.clone();
        forged[forged.length - 5] ^= 1;
        assertThat(h.ds.checkGroupInfo(h.view, forged).reason()).contains("signature does not verify");
        assertThat(h.ds.checkGroupInfo(h.view, java.util.Arrays.copyOf(current, 40)).reason()).startsWith("malformed GroupInfo");
        // A GroupInfo of another group at the same epoch.
        GroupHarness other = new GroupHarness("other", "zoe");
        assertThat(h.ds.checkGroupInfo(h.view, other.first().groupInfo()).reason()).contains("another group");
    }

    @Test
    void malformedGroupInfoIsRefusedByTheJoiner() throws Exception {
        assertThatThrownBy(() -> GroupMember.joinExternal(dave, new byte[] {0, 1, 0, 4})).hasMessageContaining("malformed GroupInfo");
        byte[] forged = groupInfo.clone();
        forged[forged.length - 5] ^= 1;
        assertThatThrownBy(() -> GroupMember.joinExternal(dave, forged)).hasMessageContaining("GroupInfo signature does not verify");
        byte[] trailing = java.util.Arrays.copyOf(groupInfo, groupInfo.length + 1);
        assertThatThrownBy(() -> GroupMember.joinExternal(dave, trailing)).hasMessageContaining("trailing");
    }

    @Test
    void aMemberThatLostItsStateRejoins() throws Exception {
        // Bob's device lost its group state; it still has its identity key and leaf 1.
        DeviceIdentity bobAgain = DeviceIdentity.restore("bob", "d", bob.identity().signaturePrivateKey());
        GroupMember.ExternalJoin rejoin = GroupMember.rejoinExternal(bobAgain, groupInfo);
        DeliveryService.CommitAccepted accepted = validate(rejoin.commit()).value();
        assertThat(accepted.joiners()).containsExactly(bobAgain.credential());
        GroupMember newBob = acceptJoin(rejoin);
        assertThat(bob.status()).isEqualTo(GroupMember.Status.REMOVED);
        assertThat(newBob.leafIndex()).isEqualTo(1);
        assertConverged();

        // With a blank leaf left of carol's, a rejoin with the same key would land elsewhere: refused on both sides.
        h.remove(alice.identity().credential(), carol);
        alice = newBob;
        byte[] info = carol.groupInfo();
        DeviceIdentity carolAgain = DeviceIdentity.restore("carol", "d", carol.identity().signaturePrivateKey());
        assertThatThrownBy(() -> GroupMember.rejoinExternal(carolAgain, info)).hasMessageContaining("cannot rejoin");
        assertRefused(bcmlsExternalJoin(carolAgain, info, carol.leafIndex()), "must land on its old leaf");
    }

    /** An external commit straight from bcmls, which removes whichever leaf it is told to (or none for -1). */
    private static byte[] bcmlsExternalJoin(DeviceIdentity device, byte[] groupInfo, int removePrior) throws Exception {
        MLSMessage info = (MLSMessage) MLSInputStream.decode(groupInfo, MLSMessage.class);
        byte[] leafSecret = new byte[32];
        new SecureRandom().nextBytes(leafSecret);
        Group.GroupWithMessage gwm = Group.externalJoin(new Secret(leafSecret),
                MlsSuite.SUITE.deserializeSignaturePrivateKey(device.signaturePrivateKey()),
                keyPackageOf(device), info.groupInfo, null, new Group.MessageOptions(false, new byte[0], 0),
                removePrior < 0 ? null : new LeafIndex(removePrior), new HashMap<>());
        return MLSOutputStream.encode(gwm.message);
    }

    private static org.bouncycastle.mls.codec.KeyPackage keyPackageOf(DeviceIdentity device) throws Exception {
        byte[] message = device.newKeyPackage(false).message();
        return ((MLSMessage) MLSInputStream.decode(message, MLSMessage.class)).keyPackage;
    }
}
