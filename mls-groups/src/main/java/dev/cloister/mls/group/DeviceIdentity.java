package dev.cloister.mls.group;

import java.util.ArrayList;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.TreeKEM.LeafNode;
import org.bouncycastle.mls.TreeKEM.LifeTime;
import org.bouncycastle.mls.codec.Capabilities;
import org.bouncycastle.mls.codec.Credential;
import org.bouncycastle.mls.codec.Extension;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/**
 * A device's MLS identity: its signature key pair and the basic credential naming the user and
 * device. One per device; every group leaf and key package of the device is signed with it.
 */
public final class DeviceIdentity {
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
        return new DeviceIdentity(new DeviceCredential(userId, deviceId), MlsSuite.SUITE.generateSignatureKeyPair());
    }

    /** Restores an identity from its stored private signature key. */
    public static DeviceIdentity restore(String userId, String deviceId, byte[] signaturePrivateKey) {
        return new DeviceIdentity(new DeviceCredential(userId, deviceId),
                MlsSuite.SUITE.deserializeSignaturePrivateKey(signaturePrivateKey));
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

    /** A leaf node for {@code encryptionPublicKey}, signed by this device. */
    LeafNode leafNode(byte[] encryptionPublicKey) throws Exception {
        return new LeafNode(MlsSuite.SUITE, encryptionPublicKey, signaturePublicKey, mlsCredential(),
                new Capabilities(), new LifeTime(), new ArrayList<Extension>(), signaturePrivateKey);
    }

    /**
     * A fresh key package. A last-resort one is kept and reused when the one-time ones run out;
     * bcmls 1.84 cannot encode the {@code last_resort} KeyPackage extension (its ExtensionType enum
     * has no value for it), so the flag travels beside the key package when it is uploaded.
     */
    public KeyPackageBundle newKeyPackage(boolean lastResort) {
        try {
            MlsCipherSuite suite = MlsSuite.SUITE;
            AsymmetricCipherKeyPair init = suite.getHPKE().generatePrivateKey();
            AsymmetricCipherKeyPair encryption = suite.getHPKE().generatePrivateKey();
            LeafNode leaf = leafNode(suite.getHPKE().serializePublicKey(encryption.getPublic()));
            KeyPackage kp = new KeyPackage(suite, suite.getHPKE().serializePublicKey(init.getPublic()), leaf,
                    new ArrayList<Extension>(), signaturePrivateKey);
            return new KeyPackageBundle(kp, init, encryption, lastResort);
        } catch (Exception e) {
            throw new IllegalStateException("key package generation failed", e);
        }
    }
}
