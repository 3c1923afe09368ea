package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.codec.Proposal;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The delivery service refuses Adds that honest members refuse. Before {@link KeyPackageCheck},
 * such an Add became a pending proposal no member could process or commit, so every later commit
 * failed the "every pending proposal" rule: one malicious upload wedged the group.
 */
class DeliveryServiceKeyPackageTest {
    private GroupHarness h;
    private GroupMember alice;
    private GroupMember bob;
    private GroupMember carol;
    private final Instant now = Instant.now();

    @BeforeEach
    void threeMembers() throws Exception {
        h = new GroupHarness("kp", "alice");
        alice = h.first();
        bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        carol = h.join(DeviceIdentity.generate("carol", "d"), null);
    }

    private MlsMessages.LeafNode leafOf(GroupMember m) throws Exception {
        return MlsMessages.parseRatchetTree(h.view.ratchetTree()).get(m.leafIndex());
    }

    /** The Add the server used to issue for any well-signed package, bypassing today's checks. */
    private byte[] unchecked(byte[] keyPackageMessage, GroupView view) throws Exception {
        MLSMessage kp = (MLSMessage) MLSInputStream.decode(keyPackageMessage, MLSMessage.class);
        return MLSOutputStream.encode(MLSMessage.externalProposal(MlsSuite.SUITE, view.groupId(), view.epoch(),
                Proposal.add(kp.keyPackage), 0, h.serverKey.privateKey()));
    }

    /** The view the old server would have moved to after issuing {@code proposal}. */
    private GroupView withPending(GroupView view, byte[] proposal, DeviceCredential device, byte[] keyPackageMessage)
            throws Exception {
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(proposal);
        byte[] ref = MlsSuite.SUITE.refHash(pm.authenticatedContent(), "MLS 1.0 Proposal Reference");
        List<GroupView.PendingProposal> pending = new ArrayList<>(view.pending());
        pending.add(new GroupView.PendingProposal(ref, GroupView.ProposalKind.ADD, device, -1, proposal,
                MlsMessages.parseKeyPackageMessage(keyPackageMessage).encoded()));
        return new GroupView(view.groupId(), view.epoch(), view.ratchetTree(), view.confirmedTranscriptHash(),
                view.interimTranscriptHash(), view.extensions(), view.members(), pending);
    }

    private MlsForge.KeyPackage forged(DeviceIdentity device, Consumer<MlsForge.KeyPackage> change) {
        MlsForge.KeyPackage kp = MlsForge.KeyPackage.honest(device, now);
        change.accept(kp);
        return kp;
    }

    @Test
    void badAddsNoLongerWedgeTheGroup() throws Exception {
        DeviceIdentity eve = DeviceIdentity.generate("eve", "d");
        byte[] aliceKey = leafOf(alice).encryptionKey();
        byte[] extensionType3 = forged(eve, kp -> kp.leaf.extensions = List.of(3)).build();
        List<byte[]> hostile = List.of(
                forged(eve, kp -> kp.initKey = kp.leaf.encryptionKey).build(),
                forged(eve, kp -> kp.leaf.encryptionKey = aliceKey).build(),
                forged(eve, kp -> kp.initKey = aliceKey).build(),
                extensionType3,
                forged(eve, kp -> {
                    kp.leaf.notBefore = now.minus(Duration.ofDays(40)).getEpochSecond();
                    kp.leaf.notAfter = now.minus(Duration.ofDays(1)).getEpochSecond();
                }).build());
        GroupView before = h.view;
        for (byte[] kp : hostile) {
            Decision<DeliveryService.Proposed> d = h.ds.proposeAdd(h.view, kp, eve.credential());
            assertThat(d.accepted()).as("server issued a hostile Add").isFalse();
            assertThat(h.view).isEqualTo(before);
        }

        // What the old server did with the init_key == encryption_key package: every member refuses
        // the Add, so no commit can reference it and the server refuses every commit without it.
        byte[] bad = hostile.get(0);
        byte[] issued = unchecked(bad, h.view);
        for (GroupMember m : List.of(alice, bob, carol)) {
            assertThatThrownBy(() -> m.processProposal(issued)).hasMessageContaining("proposal refused");
        }
        GroupView wedged = withPending(h.view, issued, eve.credential(), bad);
        byte[] commit = bob.commit().commit();
        assertThat(h.ds.validateCommit(wedged, commit).reason()).contains("leaves out 1 pending proposal");
        bob.discardPendingCommit();
        // Members refuse the other hostile packages' Adds too (bcmls checks the leaf extension is in the capabilities).
        byte[] withExtension = unchecked(extensionType3, h.view);
        assertThatThrownBy(() -> alice.processProposal(withExtension)).hasMessageContaining("proposal refused");

        // With the check, the group goes on: a real device joins in the next commit.
        GroupMember dave = h.join(DeviceIdentity.generate("dave", "d"), carol);
        assertThat(dave.epochAuthenticator()).isEqualTo(alice.epochAuthenticator()).isEqualTo(bob.epochAuthenticator());
    }

