package dev.cloister.mls.group;

import java.io.IOException;
import java.io.UncheckedIOException;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;

/** A key package with the private init and leaf keys its device keeps until it joins with it. */
public final class KeyPackageBundle {
    private final KeyPackage keyPackage;
    private final AsymmetricCipherKeyPair initKeyPair;
    private final AsymmetricCipherKeyPair encryptionKeyPair;
    private final boolean lastResort;
    private final byte[] message;
    private final byte[] ref;

    KeyPackageBundle(KeyPackage keyPackage, AsymmetricCipherKeyPair init, AsymmetricCipherKeyPair encryption,
                     boolean lastResort) {
        this.keyPackage = keyPackage;
        this.initKeyPair = init;
        this.encryptionKeyPair = encryption;
        this.lastResort = lastResort;
        try {
            this.message = MLSOutputStream.encode(MLSMessage.keyPackage(keyPackage));
            this.ref = MlsSuite.SUITE.refHash(MLSOutputStream.encode(keyPackage), "MLS 1.0 KeyPackage Reference");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The MLSMessage bytes to upload to the server. */
    public byte[] message() {
        return message.clone();
    }

    /** KeyPackageRef (RFC 9420 section 5.2). */
    public byte[] ref() {
        return ref.clone();
    }

    public boolean lastResort() {
        return lastResort;
    }

    KeyPackage keyPackage() {
        return keyPackage;
    }

    AsymmetricCipherKeyPair initKeyPair() {
        return initKeyPair;
    }

    AsymmetricCipherKeyPair encryptionKeyPair() {
        return encryptionKeyPair;
    }
}
