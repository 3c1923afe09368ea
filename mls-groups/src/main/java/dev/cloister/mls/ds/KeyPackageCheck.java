package dev.cloister.mls.ds;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/**
 * The delivery service's check of an uploaded or claimed key package (RFC 9420 sections 7.3 and
 * 10.1), done on our own bounded parse before bcmls sees any byte. The rules are those an honest
 * bcmls member applies when it processes the Add, plus Cloister's binding of the package to one
 * device and its registered key: a package the server lets through must never be one that members
 * refuse, since the group could then commit nothing until the Add is revoked.
 *
 * <p>Lifetime: members compare the lifetime with their own clocks, so the server accepts a package
 * only if it is valid over the whole window of {@link #CLOCK_SKEW} either side of its own clock
 * (Cloister devices back-date their packages by {@code DeviceIdentity.KEY_PACKAGE_BACKDATE} so
 * this holds for a fresh one), and refuses lifetimes over {@link #MAX_LIFETIME}.
 */
public final class KeyPackageCheck {
    /** How far a member's clock may be from the server's. */
    public static final Duration CLOCK_SKEW = Duration.ofHours(1);
    /** The longest lifetime (not_after - not_before) accepted; a key package is a short-lived offer. */
    public static final Duration MAX_LIFETIME = Duration.ofDays(90);

    /** What the server keeps of an accepted key package: KeyPackageRef, public keys, lifetime. */
    public record KeyPackageInfo(byte[] ref, byte[] initKey, byte[] encryptionKey, Instant notBefore,
                                 Instant notAfter) {
    }

    private KeyPackageCheck() {
    }

    /**
     * Checks an MLSMessage carrying a KeyPackage for {@code expectedDevice}, signed with
     * {@code expectedSignatureKey} (the device's registered key; {@code null} if the caller has
     * none, and then only the credential binds the package to the device), at time {@code now}.
     */
    public static Decision<KeyPackageInfo> check(byte[] keyPackageMessage, DeviceCredential expectedDevice,
                                                 byte[] expectedSignatureKey, Instant now) {
        MlsMessages.KeyPackage kp;
        try {
            if (keyPackageMessage == null || keyPackageMessage.length < 4) {
                return Decision.reject("not an MLS 1.0 KeyPackage message");
            }
            int version = (keyPackageMessage[0] & 0xff) << 8 | (keyPackageMessage[1] & 0xff);
            int wire = (keyPackageMessage[2] & 0xff) << 8 | (keyPackageMessage[3] & 0xff);
            if (version != MlsMessages.MLS10 || wire != MlsMessages.WIRE_KEY_PACKAGE) {
                return Decision.reject("not an MLS 1.0 KeyPackage message");
            }
            kp = MlsMessages.parseKeyPackageMessage(keyPackageMessage);
        } catch (MlsWireException e) {
            return Decision.reject("malformed key package: " + e.getMessage());
        }
        synchronized (MlsSuite.SUITE) {
            return check(kp, expectedDevice, expectedSignatureKey, now);
        }
    }

    private static Decision<KeyPackageInfo> check(MlsMessages.KeyPackage kp, DeviceCredential expectedDevice,
                                                  byte[] expectedSignatureKey, Instant now) {
        MlsCipherSuite suite = MlsSuite.SUITE;
        MlsMessages.LeafNode leaf = kp.leafNode();
        if (kp.version() != MlsMessages.MLS10) {
            return Decision.reject("key package version " + kp.version() + " is not MLS 1.0");
        }
        if (kp.cipherSuite() != suite.getSuiteID()) {
            return Decision.reject(String.format("key package cipher suite 0x%04x is not the group's 0x%04x",
                    kp.cipherSuite(), suite.getSuiteID()));
        }
        DeviceCredential holder;
        try {
            holder = DeviceCredential.decode(leaf.identity());
        } catch (MlsWireException e) {
            return Decision.reject("key package credential is not a Cloister device credential: " + e.getMessage());
        }
        if (!holder.equals(expectedDevice)) {
            return Decision.reject("key package belongs to " + holder + ", not " + expectedDevice);
        }
        if (expectedSignatureKey != null && !Arrays.equals(leaf.signatureKey(), expectedSignatureKey)) {
            return Decision.reject("key package is signed with a key other than " + expectedDevice + "'s registered key");
        }
        if (leaf.source() != MlsMessages.LEAF_SOURCE_KEY_PACKAGE) {
            return Decision.reject("key package leaf node source is " + leaf.source() + ", not key_package");
        }
        if (!verifies(leaf.signatureKey(), "LeafNodeTBS", leaf.toBeSigned(null, 0), leaf.signature())) {
            return Decision.reject("key package leaf node signature does not verify");
        }
        if (!verifies(leaf.signatureKey(), "KeyPackageTBS", kp.toBeSigned(), kp.signature())) {
            return Decision.reject("key package signature does not verify");
        }
        String lifetime = lifetime(leaf.notBefore(), leaf.notAfter(), now);
        if (lifetime != null) {
            return Decision.reject(lifetime);
        }
        if (Arrays.equals(kp.initKey(), leaf.encryptionKey())) {
            return Decision.reject("key package init_key equals its leaf encryption_key");
        }
        if (!usableHpkeKey(kp.initKey())) {
            return Decision.reject("key package init_key is not a usable X25519 public key");
        }
        if (!usableHpkeKey(leaf.encryptionKey())) {
            return Decision.reject("key package encryption_key is not a usable X25519 public key");
        }
        String leafRules = leafRules(leaf);
        if (leafRules != null) {
            return Decision.reject("key package " + leafRules);
        }
        if (!kp.extensions().isEmpty()) {
            return Decision.reject(String.format("key package extension 0x%04x is not allowed", kp.extensions().get(0)));
        }
        byte[] ref;
        try {
            ref = suite.refHash(kp.encoded(), "MLS 1.0 KeyPackage Reference");
        } catch (Exception e) {
            return Decision.reject("key package cannot be hashed: " + e.getMessage());
        }
        return Decision.accept(new KeyPackageInfo(ref, kp.initKey(), leaf.encryptionKey(),
                Instant.ofEpochSecond(leaf.notBefore()), Instant.ofEpochSecond(leaf.notAfter())));
    }

