package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Every rule of {@link KeyPackageCheck}, each broken alone in an otherwise valid, validly signed package. */
class KeyPackageCheckTest {
    private final DeviceIdentity device = DeviceIdentity.generate("bob", "phone");
    private final Instant now = Instant.now();

    private Decision<KeyPackageCheck.KeyPackageInfo> check(byte[] message) {
        return KeyPackageCheck.check(message, device.credential(), device.signaturePublicKey(), now);
    }

    /** A forged package with one change; the check must refuse it with {@code reason}. */
    private void assertRefused(Consumer<MlsForge.KeyPackage> change, String reason) throws Exception {
        MlsForge.KeyPackage kp = MlsForge.KeyPackage.honest(device, now);
        change.accept(kp);
        Decision<KeyPackageCheck.KeyPackageInfo> d = check(kp.build());
        assertThat(d.accepted()).as("accepted a package that breaks: " + reason).isFalse();
        assertThat(d.reason()).contains(reason);
    }

    @Test
    void honestPackagesPass() throws Exception {
        KeyPackageBundle bundle = device.newKeyPackage(false);
        KeyPackageCheck.KeyPackageInfo info = check(bundle.message()).value();
        assertThat(info.ref()).isEqualTo(bundle.ref());
        assertThat(info.initKey()).isEqualTo(bundle.initKey());
        assertThat(info.encryptionKey()).isEqualTo(bundle.encryptionKey());
        assertThat(info.notBefore()).isBefore(now.minus(KeyPackageCheck.CLOCK_SKEW));
        assertThat(Duration.between(info.notBefore(), info.notAfter())).isLessThanOrEqualTo(KeyPackageCheck.MAX_LIFETIME);
        // The forge's honest package passes too, so each refusal below is for its one change.
        assertThat(check(MlsForge.KeyPackage.honest(device, now).build()).accepted()).isTrue();
        // No registered key to pin: the credential alone binds the package.
        assertThat(KeyPackageCheck.check(bundle.message(), device.credential(), null, now).accepted()).isTrue();
    }

    @Test
    void notAKeyPackageMessage() throws Exception {
        assertThat(check(null).reason()).contains("not an MLS 1.0 KeyPackage message");
        assertThat(check(new byte[] {0, 1}).reason()).contains("not an MLS 1.0 KeyPackage message");
        assertRefused(kp -> kp.wireFormat = MlsMessagesWire.PUBLIC_MESSAGE, "not an MLS 1.0 KeyPackage message");
        assertRefused(kp -> kp.messageVersion = 2, "not an MLS 1.0 KeyPackage message");
        assertRefused(kp -> kp.version = 2, "version 2 is not MLS 1.0");
        assertRefused(kp -> kp.trailing = new byte[] {0}, "trailing");
        byte[] honest = MlsForge.KeyPackage.honest(device, now).build();
        for (int cut = 4; cut < honest.length; cut += 9) {
            assertThat(check(Arrays.copyOf(honest, cut)).reason()).startsWith("malformed key package");
        }
        assertThat(check(new byte[300 * 1024]).reason()).isNotNull();
    }

    @Test
    void cipherSuiteAndSignatures() throws Exception {
        assertRefused(kp -> kp.suite = 2, "cipher suite 0x0002 is not the group's 0x0001");
        assertRefused(kp -> kp.leaf.corruptSignature = true, "leaf node signature does not verify");
        assertRefused(kp -> kp.corruptSignature = true, "key package signature does not verify");
        DeviceIdentity other = DeviceIdentity.generate("bob", "phone");
        // Signed by another key than the one the leaf names.
        assertRefused(kp -> kp.signingKey = other.signaturePrivateKey(), "signature does not verify");
        assertRefused(kp -> kp.leaf.signatureKey = new byte[5], "registered key");
    }

