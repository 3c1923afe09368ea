package dev.cloister.mls.group;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class SafetyNumberTest {
    @Test
    void sameForBothSidesAndChangesWithAnyKey() {
        DeviceIdentity alicePhone = DeviceIdentity.generate("alice", "phone");
        DeviceIdentity aliceLaptop = DeviceIdentity.generate("alice", "laptop");
        DeviceIdentity bob = DeviceIdentity.generate("bob", "phone");
        List<byte[]> aliceKeys = List.of(alicePhone.signaturePublicKey(), aliceLaptop.signaturePublicKey());
        List<byte[]> aliceKeysOtherOrder = List.of(aliceLaptop.signaturePublicKey(), alicePhone.signaturePublicKey());
        String seenByAlice = SafetyNumber.of("alice", aliceKeys, "bob", List.of(bob.signaturePublicKey()));
        String seenByBob = SafetyNumber.of("bob", List.of(bob.signaturePublicKey()), "alice", aliceKeysOtherOrder);
        assertThat(seenByAlice).isEqualTo(seenByBob).matches("(\\d{5}[ \\n]){11}\\d{5}");
        String afterNewDevice = SafetyNumber.of("alice", List.of(alicePhone.signaturePublicKey()), "bob",
                List.of(bob.signaturePublicKey()));
        assertThat(afterNewDevice).isNotEqualTo(seenByAlice);
        DeviceIdentity mallory = DeviceIdentity.generate("bob", "phone");
        assertThat(SafetyNumber.of("alice", aliceKeys, "bob", List.of(mallory.signaturePublicKey())))
                .isNotEqualTo(seenByAlice);
    }
}
