package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Hostile commits: each is rejected with a clear reason and leaves the server's view unchanged. */
class DeliveryServiceAdversarialTest {
    private GroupHarness h;
    private GroupMember alice;
    private GroupMember bob;
    private GroupMember carol;
    private GroupMember dave;

    @BeforeEach
    void fourMembers() throws Exception {
        h = new GroupHarness("adv", "alice");
        alice = h.first();
        bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        carol = h.join(DeviceIdentity.generate("carol", "d"), null);
        dave = h.join(DeviceIdentity.generate("dave", "d"), null);
    }

    /** Rejected with {@code reason} and no change to the view. */
    private void assertRejected(byte[] commit, String reason) {
        GroupView before = h.view;
        GroupView copy = new GroupView(before.groupId(), before.epoch(), before.ratchetTree(),
                before.confirmedTranscriptHash(), before.interimTranscriptHash(), before.extensions(),
                before.members(), before.pending());
        Decision<DeliveryService.CommitAccepted> d = h.ds.validateCommit(before, commit);
        assertThat(d.accepted()).as("accepted a hostile commit").isFalse();
        assertThat(d.reason()).contains(reason);
        assertThat(before).isEqualTo(copy);
    }

    /** A pending Add of a new device, seen by every member. */
    private void proposeAddOfNewDevice(String user) throws Exception {
        DeviceIdentity eve = DeviceIdentity.generate(user, "d");
        DeliveryService.Proposed p = h.ds.proposeAdd(h.view, eve.newKeyPackage(false).message(), eve.credential()).value();
        h.view = p.view();
        h.broadcastProposal(p.message());
    }

    private int senderOffset() {
        return 4 + 1 + h.groupId.length + 8 + 1;
    }

    @Test
    void forgedSignature() throws Exception {
        proposeAddOfNewDevice("erin");
        byte[] commit = bob.commit().commit();
        // The signature sits just before the confirmation tag and membership tag (32 + 1 bytes each).
        byte[] forged = commit.clone();
        forged[forged.length - 2 * 33 - 10] ^= 1;
        assertRejected(forged, "signature does not verify");
        // Claiming to be another member: carol's leaf, bob's signature.
        byte[] impersonated = commit.clone();
        impersonated[senderOffset() + 3] = (byte) carol.leafIndex();
        // Caught by the update path's leaf (bob's credential at carol's leaf) before the signature.
        assertRejected(impersonated, "may not change its own credential");
        h.accept(commit);
    }

    @Test
    void wrongEpochAndReplay() throws Exception {
        proposeAddOfNewDevice("erin");
        byte[] commit = bob.commit().commit();
        byte[] wrongEpoch = commit.clone();
        wrongEpoch[4 + 1 + h.groupId.length + 7] ^= 5;
        assertRejected(wrongEpoch, "wrong epoch");

        // Two members race; the first valid commit wins and the second (and a replay) is stale.
        byte[] rival = carol.commit().commit();
        h.accept(commit);
        carol.discardPendingCommit();
        assertRejected(rival, "wrong epoch");
        assertRejected(commit, "wrong epoch");
    }

    @Test
    void commitMissingOrAddingProposals() throws Exception {
        DeviceIdentity erin = DeviceIdentity.generate("erin", "d");
        DeviceIdentity frank = DeviceIdentity.generate("frank", "d");
        DeliveryService.Proposed first = h.ds.proposeAdd(h.view, erin.newKeyPackage(false).message(), erin.credential()).value();
        DeliveryService.Proposed second = h.ds.proposeAdd(first.view(), frank.newKeyPackage(false).message(), frank.credential()).value();
        h.view = second.view();
        bob.processProposal(first.message());
        assertRejected(bob.commit().commit(), "leaves out 1 pending proposal");
        bob.discardPendingCommit();

        // A proposal the server signed for a view it then discarded is not pending.
        GroupMember greedy = carol;
        DeviceIdentity mallory = DeviceIdentity.generate("mallory", "d");
        DeliveryService.Proposed stray = h.ds.proposeAdd(h.view, mallory.newKeyPackage(false).message(), mallory.credential()).value();
        greedy.processProposal(first.message());
        greedy.processProposal(second.message());
        greedy.processProposal(stray.message());
        assertRejected(greedy.commit().commit(), "did not issue");
        greedy.discardPendingCommit();

        // The honest commit of exactly the pending pair still goes through.
        dave.processProposal(first.message());
        dave.processProposal(second.message());
        GroupMember.CommitBundle ok = dave.commit();
        Decision<DeliveryService.CommitAccepted> d = h.ds.validateCommit(h.view, ok.commit());
        assertThat(d.value().joiners()).containsExactly(erin.credential(), frank.credential());
    }