    @Test
    void addsMayNotShareKeysWithPendingAdds() throws Exception {
        DeviceIdentity erin = DeviceIdentity.generate("erin", "d");
        DeviceIdentity frank = DeviceIdentity.generate("frank", "d");
        MlsForge.KeyPackage first = MlsForge.KeyPackage.honest(erin, now);
        byte[] firstMessage = first.build();
        GroupView pending = h.ds.proposeAdd(h.view, firstMessage, erin.credential()).value().view();
        assertThat(h.ds.proposeAdd(pending, forged(frank, kp -> kp.leaf.encryptionKey = first.leaf.encryptionKey).build(),
                frank.credential()).reason()).contains("reuses a key of the pending Add of erin/d");
        assertThat(h.ds.proposeAdd(pending, forged(frank, kp -> kp.initKey = first.initKey).build(),
                frank.credential()).reason()).contains("reuses a key of the pending Add of erin/d");
        assertThat(h.ds.proposeAdd(pending, forged(frank, kp -> kp.initKey = first.leaf.encryptionKey).build(),
                frank.credential()).reason()).contains("reuses a key of the pending Add of erin/d");
        // Another device's credential on erin's signature key.
        assertThat(h.ds.proposeAdd(pending, forged(erin, kp -> kp.leaf.identity = frank.credential().encode()).build(),
                frank.credential()).reason()).contains("signature key already used by the pending Add of erin/d");
        assertThat(h.ds.proposeAdd(h.view, forged(bob.identity(), kp -> kp.leaf.identity = frank.credential().encode()).build(),
                frank.credential()).reason()).contains("signature key already used by bob/d");

        // Two Adds sharing an encryption key: members take each, but no one can commit both.
        byte[] twin = forged(frank, kp -> kp.leaf.encryptionKey = first.leaf.encryptionKey).build();
        for (byte[] p : List.of(unchecked(firstMessage, h.view), unchecked(twin, h.view))) {
            alice.processProposal(p);
        }
        assertThatThrownBy(alice::commit).hasMessageContaining("cannot commit");
    }

    @Test
    void registeredKeyAndServerClock() throws Exception {
        DeviceIdentity erin = DeviceIdentity.generate("erin", "d");
        byte[] kp = erin.newKeyPackage(false).message();
        assertThat(h.ds.proposeAdd(h.view, kp, erin.credential(), DeviceIdentity.generate("erin", "d").signaturePublicKey())
                .reason()).contains("registered key");
        assertThat(h.ds.proposeAdd(h.view, kp, erin.credential(), erin.signaturePublicKey()).accepted()).isTrue();
        DeliveryService late = new DeliveryService(h.serverKey, Clock.fixed(now.plus(Duration.ofDays(70)), ZoneOffset.UTC));
        assertThat(late.proposeAdd(h.view, kp, erin.credential()).reason()).contains("expired");
        DeliveryService early = new DeliveryService(h.serverKey, Clock.fixed(now.minus(Duration.ofHours(3)), ZoneOffset.UTC));
        assertThat(early.proposeAdd(h.view, kp, erin.credential()).reason()).contains("not valid yet");
    }

    @Test
    void commitPathLeafFollowsTheLeafRules() throws Exception {
        DeviceIdentity erin = DeviceIdentity.generate("erin", "d");
        MlsForge.KeyPackage erinKp = MlsForge.KeyPackage.honest(erin, now);
        DeliveryService.Proposed p = h.ds.proposeAdd(h.view, erinKp.build(), erin.credential()).value();
        h.view = p.view();
        h.broadcastProposal(p.message());
        byte[] commit = bob.commit().commit();
        DeviceIdentity committer = bob.identity();

        // Rewritten but unchanged: the forge itself is sound.
        assertThat(h.ds.validateCommit(h.view, MlsForge.rewritePathLeaf(commit, h.view, committer, l -> { })).accepted())
                .isTrue();
        assertPathRefused(commit, committer, l -> l.credentials = List.of(2), "update path leaf: capabilities do not list the basic credential type");
        assertPathRefused(commit, committer, l -> l.suites = List.of(2), "update path leaf: capabilities do not list cipher suite 0x0001");
        assertPathRefused(commit, committer, l -> l.extensions = List.of(3), "update path leaf: leaf node extension 0x0003 is not allowed");
        byte[] bobsOldKey = leafOf(bob).encryptionKey();
        assertPathRefused(commit, committer, l -> l.encryptionKey = bobsOldKey, "reuses an encryption key already in the tree");
        byte[] alicesKey = leafOf(alice).encryptionKey();
        assertPathRefused(commit, committer, l -> l.encryptionKey = alicesKey, "reuses an encryption key already in the tree");
        assertPathRefused(commit, committer, l -> l.encryptionKey = erinKp.leaf.encryptionKey, "reuses the encryption key of joiner erin/d");
        assertPathRefused(commit, committer, l -> l.source = MlsMessages.LEAF_SOURCE_UPDATE, "update path leaf must have source commit");
        // Honest members refuse a reused encryption key too: accepting it would split the group.
        byte[] reused = MlsForge.rewritePathLeaf(commit, h.view, committer, l -> l.encryptionKey = bobsOldKey);
        assertThatThrownBy(() -> carol.processCommit(reused)).isInstanceOf(Exception.class);
        h.accept(commit);
        assertThat(carol.epochAuthenticator()).isEqualTo(bob.epochAuthenticator());
    }

    private void assertPathRefused(byte[] commit, DeviceIdentity committer, Consumer<MlsForge.Leaf> edit, String reason)
            throws Exception {
        byte[] forged = MlsForge.rewritePathLeaf(commit, h.view, committer, edit);
        Decision<DeliveryService.CommitAccepted> d = h.ds.validateCommit(h.view, forged);
        assertThat(d.accepted()).as("accepted a commit whose path leaf breaks: " + reason).isFalse();
        assertThat(d.reason()).contains(reason);
    }
}
