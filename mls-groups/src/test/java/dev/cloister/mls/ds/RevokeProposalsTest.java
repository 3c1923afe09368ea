package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Revoked proposals leave the server's view and every member's state; the group converges without them. */
class RevokeProposalsTest {
    private GroupHarness h;
    private GroupMember alice;
    private GroupMember bob;
    private GroupMember carol;

    @BeforeEach
    void threeMembers() throws Exception {
        h = new GroupHarness("revoke", "alice");
        alice = h.first();
        bob = h.join(DeviceIdentity.generate("bob", "d"), null);
        carol = h.join(DeviceIdentity.generate("carol", "d"), null);
    }

    private void assertConverged(GroupMember... members) throws Exception {
        for (GroupMember m : members) {
            assertThat(m.epoch()).isEqualTo(h.view.epoch());
            assertThat(m.epochAuthenticator()).isEqualTo(alice.epochAuthenticator());
            assertThat(m.members().values()).containsExactlyInAnyOrderElementsOf(
                    h.view.members().stream().map(GroupView.Member::device).toList());
        }
    }

    @Test
    void anAddNoMemberCanTakeIsRevokedAndTheOtherJoins() throws Exception {
        DeviceIdentity anna = DeviceIdentity.generate("anna", "d");
        KeyPackageBundle annaKp = anna.newKeyPackage(false);
        DeliveryService.Proposed addA = h.ds.proposeAdd(h.view, annaKp.message(), anna.credential()).value();
        h.view = addA.view();
        h.broadcastProposal(addA.message());

        // A server whose clock runs 90 days ahead issues an Add that members, by their clocks, see as not yet valid.
        Instant later = Instant.now().plus(Duration.ofDays(90));
        DeviceIdentity ben = DeviceIdentity.generate("ben", "d");
        byte[] benKp = ben.newKeyPackage(false, later.minus(Duration.ofDays(1)), later.plus(Duration.ofDays(10))).message();
        DeliveryService skewed = new DeliveryService(h.serverKey, Clock.fixed(later, ZoneOffset.UTC));
        DeliveryService.Proposed addBad = skewed.proposeAdd(h.view, benKp, ben.credential()).value();
        h.view = addBad.view();
        for (GroupMember m : List.of(alice, bob, carol)) {
            assertThatThrownBy(() -> m.processProposal(addBad.message())).hasMessageContaining("proposal refused");
        }
        // Wedged: no commit can include it.
        byte[] stuck = carol.commit().commit();
        assertThat(h.ds.validateCommit(h.view, stuck).reason()).contains("leaves out 1 pending proposal");

        assertThat(h.ds.revoke(h.view, List.of(new byte[32])).reason()).contains("is not pending");
        h.view = h.ds.revoke(h.view, List.of(addBad.ref())).value();
        assertThat(h.view.pending()).hasSize(1);
        for (GroupMember m : List.of(alice, bob, carol)) {
            m.revokeProposals(List.of(addBad.ref()));
        }
        GroupMember.CommitBundle c = carol.commit();
        DeliveryService.CommitAccepted accepted = h.accept(c.commit());
        assertThat(accepted.joiners()).containsExactly(anna.credential());
        GroupMember a = GroupMember.join(anna, List.of(annaKp), c.welcome());
        h.members.put(anna.credential(), a);
        assertConverged(alice, bob, carol, a);
        byte[] hi = a.protect("hi".getBytes(StandardCharsets.UTF_8));
        assertThat(bob.unprotect(hi)).isEqualTo("hi".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aRevokedAddIsLeftOutByMembersWhoTookIt() throws Exception {
        DeviceIdentity anna = DeviceIdentity.generate("anna", "d");
        DeviceIdentity ben = DeviceIdentity.generate("ben", "d");
        KeyPackageBundle annaKp = anna.newKeyPackage(false);
        KeyPackageBundle benKp = ben.newKeyPackage(false);
        DeliveryService.Proposed addA = h.ds.proposeAdd(h.view, annaKp.message(), anna.credential()).value();
        DeliveryService.Proposed addB = h.ds.proposeAdd(addA.view(), benKp.message(), ben.credential()).value();
        h.view = addB.view();
        h.broadcastProposal(addA.message());
        h.broadcastProposal(addB.message());
        assertThat(bob.pendingProposalCount()).isEqualTo(2);
        // A commit made before the revocation names both; it is now refused everywhere.
        byte[] early = alice.commit().commit();

        h.view = h.ds.revoke(h.view, List.of(addB.ref())).value();
        assertThat(h.ds.validateCommit(h.view, early).reason()).contains("did not issue");
        for (GroupMember m : List.of(alice, bob, carol)) {
            m.revokeProposals(List.of(addB.ref()));
            assertThat(m.pendingProposalCount()).isEqualTo(1);
        }
        assertThatThrownBy(() -> carol.processCommit(early)).hasMessageContaining("revoked");

        GroupMember.CommitBundle c = bob.commit();
        h.accept(c.commit());
        assertThatThrownBy(() -> GroupMember.join(ben, List.of(benKp), c.welcome()))
                .hasMessageContaining("none of this device's key packages");
        GroupMember a = GroupMember.join(anna, List.of(annaKp), c.welcome());
        h.members.put(anna.credential(), a);
        assertConverged(alice, bob, carol, a);
        assertThat(h.view.member(ben.credential())).isNull();

        // The next epoch works as usual: ben is added for real, then carol removed.
        GroupMember b = h.join(ben, a);
        h.remove(carol.identity().credential(), b);
        assertConverged(alice, bob, a, b);
    }

    @Test
    void revokingTheRemovalOfThisDeviceLetsItCommitAgain() throws Exception {
        DeliveryService.Proposed rm = h.ds.proposeRemove(h.view, carol.identity().credential()).value();
        h.view = rm.view();
        h.broadcastProposal(rm.message());
        assertThat(carol.removalProposed()).isTrue();
        assertThatThrownBy(carol::commit).hasMessageContaining("being removed");
        h.view = h.ds.revoke(h.view, List.of(rm.ref())).value();
        for (GroupMember m : List.of(alice, bob, carol)) {
            m.revokeProposals(List.of(rm.ref()));
        }
        assertThat(carol.removalProposed()).isFalse();
        h.accept(carol.commit().commit());
        assertConverged(alice, bob, carol);
    }
}
