package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.sframe.MlsSFrameKeys;
import dev.cloister.mls.sframe.SFrameContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * 200 devices join one by one through the delivery service while 50 random members leave; after
 * every epoch all members export the same SFrame base key and the device removed by that epoch
 * cannot open a frame sealed in it; every tenth epoch a random member is replaced by its state saved
 * and restored. Sizes can be changed with {@code -Dmls.sim.joins} and
 * {@code -Dmls.sim.leaves}.
 */
class GroupSimulationTest {
    @Test
    void twoHundredJoinsAndFiftyLeaves() throws Exception {
        int joins = Integer.getInteger("mls.sim.joins", 200);
        int leaves = Integer.getInteger("mls.sim.leaves", 50);
        Random random = new Random(9605);
        GroupHarness h = new GroupHarness("sim", "u0");
        long start = System.nanoTime();
        int joined = 1;
        int left = 0;
        int epochs = 0;
        // Leaves are spread over the run: each step leaves with probability leaves/joins once the group has members to spare.
        while (joined <= joins || left < leaves) {
            boolean leave = left < leaves && h.members.size() > 2
                    && (joined > joins || random.nextInt(joins) < leaves);
            List<GroupMember> current = new ArrayList<>(h.members.values());
            GroupMember committer = current.get(random.nextInt(current.size()));
            if (leave) {
                GroupMember victim;
                do {
                    victim = current.get(random.nextInt(current.size()));
                } while (victim == committer);
                byte[] keyBefore = victim.sframeBaseKey();
                long epochBefore = victim.epoch();
                GroupMember gone = h.remove(victim.identity().credential(), committer);
                assertThat(gone.status()).isEqualTo(GroupMember.Status.REMOVED);
                left++;
                assertRemovedCannotDecrypt(committer, keyBefore, epochBefore);
            } else {
                h.join(DeviceIdentity.generate("u" + joined, "d"), committer);
                joined++;
            }
            epochs++;
            if (epochs % 10 == 0) {
                // A device restarts: its saved state replaces it and must keep agreeing.
                GroupMember m = current.get(random.nextInt(current.size()));
                if (m.status() == GroupMember.Status.ACTIVE) {
                    h.members.put(m.identity().credential(), GroupMember.fromBytes(m.identity(), m.toBytes()));
                }
            }
            assertAllAgree(h);
        }
        assertThat(h.members).hasSize(1 + joins - leaves);
        assertThat(h.view.members()).hasSize(1 + joins - leaves);
        assertThat(h.view.epoch()).isEqualTo(epochs);
        System.out.printf("simulation: %d joins, %d leaves, %d epochs in %.1f s%n", joined - 1, left, epochs,
                (System.nanoTime() - start) / 1e9);
    }

    private static void assertAllAgree(GroupHarness h) throws Exception {
        byte[] key = null;
        byte[] auth = null;
        for (GroupMember m : h.members.values()) {
            assertThat(m.epoch()).isEqualTo(h.view.epoch());
            if (key == null) {
                key = m.sframeBaseKey();
                auth = m.epochAuthenticator();
            } else if (!Arrays.equals(key, m.sframeBaseKey()) || !Arrays.equals(auth, m.epochAuthenticator())) {
                throw new AssertionError(m.identity().credential() + " disagrees at epoch " + m.epoch());
            }
        }
        List<DeviceCredential> serverMembers = h.view.members().stream().map(GroupView.Member::device).toList();
        assertThat(serverMembers).containsExactlyInAnyOrderElementsOf(h.members.keySet());
    }

    private static void assertRemovedCannotDecrypt(GroupMember sender, byte[] removedKey, long removedEpoch)
            throws Exception {
        MlsSFrameKeys senderVoice = MlsSFrameKeys.forVoice(MlsSuite.SFRAME);
        senderVoice.installEpoch(sender.epoch(), sender.sframeBaseKey());
        byte[] meta = {1};
        byte[] frame = senderVoice.protect(sender.leafIndex(), meta, new byte[160]);

        MlsSFrameKeys removedVoice = MlsSFrameKeys.forVoice(MlsSuite.SFRAME);
        removedVoice.installEpoch(removedEpoch, removedKey);
        byte[] out = new byte[frame.length];
        assertThat(removedVoice.unprotect(meta, 0, 1, frame, 0, frame.length, out, 0)).isNegative();
        // Even forcing its old base key under the new epoch's KID fails authentication.
        MlsSFrameKeys forced = MlsSFrameKeys.forVoice(MlsSuite.SFRAME);
        forced.installEpoch(sender.epoch(), removedKey);
        assertThat(forced.unprotect(meta, 0, 1, frame, 0, frame.length, out, 0)).isEqualTo(SFrameContext.ERR_AUTH);
        // A current member opens it.
        MlsSFrameKeys member = MlsSFrameKeys.forVoice(MlsSuite.SFRAME);
        member.installEpoch(sender.epoch(), sender.sframeBaseKey());
        assertThat(member.unprotect(meta, 0, 1, frame, 0, frame.length, out, 0)).isEqualTo(160);
    }
}
