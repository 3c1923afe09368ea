package dev.cloister.mls.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.mls.wire.MlsMessages;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A joiner checks every leaf of the tree it is handed (bcmls 1.84 does not, for Welcomes or GroupInfos). */
class TreeLeavesTest {
    @Test
    void aBadlySignedLeafIsRefused() throws Exception {
        DeliveryServiceKey serverKey = DeliveryServiceKey.generate("ds");
        DeliveryService ds = new DeliveryService(serverKey);
        DeviceIdentity alice = DeviceIdentity.generate("alice", "d");
        byte[] groupId = "leaves".getBytes(StandardCharsets.UTF_8);
        GroupMember a = GroupMember.create(alice, groupId, serverKey.publicKey(), serverKey.name());
        var view = ds.createGroup(groupId, a.groupInfo(), alice.credential()).value();
        DeviceIdentity bob = DeviceIdentity.generate("bob", "d");
        KeyPackageBundle kp = bob.newKeyPackage(false);
        DeliveryService.Proposed p = ds.proposeAdd(view, kp.message(), bob.credential()).value();
        a.processProposal(p.message());
        GroupMember.CommitBundle c = a.commit();
        a.processCommit(c.commit());
        GroupMember b = GroupMember.join(bob, List.of(kp), c.welcome());
        assertThat(b.members()).hasSize(2);

        byte[] tree = MlsMessages.parseGroupInfo(a.groupInfo()).ratchetTree();
        List<MlsMessages.LeafNode> leaves = MlsMessages.parseRatchetTree(tree);
        assertThat(ExternalJoiner.checkLeaves(bob, groupId, leaves)).containsExactly(1);
        MlsMessages.LeafNode alices = leaves.get(0);
        byte[] tampered = tree.clone();
        int at = indexOf(tampered, alices.signature());
        tampered[at + 3] ^= 1;
        assertThatThrownBy(() -> ExternalJoiner.checkLeaves(bob, groupId, MlsMessages.parseRatchetTree(tampered)))
                .hasMessageContaining("badly signed leaf 0");
        // Signed for another group (a leaf from a commit binds the group id and leaf index).
        assertThatThrownBy(() -> ExternalJoiner.checkLeaves(bob, "other".getBytes(StandardCharsets.UTF_8), leaves))
                .hasMessageContaining("badly signed leaf 0");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalArgumentException("not found");
    }
}
