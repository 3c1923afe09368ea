package dev.cloister.mls.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.mls.ds.GroupView;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class KeyPackageBundleTest {
    @Test
    void restoredBundleJoinsFromWelcome() throws Exception {
        DeliveryServiceKey serverKey = DeliveryServiceKey.generate("ds");
        DeliveryService ds = new DeliveryService(serverKey);
        DeviceIdentity alice = DeviceIdentity.generate("alice", "d1");
        byte[] groupId = "kp-restore".getBytes(StandardCharsets.UTF_8);
        GroupMember a = GroupMember.create(alice, groupId, serverKey.publicKey(), serverKey.name());
        GroupView view = ds.createGroup(groupId, a.groupInfo(), alice.credential()).value();

        DeviceIdentity bob = DeviceIdentity.generate("bob", "phone");
        KeyPackageBundle original = bob.newKeyPackage(true);
        byte[] stored = original.toBytes();
        // The device restarts: only the stored bytes and its identity key survive.
        DeviceIdentity bobAgain = DeviceIdentity.restore("bob", "phone", bob.signaturePrivateKey());
        KeyPackageBundle restored = KeyPackageBundle.fromBytes(stored);
        assertThat(restored.message()).isEqualTo(original.message());
        assertThat(restored.ref()).isEqualTo(original.ref());
        assertThat(restored.lastResort()).isTrue();
        assertThat(restored.initKey()).isEqualTo(original.initKey()).isNotEqualTo(restored.encryptionKey());
        assertThat(restored.encryptionKey()).isEqualTo(original.encryptionKey());
        assertThat(restored.toBytes()).isEqualTo(stored);

        DeliveryService.Proposed p = ds.proposeAdd(view, restored.message(), bob.credential()).value();
        a.processProposal(p.message());
        GroupMember.CommitBundle c = a.commit();
        view = ds.validateCommit(p.view(), c.commit()).value().view();
        a.processCommit(c.commit());
        GroupMember b = GroupMember.join(bobAgain, List.of(bob.newKeyPackage(false), restored), c.welcome());
        assertThat(b.epochAuthenticator()).isEqualTo(a.epochAuthenticator());
        assertThat(b.epoch()).isEqualTo(view.epoch());
        byte[] hello = a.protect("hi".getBytes(StandardCharsets.UTF_8));
        assertThat(b.unprotect(hello)).isEqualTo("hi".getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void malformedOrCorruptBytesAreRefused() throws Exception {
        DeviceIdentity bob = DeviceIdentity.generate("bob", "phone");
        byte[] stored = bob.newKeyPackage(false).toBytes();
        assertThatThrownBy(() -> KeyPackageBundle.fromBytes(null)).isInstanceOf(MlsGroupException.class);
        assertThatThrownBy(() -> KeyPackageBundle.fromBytes(new byte[0])).hasMessageContaining("malformed");
        for (int cut = 0; cut < stored.length; cut += 7) {
            byte[] truncated = Arrays.copyOf(stored, cut);
            assertThatThrownBy(() -> KeyPackageBundle.fromBytes(truncated)).isInstanceOf(MlsGroupException.class);
        }
        assertThatThrownBy(() -> KeyPackageBundle.fromBytes(Arrays.copyOf(stored, stored.length + 1)))
                .hasMessageContaining("trailing");
        byte[] otherFormat = stored.clone();
        otherFormat[0] = 9;
        assertThatThrownBy(() -> KeyPackageBundle.fromBytes(otherFormat)).hasMessageContaining("unknown format");
        // Another bundle's private key beside this key package.
        byte[] foreign = bob.newKeyPackage(false).toBytes();
        byte[] swapped = stored.clone();
        System.arraycopy(foreign, foreign.length - 32, swapped, swapped.length - 32, 32);
        assertThatThrownBy(() -> KeyPackageBundle.fromBytes(swapped)).hasMessageContaining("do not match");
        // A flipped bit anywhere is caught (framing, key mismatch or signature).
        Random random = new Random(5);
        for (int i = 0; i < 200; i++) {
            byte[] flipped = stored.clone();
            flipped[random.nextInt(flipped.length)] ^= (byte) (1 << random.nextInt(8));
            assertThatThrownBy(() -> KeyPackageBundle.fromBytes(flipped)).isInstanceOf(MlsGroupException.class);
        }
        // A length prefix claiming a gigabyte is refused without allocating it.
        byte[] huge = stored.clone();
        huge[2] = (byte) 0xbf;
        assertThatThrownBy(() -> KeyPackageBundle.fromBytes(huge)).hasMessageContaining("malformed");
    }
}
