package dev.cloister.mls.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.mls.ds.GroupView;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A member saved with {@code toBytes} and restored with {@code fromBytes} carries on as if it never stopped. */
class GroupMemberPersistenceTest {
    private final DeliveryServiceKey serverKey = DeliveryServiceKey.generate("ds");
    private final DeliveryService ds = new DeliveryService(serverKey);
    private final Map<DeviceCredential, GroupMember> members = new LinkedHashMap<>();
    private GroupView view;
    private GroupMember alice;
    private GroupMember bob;
    private GroupMember carol;

    @BeforeEach
    void threeMembers() throws Exception {
        DeviceIdentity a = DeviceIdentity.generate("alice", "d");
        byte[] groupId = "persist".getBytes(StandardCharsets.UTF_8);
        alice = GroupMember.create(a, groupId, serverKey.publicKey(), serverKey.name());
        view = ds.createGroup(groupId, alice.groupInfo(), a.credential()).value();
        members.put(a.credential(), alice);
        bob = add(DeviceIdentity.generate("bob", "d"), alice);
        carol = add(DeviceIdentity.generate("carol", "d"), bob);
    }

    private GroupMember add(DeviceIdentity device, GroupMember committer) throws Exception {
        KeyPackageBundle kp = device.newKeyPackage(false);
        DeliveryService.Proposed p = ds.proposeAdd(view, kp.message(), device.credential()).value();
        view = p.view();
        for (GroupMember m : members.values()) {
            m.processProposal(p.message());
        }
        GroupMember.CommitBundle c = committer.commit();
        accept(c.commit());
        GroupMember joined = GroupMember.join(device, List.of(kp), c.welcome());
        members.put(device.credential(), joined);
        return joined;
    }

    private void accept(byte[] commit) throws Exception {
        view = ds.validateCommit(view, commit).value().view();
        for (GroupMember m : new ArrayList<>(members.values())) {
            m.processCommit(commit);
        }
    }

