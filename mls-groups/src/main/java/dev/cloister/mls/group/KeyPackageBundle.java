package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.codec.KeyPackage;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.crypto.MlsCipherSuite;

/** A key package with the private init and leaf keys its device keeps until it joins with it. */
public final class KeyPackageBundle {
    /** First byte of {@link #toBytes()}; a new layout gets a new value. */
    static final int FORMAT = 1;

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

    /** The public HPKE init key the Welcome is encrypted to. */
    public byte[] initKey() {
        return keyPackage.getInitKey().clone();
    }

    /** The public HPKE key of the leaf this package puts in the tree. */
    public byte[] encryptionKey() {
        return keyPackage.getLeafNode().getEncryptionKey().clone();
    }

    /**
     * Everything needed to restore this bundle on the device: the key package message, both
     * private keys and the last-resort flag. Holds private keys: keep it in encrypted storage.
     */
    public byte[] toBytes() {
        synchronized (MlsSuite.SUITE) {
            MlsCipherSuite suite = MlsSuite.SUITE;
            return new StateWriter()
                    .u8(FORMAT)
                    .bool(lastResort)
                    .opaque(message)
                    .opaque(suite.getHPKE().serializePrivateKey(initKeyPair.getPrivate()))
                    .opaque(suite.getHPKE().serializePrivateKey(encryptionKeyPair.getPrivate()))
                    .toByteArray();
        }
    }

    /** Restores a bundle written by {@link #toBytes()}; anything malformed or inconsistent is refused. */
    public static KeyPackageBundle fromBytes(byte[] bytes) throws MlsGroupException {
        synchronized (MlsSuite.SUITE) {
            byte[] message;
            byte[] initPrivate;
            byte[] encryptionPrivate;
            boolean lastResort;
            try {
                if (bytes == null || bytes.length > MlsMessages.MAX_MESSAGE) {
                    throw new MlsWireException("missing or larger than " + MlsMessages.MAX_MESSAGE + " bytes");
                }
                MlsReader r = new MlsReader(bytes);
                int format = r.u8("format");
                if (format != FORMAT) {
                    throw new MlsWireException("unknown format " + format);
                }
                int flag = r.u8("last-resort flag");
                if (flag > 1) {
                    throw new MlsWireException("invalid last-resort flag");
                }
                lastResort = flag == 1;
                message = r.opaque("key package message", MlsMessages.MAX_MESSAGE);
                initPrivate = r.opaque("init private key", MlsMessages.MAX_KEY);
                encryptionPrivate = r.opaque("encryption private key", MlsMessages.MAX_KEY);
                r.expectEnd("key package bundle");
                MlsMessages.KeyPackage parsed = MlsMessages.parseKeyPackageMessage(message);
                if (parsed.version() != MlsMessages.MLS10 || parsed.cipherSuite() != MlsSuite.SUITE.getSuiteID()) {
                    throw new MlsWireException("key package for another version or cipher suite");
                }
            } catch (MlsWireException e) {
                throw new MlsGroupException("malformed key package bundle: " + e.getMessage());
            }
            MlsCipherSuite suite = MlsSuite.SUITE;
            KeyPackage kp;
            AsymmetricCipherKeyPair init;
            AsymmetricCipherKeyPair encryption;
            try {
                kp = ((MLSMessage) MLSInputStream.decode(message, MLSMessage.class)).keyPackage;
                init = suite.getHPKE().deserializePrivateKey(initPrivate, null);
                encryption = suite.getHPKE().deserializePrivateKey(encryptionPrivate, null);
            } catch (Exception e) {
                throw new MlsGroupException("malformed key package bundle: " + e.getMessage(), e);
            }
            if (!Arrays.equals(suite.getHPKE().serializePublicKey(init.getPublic()), kp.getInitKey())
                    || !Arrays.equals(suite.getHPKE().serializePublicKey(encryption.getPublic()),
                            kp.getLeafNode().getEncryptionKey())) {
                throw new MlsGroupException("corrupt key package bundle: private keys do not match the key package");
            }
            boolean verified;
            try {
                verified = kp.verify();
            } catch (Exception e) {
                verified = false;
            }
            if (!verified) {
                throw new MlsGroupException("corrupt key package bundle: key package signature does not verify");
            }
            KeyPackageBundle bundle = new KeyPackageBundle(kp, init, encryption, lastResort);
            // bcmls must re-encode the same bytes, or the KeyPackageRef the server knows would differ.
            if (!Arrays.equals(bundle.message, message)) {
                throw new MlsGroupException("corrupt key package bundle: key package does not re-encode identically");
            }
            return bundle;
        }
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
