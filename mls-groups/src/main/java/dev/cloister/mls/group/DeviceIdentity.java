package dev.cloister.mls.group;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.LifeTime;
import org.bouncycastle.mls.codec.Capabilities;
import org.bouncycastle.mls.codec.Credential;
import org.bouncycastle.mls.codec.Extension;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/**
 * A device's MLS identity: its signature key pair and the basic credential naming the user and
 * device. One per device; every group leaf and key package of the device is signed with it.
 */
public final class DeviceIdentity {
    /**
     * Key packages start this far in the past, so members and a server whose clocks lag (or a
     * device whose clock runs up to an hour fast) still see them as valid.
     */
    public static final Duration KEY_PACKAGE_BACKDATE = Duration.ofHours(2);
    /** How long a new key package stays valid; the server refuses lifetimes over 90 days. */
    public static final Duration KEY_PACKAGE_VALIDITY = Duration.ofDays(60);

    private final DeviceCredential credential;
    private final AsymmetricCipherKeyPair signatureKeyPair;
    private final byte[] signaturePublicKey;
    private final byte[] signaturePrivateKey;

    private DeviceIdentity(DeviceCredential credential, AsymmetricCipherKeyPair keyPair) {
        MlsCipherSuite suite = MlsSuite.SUITE;
        this.credential = credential;
        this.signatureKeyPair = keyPair;
        this.signaturePublicKey = suite.serializeSignaturePublicKey(keyPair.getPublic());
        this.signaturePrivateKey = suite.serializeSignaturePrivateKey(keyPair.getPrivate());
    }

    public static DeviceIdentity generate(String userId, String deviceId) {
        synchronized (MlsSuite.SUITE) {
            return new DeviceIdentity(new DeviceCredential(userId, deviceId),
                    MlsSuite.SUITE.generateSignatureKeyPair());
        }
    }

    /** Restores an identity from its stored private signature key. */
    public static DeviceIdentity restore(String userId, String deviceId, byte[] signaturePrivateKey) {
        synchronized (MlsSuite.SUITE) {
            return new DeviceIdentity(new DeviceCredential(userId, deviceId),
                    MlsSuite.SUITE.deserializeSignaturePrivateKey(signaturePrivateKey));
        }
    }

    public DeviceCredential credential() {
        return credential;
    }

    public byte[] signaturePublicKey() {
        return signaturePublicKey.clone();
    }

    /** The private key, for the device's own encrypted storage only. */
    public byte[] signaturePrivateKey() {
        return signaturePrivateKey.clone();
    }

    AsymmetricCipherKeyPair signatureKeyPair() {
        return signatureKeyPair;
    }

    byte[] signaturePrivate() {
        return signaturePrivateKey;
    }

    Credential mlsCredential() {
        return Credential.forBasic(credential.encode());
    }

    /** A leaf node for {@code encryptionPublicKey}, signed by this device, valid from now on. */
    LeafNode leafNode(byte[] encryptionPublicKey) throws Exception {
        Instant now = Instant.now();
        return leafNode(encryptionPublicKey, now.minus(KEY_PACKAGE_BACKDATE), now.plus(KEY_PACKAGE_VALIDITY));
    }

    private LeafNode leafNode(byte[] encryptionPublicKey, Instant notBefore, Instant notAfter) throws Exception {
        return new LeafNode(MlsSuite.SUITE, encryptionPublicKey, signaturePublicKey, mlsCredential(),
                new Capabilities(), lifetime(notBefore, notAfter), new ArrayList<Extension>(), signaturePrivateKey);
    }

    /** bcmls 1.84's LifeTime has no constructor taking times (its default never expires), so it is decoded. */
    private static LifeTime lifetime(Instant notBefore, Instant notAfter) throws IOException {
        byte[] encoded = new StateWriter().u64(notBefore.getEpochSecond()).u64(notAfter.getEpochSecond()).toByteArray();
        return new LifeTime(new MLSInputStream(encoded));
    }

    /**
     * A fresh key package. A last-resort one is kept and reused when the one-time ones run out;
     * bcmls 1.84 cannot encode the {@code last_resort} KeyPackage extension (its ExtensionType enum
     * has no value for it), so the flag travels beside the key package when it is uploaded.
     */
    public KeyPackageBundle newKeyPackage(boolean lastResort) {
        Instant now = Instant.now();
        return newKeyPackage(lastResort, now.minus(KEY_PACKAGE_BACKDATE), now.plus(KEY_PACKAGE_VALIDITY));
    }

    /** A fresh key package valid from {@code notBefore} until {@code notAfter} (whole seconds). */
    public KeyPackageBundle newKeyPackage(boolean lastResort, Instant notBefore, Instant notAfter) {
        synchronized (MlsSuite.SUITE) {
            try {
                MlsCipherSuite suite = MlsSuite.SUITE;
                AsymmetricCipherKeyPair init = suite.getHPKE().generatePrivateKey();
                AsymmetricCipherKeyPair encryption = suite.getHPKE().generatePrivateKey();
                LeafNode leaf = leafNode(suite.getHPKE().serializePublicKey(encryption.getPublic()), notBefore,
                        notAfter);
                KeyPackage kp = new KeyPackage(suite, suite.getHPKE().serializePublicKey(init.getPublic()), leaf,
                        new ArrayList<Extension>(), signaturePrivateKey);
                return new KeyPackageBundle(kp, init, encryption, lastResort);
            } catch (Exception e) {
                throw new IllegalStateException("key package generation failed", e);
            }
        }
    }
}