    private GroupMember restart(GroupMember m) throws Exception {
        GroupMember restored = GroupMember.fromBytes(
                DeviceIdentity.restore(m.identity().credential().userId(), m.identity().credential().deviceId(),
                        m.identity().signaturePrivateKey()), m.toBytes());
        members.put(m.identity().credential(), restored);
        return restored;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void assertConverged() throws Exception {
        for (GroupMember m : members.values()) {
            if (m.status() == GroupMember.Status.ACTIVE) {
                assertThat(m.epoch()).isEqualTo(view.epoch());
                assertThat(m.epochAuthenticator()).isEqualTo(members.values().iterator().next().epochAuthenticator());
            }
        }
    }

    @Test
    void restoredMemberDecryptsTheRestOfTheEpochAndNeverReusesAKey() throws Exception {
        byte[] b1 = bob.protect(utf8("b1"));
        byte[] b2 = bob.protect(utf8("b2"));
        byte[] b3 = bob.protect(utf8("b3"));
        byte[] a1 = alice.protect(utf8("a1"));
        byte[] a2 = alice.protect(utf8("a2"));
        assertThat(alice.unprotect(b1)).isEqualTo(utf8("b1"));
        byte[] exported = alice.sframeBaseKey();
        byte[] authenticator = alice.epochAuthenticator();

        GroupMember restored = restart(alice);
        assertThat(restored.epoch()).isEqualTo(alice.epoch());
        assertThat(restored.leafIndex()).isEqualTo(alice.leafIndex());
        assertThat(restored.members()).isEqualTo(alice.members());
        assertThat(restored.sframeBaseKey()).isEqualTo(exported);
        assertThat(restored.epochAuthenticator()).isEqualTo(authenticator);
        // Out of order: b3 first, then the skipped b2 from the saved ratchet cache.
        assertThat(restored.unprotect(b3)).isEqualTo(utf8("b3"));
        assertThat(restored.unprotect(b2)).isEqualTo(utf8("b2"));
        // b1's key was used before the save and is gone.
        assertThatThrownBy(() -> restored.unprotect(b1)).hasMessageContaining("cannot decrypt");

        // The restored sender goes on from its saved ratchet position: carol, who read a1 and a2, reads a3.
        byte[] a3 = restored.protect(utf8("a3"));
        assertThat(carol.unprotect(a1)).isEqualTo(utf8("a1"));
        assertThat(carol.unprotect(a2)).isEqualTo(utf8("a2"));
        assertThat(carol.unprotect(a3)).isEqualTo(utf8("a3"));
        // A saved state holds no key of a message the device sent.
        assertThatThrownBy(() -> restored.unprotect(a3)).hasMessageContaining("cannot decrypt");
    }

    @Test
    void restoredMembersFollowCommitAndSign() throws Exception {
        // Restored between every step, each member processes, commits, signs.
        alice = restart(alice);
        bob = restart(bob);
        carol = restart(carol);
        GroupMember dave = add(DeviceIdentity.generate("dave", "d"), alice);
        assertConverged();
        dave = restart(dave);
        assertThat(ds.checkGroupInfo(view, alice.groupInfo()).accepted()).isTrue();

        // A held proposal survives the restart and is committed.
        DeliveryService.Proposed rm = ds.proposeRemove(view, carol.identity().credential()).value();
        view = rm.view();
        for (GroupMember m : members.values()) {
            m.processProposal(rm.message());
        }
        carol = restart(carol);
        assertThat(carol.removalProposed()).isTrue();
        dave = restart(dave);
        assertThat(dave.pendingProposalCount()).isEqualTo(1);
        // A commit made before the restart, accepted after it, is our own.
        GroupMember.CommitBundle c = dave.commit();
        dave = restart(dave);
        view = ds.validateCommit(view, c.commit()).value().view();
        assertThat(dave.processCommit(c.commit())).isEqualTo(GroupMember.CommitResult.APPLIED_OWN);
        assertThat(restart(alice).processCommit(c.commit())).isEqualTo(GroupMember.CommitResult.APPLIED);
        bob.processCommit(c.commit());
        assertThat(carol.processCommit(c.commit())).isEqualTo(GroupMember.CommitResult.REMOVED);
        members.remove(carol.identity().credential());
        assertConverged();

        // A former member keeps only its last epoch's decryption keys (no signing key, no private tree) and stays out.
        GroupMember gone = GroupMember.fromBytes(carol.identity(), carol.toBytes());
        assertThat(gone.status()).isEqualTo(GroupMember.Status.REMOVED);
        assertThat(gone.epoch()).isEqualTo(view.epoch() - 1);
        assertThat(ByteSearch.contains(carol.toBytes(), carol.identity().signaturePrivateKey())).isFalse();
        assertThat(ByteSearch.contains(alice.toBytes(), alice.identity().signaturePrivateKey())).isTrue();
        assertThatThrownBy(gone::sframeBaseKey).hasMessageContaining("no longer in the group");

        byte[] hi = members.get(bob.identity().credential()).protect(utf8("hi"));
        assertThat(restart(dave).unprotect(hi)).isEqualTo(utf8("hi"));
    }

    @Test
    void pendingExternalJoinSurvivesARestart() throws Exception {
        DeviceIdentity erin = DeviceIdentity.generate("erin", "d");
        DeliveryService.Proposed p = ds.proposeAdd(view, erin.newKeyPackage(false).message(), erin.credential()).value();
        view = p.view();
        GroupMember.ExternalJoin join = GroupMember.joinExternal(erin, carol.groupInfo());
        GroupMember restored = GroupMember.fromBytes(erin, join.member().toBytes());
        assertThat(restored.externalJoinPending()).isTrue();
        view = ds.validateExternalCommit(view, join.commit(), d -> d.equals(erin.credential())).value().view();
        assertThat(restored.processCommit(join.commit())).isEqualTo(GroupMember.CommitResult.APPLIED_OWN);
        for (GroupMember m : members.values()) {
            m.processCommit(join.commit());
        }
        members.put(erin.credential(), restored);
        assertConverged();
    }

    @Test
    void corruptOrForeignStateIsRefused() throws Exception {
        bob.protect(utf8("x"));
        byte[] saved = alice.toBytes();
        assertThatThrownBy(() -> GroupMember.fromBytes(alice.identity(), null)).hasMessageContaining("malformed");
        assertThatThrownBy(() -> GroupMember.fromBytes(alice.identity(), new byte[10])).hasMessageContaining("malformed");
        byte[] flipped = saved.clone();
        flipped[saved.length / 2] ^= 1;
        assertThatThrownBy(() -> GroupMember.fromBytes(alice.identity(), flipped)).hasMessageContaining("checksum mismatch");
        assertThatThrownBy(() -> GroupMember.fromBytes(bob.identity(), saved)).hasMessageContaining("another device identity");
        DeviceIdentity twin = DeviceIdentity.generate("alice", "d");
        assertThatThrownBy(() -> GroupMember.fromBytes(twin, saved)).hasMessageContaining("another device identity");

        // Under a valid checksum: truncation, trailing bytes and random changes are refused cleanly.
        byte[] body = Arrays.copyOf(saved, saved.length - 32);
        for (int cut = 0; cut < body.length; cut += Math.max(1, body.length / 97)) {
            assertRefusedCleanly(Arrays.copyOf(body, cut));
        }
        assertRefusedCleanly(Arrays.copyOf(body, body.length + 1));
        byte[] otherFormat = body.clone();
        otherFormat[0] = 7;
        assertThatThrownBy(() -> GroupMember.fromBytes(alice.identity(), withDigest(otherFormat))).hasMessageContaining("unknown format");
        // A changed byte is either refused as malformed or restores as different bytes would
        // (a changed secret is just another secret): never any other failure.
        Random random = new Random(42);
        for (int i = 0; i < 300; i++) {
            byte[] changed = body.clone();
            changed[random.nextInt(changed.length)] ^= (byte) (1 + random.nextInt(255));
            try {
                GroupMember.fromBytes(alice.identity(), withDigest(changed));
            } catch (MlsGroupException e) {
                assertThat(e.getMessage()).containsAnyOf("malformed", "corrupt");
            }
        }
    }

    /** Byte search for the tests. */
    private static final class ByteSearch {
        static boolean contains(byte[] haystack, byte[] needle) {
            outer:
            for (int i = 0; i + needle.length <= haystack.length; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (haystack[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return true;
            }
            return false;
        }
    }

    private void assertRefusedCleanly(byte[] body) {
        assertThatThrownBy(() -> GroupMember.fromBytes(alice.identity(), withDigest(body)))
                .isInstanceOf(MlsGroupException.class);
    }

    private static byte[] withDigest(byte[] body) throws Exception {
        byte[] out = Arrays.copyOf(body, body.length + 32);
        System.arraycopy(MessageDigest.getInstance("SHA-256").digest(body), 0, out, body.length, 32);
        return out;
    }
}
