package dev.cloister.mls.ds;

import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsSuite;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;

/** The server's signature key: it signs the external proposals of every group it serves. */
public final class DeliveryServiceKey {
    private final String name;
    private final byte[] privateKey;
    private final byte[] publicKey;

    private DeliveryServiceKey(String name, AsymmetricCipherKeyPair pair) {
        this.name = name;
        this.privateKey = MlsSuite.SUITE.serializeSignaturePrivateKey(pair.getPrivate());
        this.publicKey = MlsSuite.SUITE.serializeSignaturePublicKey(pair.getPublic());
    }

    public static DeliveryServiceKey generate(String name) {
        synchronized (MlsSuite.SUITE) {
            return new DeliveryServiceKey(name, MlsSuite.SUITE.generateSignatureKeyPair());
        }
    }

    public static DeliveryServiceKey restore(String name, byte[] privateKey) {
        synchronized (MlsSuite.SUITE) {
            return new DeliveryServiceKey(name, MlsSuite.SUITE.deserializeSignaturePrivateKey(privateKey));
        }
    }

    public String name() {
        return name;
    }

    public byte[] publicKey() {
        return publicKey.clone();
    }

    /** For the server's secret store only. */
    public byte[] privateKey() {
        return privateKey.clone();
    }

    byte[] privateKeyBytes() {
        return privateKey;
    }

    /** The encoded ExternalSender entry groups must carry. */
    public byte[] externalSender() {
        return GroupMember.externalSender(publicKey, name);
    }
}
