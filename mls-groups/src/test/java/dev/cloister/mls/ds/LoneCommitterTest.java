package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.wire.MlsMessages;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A commit that leaves its committer alone (the other member of a two-person group kicked, several
 * removed down to one, a group of one committing nothing, the only member rejoining by external
 * commit) goes through the delivery service: it carries an update path with no nodes, the server
 * accepts it and its view matches the committer's, and the committer goes on adding members and
 * chatting with them. Without a path, or with nodes where there is no one to encrypt to, the
 * server refuses it.
 */
class LoneCommitterTest {
    private static final byte[] HI = "hi".getBytes(StandardCharsets.UTF_8);

    @Test
    void theLastMemberCommitsTheRemoveOfTheOtherAndGoesOn() throws Exception {
        GroupHarness h = new GroupHarness("lone", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        byte[] bobsKey = bob.sframeBaseKey();

        DeliveryService.Proposed kick = h.ds.proposeRemove(h.view, bob.identity().credential()).value();
        h.view = kick.view();
        h.broadcastProposal(kick.message());
        GroupMember.CommitBundle bundle = alice.commit();
        MlsMessages.Commit commit = MlsMessages.parsePublicMessage(bundle.commit()).commit();
        assertThat(commit.hasPath()).isTrue();
        assertThat(commit.pathLeaf().parentHash()).isEmpty();
        assertThat(bundle.welcome()).isNull();
        DeliveryService.CommitAccepted accepted = h.accept(bundle.commit());
        assertThat(accepted.removed()).containsExactly(bob.identity().credential());
        assertThat(bob.status()).isEqualTo(GroupMember.Status.REMOVED);
        h.members.remove(bob.identity().credential());
        assertServerAgrees(h, alice);
        assertThat(alice.sframeBaseKey()).isNotEqualTo(bobsKey);

        // The group goes on: two joiners, chat both ways, and a normal Remove later.
        GroupMember carol = h.join(DeviceIdentity.generate("carol", "d"), alice);
        assertChat(alice, carol);
        GroupMember dave = h.join(DeviceIdentity.generate("dave", "d"), carol);
        assertChat(dave, alice);
        h.remove(carol.identity().credential(), dave);
        assertConverged(h);
        assertServerAgrees(h, alice);
    }

    @Test
    void theMemberAtTheLastLeafIsLeftAloneWhenLeafZeroIsRemoved() throws Exception {
        GroupHarness h = new GroupHarness("lone-right", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        assertThat(bob.leafIndex()).isEqualTo(1);

        h.remove(alice.identity().credential(), bob);
        assertThat(alice.status()).isEqualTo(GroupMember.Status.REMOVED);
        assertThat(bob.members()).containsOnlyKeys(1);
        assertServerAgrees(h, bob);

        GroupMember carol = h.join(DeviceIdentity.generate("carol", "d"), bob);
        assertThat(carol.leafIndex()).isZero();
        assertChat(carol, bob);
        assertConverged(h);
    }

    @Test
    void aRemoveAndAnAddInOneCommitLeaveTwo() throws Exception {
        GroupHarness h = new GroupHarness("swap", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        DeviceIdentity carol = DeviceIdentity.generate("carol", "d");
        KeyPackageBundle kp = carol.newKeyPackage(false);

        propose(h, h.ds.proposeRemove(h.view, bob.identity().credential()));
        propose(h, h.ds.proposeAdd(h.view, kp.message(), carol.credential()));
        GroupMember.CommitBundle bundle = alice.commit();
        DeliveryService.CommitAccepted accepted = h.accept(bundle.commit());
        assertThat(accepted.joiners()).containsExactly(carol.credential());
        assertThat(accepted.removed()).containsExactly(bob.identity().credential());
        h.members.remove(bob.identity().credential());
        GroupMember c = GroupMember.join(carol, List.of(kp), bundle.welcome());
        h.members.put(carol.credential(), c);
        assertThat(c.leafIndex()).isEqualTo(1);
        assertConverged(h);
        assertChat(c, alice);
    }

    @Test
    void aGroupOfOneCommitsNothingAndGoesOn() throws Exception {
        GroupHarness h = new GroupHarness("solo", "alice");
        GroupMember alice = h.first();
        for (int i = 0; i < 2; i++) {
            byte[] before = h.view.ratchetTree();
            h.accept(alice.commit().commit());
            assertThat(h.view.ratchetTree()).as("the commit renews the lone leaf").isNotEqualTo(before);
            assertServerAgrees(h, alice);
        }
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), alice);
        assertChat(bob, alice);
    }

    @Test
    void severalRemovedAtOnceDownToOne() throws Exception {
        GroupHarness h = new GroupHarness("purge", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        GroupMember carol = h.join(DeviceIdentity.generate("carol", "d"), null);
        GroupMember dave = h.join(DeviceIdentity.generate("dave", "d"), null);
        assertThat(carol.leafIndex()).isEqualTo(2);

        // Leaf 0, the leaf beside carol and the last leaf go in one commit by carol.
        for (GroupMember gone : List.of(alice, bob, dave)) {
            propose(h, h.ds.proposeRemove(h.view, gone.identity().credential()));
        }
        DeliveryService.CommitAccepted accepted = h.accept(carol.commit().commit());
        assertThat(accepted.removed()).hasSize(3);
        for (GroupMember gone : List.of(alice, bob, dave)) {
            assertThat(gone.status()).isEqualTo(GroupMember.Status.REMOVED);
            h.members.remove(gone.identity().credential());
        }
        assertServerAgrees(h, carol);

        GroupMember erin = h.join(DeviceIdentity.generate("erin", "d"), carol);
        assertThat(erin.leafIndex()).isZero();
        assertChat(carol, erin);
        assertConverged(h);
    }

    @Test
    void aLoneCommitSurvivesARestartBeforeTheServerAnswers() throws Exception {
        GroupHarness h = new GroupHarness("lone-restart", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        propose(h, h.ds.proposeRemove(h.view, bob.identity().credential()));
        byte[] commit = alice.commit().commit();

        GroupMember restored = GroupMember.fromBytes(alice.identity(), alice.toBytes());
        h.members.put(alice.identity().credential(), restored);
        h.accept(commit);
        h.members.remove(bob.identity().credential());
        assertThat(restored.epoch()).isEqualTo(h.view.epoch());
        assertServerAgrees(h, restored);
        GroupMember carol = h.join(DeviceIdentity.generate("carol", "d"), restored);
        assertChat(restored, carol);
    }

    @Test
    void aPendingDeviceJoinsTheLoneMemberByExternalCommit() throws Exception {
        GroupHarness h = new GroupHarness("lone-external", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        h.remove(bob.identity().credential(), alice);
        byte[] groupInfo = alice.groupInfo();
        assertThat(h.ds.checkGroupInfo(h.view, groupInfo).accepted()).isTrue();

        DeviceIdentity carol = DeviceIdentity.generate("carol", "d");
        propose(h, h.ds.proposeAdd(h.view, carol.newKeyPackage(false).message(), carol.credential()));
        GroupMember.ExternalJoin join = GroupMember.joinExternal(carol, groupInfo);
        GroupView view = h.view;
        DeliveryService.CommitAccepted accepted = h.ds.validateExternalCommit(view, join.commit(),
                d -> view.member(d) != null || d.equals(carol.credential())).value();
        h.view = accepted.view();
        assertThat(alice.processCommit(join.commit())).isEqualTo(GroupMember.CommitResult.APPLIED);
        assertThat(join.member().processCommit(join.commit())).isEqualTo(GroupMember.CommitResult.APPLIED_OWN);
        h.members.put(carol.credential(), join.member());
        assertConverged(h);
        assertChat(alice, join.member());
    }

    @Test
    void theOnlyMemberRejoinsByExternalCommit() throws Exception {
        GroupHarness h = new GroupHarness("lone-rejoin", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        h.remove(bob.identity().credential(), alice);

        // alice's device lost its state; it rejoins from the GroupInfo it uploaded, removing its old leaf.
        GroupMember.ExternalJoin rejoin = GroupMember.rejoinExternal(alice.identity(), alice.groupInfo());
        MlsMessages.Commit commit = MlsMessages.parsePublicMessage(rejoin.commit()).commit();
        assertThat(commit.pathLeaf().parentHash()).isEmpty();
        GroupView view = h.view;
        DeliveryService.CommitAccepted accepted = h.ds.validateExternalCommit(view, rejoin.commit(),
                d -> view.member(d) != null).value();
        assertThat(accepted.joiners()).containsExactly(alice.identity().credential());
        h.view = accepted.view();
        assertThat(alice.processCommit(rejoin.commit())).isEqualTo(GroupMember.CommitResult.REMOVED);
        assertThat(rejoin.member().processCommit(rejoin.commit())).isEqualTo(GroupMember.CommitResult.APPLIED_OWN);
        h.members.put(alice.identity().credential(), rejoin.member());
        assertServerAgrees(h, rejoin.member());

        GroupMember carol = h.join(DeviceIdentity.generate("carol", "d"), rejoin.member());
        assertChat(carol, rejoin.member());
        assertConverged(h);
    }

    @Test
    void theServerStillWantsAPathAndANodelessOneOnlyFromALoneCommitter() throws Exception {
        GroupHarness h = new GroupHarness("lone-forged", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        GroupMember carol = h.join(DeviceIdentity.generate("carol", "d"), null);

        // Three members, carol kicked: alice is not alone, so her path must have nodes.
        propose(h, h.ds.proposeRemove(h.view, carol.identity().credential()));
        byte[] withNodes = alice.commit().commit();
        byte[] nodeless = MlsForge.rewritePathLeaf(withoutPathNodes(withNodes, h.view, alice.identity()), h.view,
                alice.identity(), l -> l.parentHash = new byte[0]);
        assertRefused(h, nodeless, "invalid commit");
        assertRefused(h, withoutPath(withNodes, h.view, alice.identity()), "commit needs an update path");
        h.accept(withNodes);
        h.members.remove(carol.identity().credential());

        // Two members, bob kicked: alice is alone; her path must be there, nodeless, with an empty parent hash.
        propose(h, h.ds.proposeRemove(h.view, bob.identity().credential()));
        byte[] lone = alice.commit().commit();
        assertRefused(h, withoutPath(lone, h.view, alice.identity()), "commit needs an update path");
        assertRefused(h, MlsForge.rewritePathLeaf(lone, h.view, alice.identity(), l -> l.parentHash = new byte[32]),
                "must have no nodes and an empty parent hash");
        assertThat(h.ds.validateCommit(h.view, MlsForge.rewritePathLeaf(lone, h.view, alice.identity(), l -> { }))
                .accepted()).as("the forge itself is sound").isTrue();
        h.accept(lone);
        h.members.remove(bob.identity().credential());
        assertServerAgrees(h, alice);

        // A group of one committing nothing needs a path too.
        assertRefused(h, withoutPath(alice.commit().commit(), h.view, alice.identity()), "commit needs an update path");
    }

    private static void propose(GroupHarness h, Decision<DeliveryService.Proposed> d) throws Exception {
        assertThat(d.accepted()).as(d.reason()).isTrue();
        h.view = d.value().view();
        h.broadcastProposal(d.value().message());
    }

    private static void assertRefused(GroupHarness h, byte[] commit, String reason) {
        Decision<DeliveryService.CommitAccepted> d = h.ds.validateCommit(h.view, commit);
        assertThat(d.accepted()).as("accepted a commit that should fail with: " + reason).isFalse();
        assertThat(d.reason()).contains(reason);
    }

    /** The member's tree, GroupContext and confirmation tag are the server's: its GroupInfo passes the check. */
    private static void assertServerAgrees(GroupHarness h, GroupMember m) throws Exception {
        assertThat(m.epoch()).isEqualTo(h.view.epoch());
        List<DeviceCredential> serverMembers = h.view.members().stream().map(GroupView.Member::device).toList();
        assertThat(m.members().values()).containsExactlyInAnyOrderElementsOf(serverMembers);
        Decision<GroupView> info = h.ds.checkGroupInfo(h.view, m.groupInfo());
        assertThat(info.accepted()).as(info.reason()).isTrue();
    }

    private static void assertConverged(GroupHarness h) throws Exception {
        GroupMember first = h.first();
        for (GroupMember m : h.members.values()) {
            assertServerAgrees(h, m);
            assertThat(m.epochAuthenticator()).isEqualTo(first.epochAuthenticator());
            assertThat(m.sframeBaseKey()).isEqualTo(first.sframeBaseKey());
        }
    }

    private static void assertChat(GroupMember a, GroupMember b) throws Exception {
        assertThat(b.unprotect(a.protect(HI))).isEqualTo(HI);
        assertThat(a.unprotect(b.protect(HI))).isEqualTo(HI);
    }

    /** The commit with its optional UpdatePath absent, re-signed by the committer. */
    private static byte[] withoutPath(byte[] commit, GroupView view, DeviceIdentity committer) throws Exception {
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(commit);
        byte[] framed = pm.framedContent();
        int cut = framed.length - pm.commit().updatePath().length - 1;
        assertThat(framed[cut]).isEqualTo((byte) 1);
        byte[] out = Arrays.copyOf(framed, cut + 1);
        out[cut] = 0;
        return MlsForge.resign(out, pm, view, committer.signaturePrivateKey());
    }

    /** The commit with its UpdatePath's node list emptied, re-signed by the committer. */
    private static byte[] withoutPathNodes(byte[] commit, GroupView view, DeviceIdentity committer) throws Exception {
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(commit);
        byte[] framed = pm.framedContent();
        int nodesAt = framed.length - pm.commit().updatePath().length + pm.commit().pathLeaf().encoded().length;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(framed, 0, nodesAt);
        out.write(0);
        return MlsForge.resign(out.toByteArray(), pm, view, committer.signaturePrivateKey());
    }
}