    @Test
    void commitFromRemovedOrUnknownLeaf() throws Exception {
        byte[] staleFromBob = bob.commit().commit();
        bob.discardPendingCommit();
        // Bob (leaf 1) is removed; his commit made before removal is refused.
        h.remove(bob.identity().credential(), alice);
        assertRejected(staleFromBob, "wrong epoch");
        assertThat(h.view.memberAt(1)).isNull();

        byte[] commit = carol.commit().commit();
        byte[] fromBlank = commit.clone();
        int off = senderOffset();
        fromBlank[off] = 0;
        fromBlank[off + 1] = 0;
        fromBlank[off + 2] = 0;
        fromBlank[off + 3] = 1;
        assertRejected(fromBlank, "not a member");
        byte[] outOfBounds = commit.clone();
        outOfBounds[off + 2] = 3;
        assertRejected(outOfBounds, "outside the tree");
        h.accept(commit);
    }

    @Test
    void removedMemberCannotCommitItsOwnRemoval() throws Exception {
        DeliveryService.Proposed p = h.ds.proposeRemove(h.view, carol.identity().credential()).value();
        h.view = p.view();
        h.broadcastProposal(p.message());
        assertThat(carol.removalProposed()).isTrue();
        byte[] c = bob.commit().commit();
        assertThat(h.ds.validateCommit(h.view, c).accepted()).isTrue();
    }

    @Test
    void truncatedOversizedAndGarbageMessages() throws Exception {
        proposeAddOfNewDevice("erin");
        byte[] commit = bob.commit().commit();
        for (int cut : new int[] {0, 1, 3, 5, 12, 20, commit.length / 3, commit.length / 2, commit.length - 40, commit.length - 1}) {
            assertRejected(Arrays.copyOf(commit, cut), cut == 0 ? "empty" : "malformed");
        }
        byte[] trailing = Arrays.copyOf(commit, commit.length + 1);
        assertRejected(trailing, "trailing");
        assertRejected(new byte[300 * 1024], "exceeds");
        // A small message whose vector claims a gigabyte is refused before anything is allocated.
        byte[] huge = commit.clone();
        int lenAt = 4;
        huge[lenAt] = (byte) 0xbf;
        assertRejected(huge, "malformed");
        Random random = new Random(1);
        for (int i = 0; i < 200; i++) {
            byte[] garbage = new byte[1 + random.nextInt(600)];
            random.nextBytes(garbage);
            assertRejected(garbage, "");
            byte[] flipped = commit.clone();
            flipped[random.nextInt(flipped.length)] ^= (byte) (1 + random.nextInt(255));
            Decision<DeliveryService.CommitAccepted> d = h.ds.validateCommit(h.view, flipped);
            // A flip in the membership or confirmation tag is beyond what the server can check;
            // anything it accepts must still be the honest commit's content.
            if (d.accepted()) {
                assertThat(Arrays.copyOf(flipped, flipped.length - 66)).isEqualTo(Arrays.copyOf(commit, commit.length - 66));
            }
        }
        h.accept(commit);
        assertThat(h.view.epoch()).isEqualTo(4);
    }

    @Test
    void proposalsKeepOneLeafPerDevice() throws Exception {
        DeviceIdentity bobAgain = DeviceIdentity.restore("bob", "d", bob.identity().signaturePrivateKey());
        assertThat(h.ds.proposeAdd(h.view, bobAgain.newKeyPackage(false).message(), bobAgain.credential()).reason())
                .contains("already has a leaf");
        DeviceIdentity erin = DeviceIdentity.generate("erin", "d");
        byte[] kp = erin.newKeyPackage(false).message();
        assertThat(h.ds.proposeAdd(h.view, kp, DeviceIdentity.generate("zed", "d").credential()).reason())
                .contains("belongs to");
        GroupView once = h.ds.proposeAdd(h.view, kp, erin.credential()).value().view();
        assertThat(h.ds.proposeAdd(once, erin.newKeyPackage(false).message(), erin.credential()).reason())
                .contains("already being added");
        byte[] badKp = kp.clone();
        badKp[badKp.length - 5] ^= 1;
        assertThat(h.ds.proposeAdd(h.view, badKp, erin.credential()).reason()).contains("signature");
    }

    @Test
    void membersRefuseProposalsNotFromTheServer() throws Exception {
        DeliveryServiceKey rogue = DeliveryServiceKey.generate("rogue");
        DeliveryService rogueDs = new DeliveryService(rogue);
        DeviceIdentity eve = DeviceIdentity.generate("eve", "d");
        byte[] msg = rogueDs.proposeAdd(h.view, eve.newKeyPackage(false).message(), eve.credential()).value().message();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> alice.processProposal(msg))
                .hasMessageContaining("refused");
        assertThat(alice.pendingProposalCount()).isZero();
    }
}