    @Test
    void leafSource() throws Exception {
        assertRefused(kp -> kp.leaf.source = 2, "source is 2, not key_package");
        assertRefused(kp -> {
            kp.leaf.source = 3;
            kp.leaf.parentHash = new byte[32];
        }, "source is 3, not key_package");
    }

    @Test
    void lifetime() throws Exception {
        long t = now.getEpochSecond();
        assertRefused(kp -> {
            kp.leaf.notBefore = t - 30 * 86400;
            kp.leaf.notAfter = t - 86400;
        }, "expired");
        assertRefused(kp -> kp.leaf.notAfter = t + 1800, "expires within 1 h");
        assertRefused(kp -> kp.leaf.notBefore = t + 600, "not valid yet");
        // A member whose clock lags by up to an hour would still refuse it.
        assertRefused(kp -> kp.leaf.notBefore = t - 1800, "not valid yet");
        assertRefused(kp -> kp.leaf.notAfter = t + 100L * 86400, "exceeds the 90 days");
        assertRefused(kp -> kp.leaf.notAfter = -1L, "exceeds the 90 days");
        assertRefused(kp -> {
            kp.leaf.notBefore = t - 7200;
            kp.leaf.notAfter = t - 7300;
        }, "ends before it begins");
        assertRefused(kp -> kp.leaf.notBefore = -1L, "ends before it begins");
    }

    @Test
    void keys() throws Exception {
        assertRefused(kp -> kp.initKey = kp.leaf.encryptionKey, "init_key equals its leaf encryption_key");
        // The all-zero X25519 point has low order: every encryption to it fails at the committer.
        assertRefused(kp -> kp.initKey = new byte[32], "init_key is not a usable X25519 public key");
        assertRefused(kp -> kp.leaf.encryptionKey = new byte[32], "encryption_key is not a usable X25519 public key");
        assertRefused(kp -> kp.leaf.encryptionKey = new byte[31], "encryption_key is not a usable X25519 public key");
    }

    @Test
    void credential() throws Exception {
        assertRefused(kp -> kp.leaf.credentialType = 2, "credential type 2 is not accepted (basic only)");
        assertRefused(kp -> kp.leaf.identity = new byte[] {1, 2, 3}, "not a Cloister device credential");
        assertRefused(kp -> kp.leaf.identity = new DeviceCredential("mallory", "phone").encode(),
                "belongs to mallory/phone, not bob/phone");
        DeviceIdentity twin = DeviceIdentity.generate("bob", "phone");
        assertRefused(kp -> {
            kp.leaf.signatureKey = twin.signaturePublicKey();
            kp.signingKey = twin.signaturePrivateKey();
        }, "signed with a key other than bob/phone's registered key");
    }

    @Test
    void capabilitiesAndExtensions() throws Exception {
        assertRefused(kp -> kp.leaf.suites = List.of(2, 3), "capabilities do not list cipher suite 0x0001");
        assertRefused(kp -> kp.leaf.credentials = List.of(2), "capabilities do not list the basic credential type");
        assertRefused(kp -> kp.leaf.versions = List.of(), "capabilities do not list MLS 1.0");
        assertRefused(kp -> kp.leaf.extensions = List.of(3), "leaf node extension 0x0003 is not allowed");
        assertRefused(kp -> kp.leaf.extensions = List.of(0x7777), "leaf node extension 0x7777 is not allowed");
        assertRefused(kp -> kp.extensions = List.of(0x000a), "key package extension 0x000a is not allowed");
        // GREASE and unknown values in the capability lists are fine (RFC 9420 section 13.5).
        MlsForge.KeyPackage greasy = MlsForge.KeyPackage.honest(device, now);
        greasy.leaf.suites = List.of(0x0a0a, 1, 7);
        greasy.leaf.capabilityExtensions = List.of(0x1a1a);
        assertThat(check(greasy.build()).accepted()).isTrue();
    }

    /** The wire format value of a PublicMessage, named for readability. */
    private static final class MlsMessagesWire {
        static final int PUBLIC_MESSAGE = 1;
    }
}
