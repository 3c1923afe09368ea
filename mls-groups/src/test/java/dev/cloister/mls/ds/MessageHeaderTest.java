package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The clear headers the server reads: PrivateMessage posts and PublicMessage commits, bounded and exact. */
class MessageHeaderTest {
    private GroupHarness h;
    private GroupMember alice;
    private GroupMember bob;

    @BeforeEach
    void twoMembers() throws Exception {
        h = new GroupHarness("headers", "alice");
        alice = h.first();
        bob = h.join(DeviceIdentity.generate("bob", "d"), null);
    }

    /** Offset of the epoch in a PrivateMessage of this group. */
    private int epochOffset() {
        return 4 + 1 + h.groupId.length;
    }

    @Test
    void privateMessageHeader() throws Exception {
        byte[] post = bob.protect("hi".getBytes(StandardCharsets.UTF_8));
        MlsMessages.PrivateMessageHeader header = MlsMessages.parsePrivateMessageHeader(post);
        assertThat(header.groupId()).isEqualTo(h.groupId);
        assertThat(header.epoch()).isEqualTo(h.view.epoch());
        assertThat(header.contentType()).isEqualTo(MlsMessages.CONTENT_APPLICATION);

        assertRefused(null, "empty");
        assertRefused(new byte[0], "empty");
        assertRefused(Arrays.copyOf(post, post.length + 1), "1 trailing bytes");
        for (int cut = 1; cut < post.length; cut += 5) {
            assertRefused(Arrays.copyOf(post, cut), "truncated");
        }
        byte[] v2 = post.clone();
        v2[1] = 2;
        assertRefused(v2, "not an MLS 1.0 message");
        byte[] commit = alice.commit().commit();
        alice.discardPendingCommit();
        assertRefused(commit, "wire format 1 is not PrivateMessage");
        assertRefused(alice.groupInfo(), "wire format 4 is not PrivateMessage");
        byte[] badType = post.clone();
        badType[epochOffset() + 8] = 9;
        assertRefused(badType, "unknown content type 9");
        byte[] hugeVector = post.clone();
        hugeVector[epochOffset() + 9] = (byte) 0xbf;
        assertRefused(hugeVector, "");
        assertRefused(new byte[300 * 1024], "exceeds");
    }

    private static void assertRefused(byte[] message, String reason) {
        assertThatThrownBy(() -> MlsMessages.parsePrivateMessageHeader(message))
                .isInstanceOf(MlsWireException.class).hasMessageContaining(reason);
    }

    @Test
    void commitHeaderIsThePublicMessageParse() throws Exception {
        byte[] commit = bob.commit().commit();
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(commit);
        assertThat(pm.groupId()).isEqualTo(h.groupId);
        assertThat(pm.epoch()).isEqualTo(h.view.epoch());
        assertThat(pm.contentType()).isEqualTo(MlsMessages.CONTENT_COMMIT);
        assertThatThrownBy(() -> MlsMessages.parsePublicMessage(Arrays.copyOf(commit, commit.length + 2)))
                .hasMessageContaining("2 trailing bytes");
        assertThatThrownBy(() -> MlsMessages.parsePublicMessage(bob.protect(new byte[1])))
                .hasMessageContaining("is not PublicMessage");
    }

    @Test
    void postsAreCheckedForGroupAndEpoch() throws Exception {
        byte[] old = bob.protect("old".getBytes(StandardCharsets.UTF_8));
        assertThat(DeliveryService.checkPost(h.view, old, false).value().epoch()).isEqualTo(h.view.epoch());
        h.join(DeviceIdentity.generate("carol", "d"), null);
        assertThat(DeliveryService.checkPost(h.view, old, true).accepted()).isTrue();
        assertThat(DeliveryService.checkPost(h.view, old, false).reason()).startsWith("stale_epoch: the message is for epoch 1, the group is at epoch 2");
        byte[] now = bob.protect("now".getBytes(StandardCharsets.UTF_8));
        assertThat(DeliveryService.checkPost(h.view, now, false).accepted()).isTrue();
        h.join(DeviceIdentity.generate("dave", "d"), null);
        assertThat(DeliveryService.checkPost(h.view, old, true).reason()).startsWith("stale_epoch");

        byte[] future = now.clone();
        future[epochOffset() + 7] = 9;
        assertThat(DeliveryService.checkPost(h.view, future, true).reason()).startsWith("future_epoch: the message is for epoch 9");
        GroupHarness other = new GroupHarness("elsewhere", "zoe");
        assertThat(DeliveryService.checkPost(other.view, now, true).reason()).startsWith("wrong_group");
        assertThat(DeliveryService.checkPost(h.view, "plain text".getBytes(StandardCharsets.UTF_8), true).reason())
                .startsWith("not_mls");
        byte[] commit = bob.commit().commit();
        assertThat(DeliveryService.checkPost(h.view, commit, true).reason()).startsWith("not_mls");
        byte[] handshake = now.clone();
        handshake[epochOffset() + 8] = MlsMessages.CONTENT_COMMIT;
        assertThat(DeliveryService.checkPost(h.view, handshake, true).reason()).startsWith("not_mls: a post must carry application content");
    }
}
