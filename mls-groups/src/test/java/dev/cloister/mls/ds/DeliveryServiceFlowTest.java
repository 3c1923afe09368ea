package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.sframe.MlsSFrameKeys;
import dev.cloister.mls.group.MlsSuite;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DeliveryServiceFlowTest {
    @Test
    void membersJoinChatExportKeysAndLeaveThroughTheServer() throws Exception {
        GroupHarness h = new GroupHarness("voice-1", "alice");
        GroupMember alice = h.first();
        GroupMember bob = h.join(DeviceIdentity.generate("bob", "phone"), null);
        GroupMember carol = h.join(DeviceIdentity.generate("carol", "laptop"), bob);

        assertThat(h.view.epoch()).isEqualTo(2);
        assertThat(alice.epoch()).isEqualTo(2);
        assertThat(h.view.members()).hasSize(3);
        assertThat(alice.members()).isEqualTo(carol.members());
        assertThat(alice.epochAuthenticator()).isEqualTo(bob.epochAuthenticator()).isEqualTo(carol.epochAuthenticator());
        assertThat(alice.sframeBaseKey()).isEqualTo(bob.sframeBaseKey()).isEqualTo(carol.sframeBaseKey()).hasSize(16);

        byte[] chat = bob.protect("hello".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(carol.unprotect(chat), StandardCharsets.UTF_8)).isEqualTo("hello");
        assertThat(new String(alice.unprotect(chat), StandardCharsets.UTF_8)).isEqualTo("hello");

        byte[] oldKey = carol.sframeBaseKey();
        GroupMember removed = h.remove(carol.identity().credential(), alice);
        assertThat(removed.status()).isEqualTo(GroupMember.Status.REMOVED);
        assertThat(alice.sframeBaseKey()).isEqualTo(bob.sframeBaseKey()).isNotEqualTo(oldKey);
        assertThatThrownBy(carol::sframeBaseKey).hasMessageContaining("no longer in the group");

        // A frame sealed in the new epoch is opaque to the removed member's last keys.
        MlsSFrameKeys bobVoice = MlsSFrameKeys.forVoice(MlsSuite.SFRAME);
        bobVoice.installEpoch(bob.epoch(), bob.sframeBaseKey());
        MlsSFrameKeys carolVoice = MlsSFrameKeys.forVoice(MlsSuite.SFRAME);
        carolVoice.installEpoch(bob.epoch() - 1, oldKey);
        byte[] frame = bobVoice.protect(bob.leafIndex(), new byte[0], new byte[160]);
        assertThatThrownBy(() -> carolVoice.unprotect(new byte[0], frame)).isInstanceOf(RuntimeException.class);
    }
}