    /** Lifetime rule (see the class comment); null when valid. Times are unsigned 64-bit seconds. */
    private static String lifetime(long notBefore, long notAfter, Instant now) {
        if (Long.compareUnsigned(notAfter, notBefore) < 0) {
            return "key package lifetime ends before it begins";
        }
        if (Long.compareUnsigned(notAfter - notBefore, MAX_LIFETIME.getSeconds()) > 0) {
            return "key package lifetime of " + Long.toUnsignedString((notAfter - notBefore) / 86400)
                    + " days exceeds the " + MAX_LIFETIME.toDays() + " days allowed";
        }
        long earliest = now.getEpochSecond() - CLOCK_SKEW.getSeconds();
        long latest = now.getEpochSecond() + CLOCK_SKEW.getSeconds();
        if (Long.compareUnsigned(notBefore, earliest) > 0) {
            return "key package is not valid yet: not_before " + Long.toUnsignedString(notBefore)
                    + " is less than " + CLOCK_SKEW.toHours() + " h before the server's time " + now.getEpochSecond();
        }
        if (Long.compareUnsigned(notAfter, latest) < 0) {
            return "key package has expired or expires within " + CLOCK_SKEW.toHours() + " h: not_after "
                    + Long.toUnsignedString(notAfter) + ", server time " + now.getEpochSecond();
        }
        return null;
    }

    /**
     * Capabilities and extension rules every Cloister leaf must meet, whatever its source: MLS 1.0,
     * the group's cipher suite and the basic credential listed, and no leaf extensions (Cloister
     * leaves carry none, and bcmls 1.84 mis-decodes most extension types). Null when met.
     */
    static String leafRules(MlsMessages.LeafNode leaf) {
        MlsMessages.Capabilities caps = leaf.capabilities();
        if (!caps.versions().contains(MlsMessages.MLS10)) {
            return "capabilities do not list MLS 1.0";
        }
        if (!caps.cipherSuites().contains((int) MlsSuite.SUITE.getSuiteID())) {
            return String.format("capabilities do not list cipher suite 0x%04x", MlsSuite.SUITE.getSuiteID());
        }
        if (!caps.credentials().contains(MlsMessages.CREDENTIAL_BASIC)) {
            return "capabilities do not list the basic credential type";
        }
        List<Integer> extensions = leaf.extensions();
        if (!extensions.isEmpty()) {
            return String.format("leaf node extension 0x%04x is not allowed", extensions.get(0));
        }
        return null;
    }

    /** Signature check that treats a malformed key like a bad signature (bcmls throws for one). */
    static boolean verifies(byte[] key, String label, byte[] content, byte[] signature) {
        try {
            return MlsSuite.SUITE.verifyWithLabel(key, label, content, signature);
        } catch (Exception e) {
            return false;
        }
    }

    /**
     * Whether members can encrypt to {@code key}: the right length and not a low-order point, found
     * by a trial HPKE encapsulation (X25519 agreement fails for those). A key members cannot encrypt
     * to would make every commit fail at the committer.
     */
    static boolean usableHpkeKey(byte[] key) {
        try {
            MlsCipherSuite suite = MlsSuite.SUITE;
            if (key.length != suite.getHPKE().getEncSize()) {
                return false;
            }
            suite.getHPKE().setupBaseS(suite.getHPKE().deserializePublicKey(key), new byte[0]);
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
