package dev.cloister.mls.ds;

import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import java.io.ByteArrayOutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.MLSInputStream;

/**
 * Builds hostile MLS structures for tests, byte by byte and validly signed: key packages with any
 * field set to anything, and an honest commit whose update-path leaf is rewritten and re-signed.
 */
final class MlsForge {
    private MlsForge() {
    }

    /** Every field of a LeafNode, freely settable. */
    static final class Leaf {
        byte[] encryptionKey;
        byte[] signatureKey;
        int credentialType = MlsMessages.CREDENTIAL_BASIC;
        byte[] identity;
        List<Integer> versions = List.of(1);
        List<Integer> suites = List.of(1);
        List<Integer> capabilityExtensions = List.of();
        List<Integer> proposals = List.of();
        List<Integer> credentials = List.of(1);
        int source = MlsMessages.LEAF_SOURCE_KEY_PACKAGE;
        long notBefore;
        long notAfter;
        byte[] parentHash = new byte[0];
        List<Integer> extensions = List.of();
        boolean corruptSignature;

        static Leaf of(MlsMessages.LeafNode parsed) {
            Leaf l = new Leaf();
            l.encryptionKey = parsed.encryptionKey();
            l.signatureKey = parsed.signatureKey();
            l.identity = parsed.identity();
            l.versions = parsed.capabilities().versions();
            l.suites = parsed.capabilities().cipherSuites();
            l.capabilityExtensions = parsed.capabilities().extensions();
            l.proposals = parsed.capabilities().proposals();
            l.credentials = parsed.capabilities().credentials();
            l.source = parsed.source();
            l.notBefore = parsed.notBefore();
            l.notAfter = parsed.notAfter();
            l.parentHash = parsed.parentHash() == null ? new byte[0] : parsed.parentHash();
            l.extensions = parsed.extensions();
            return l;
        }

        /** The encoded LeafNode, signed with {@code signingKey} for {@code groupId}/{@code leafIndex} where the source needs them. */
        byte[] encode(byte[] signingKey, byte[] groupId, long leafIndex) throws Exception {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(MlsReader.opaqueOf(encryptionKey));
            out.writeBytes(MlsReader.opaqueOf(signatureKey));
            u16(out, credentialType);
            if (credentialType == MlsMessages.CREDENTIAL_BASIC) {
                out.writeBytes(MlsReader.opaqueOf(identity));
            } else {
                out.writeBytes(MlsReader.opaqueOf(MlsReader.opaqueOf(identity)));
            }
            for (List<Integer> list : List.of(versions, suites, capabilityExtensions, proposals, credentials)) {
                out.writeBytes(u16List(list));
            }
            out.write(source);
            if (source == MlsMessages.LEAF_SOURCE_KEY_PACKAGE) {
                u64(out, notBefore);
                u64(out, notAfter);
            } else if (source == MlsMessages.LEAF_SOURCE_COMMIT) {
                out.writeBytes(MlsReader.opaqueOf(parentHash));
            }
            out.writeBytes(extensionList(extensions));
            byte[] content = out.toByteArray();
            ByteArrayOutputStream tbs = new ByteArrayOutputStream();
            tbs.writeBytes(content);
            if (source != MlsMessages.LEAF_SOURCE_KEY_PACKAGE) {
                tbs.writeBytes(MlsReader.opaqueOf(groupId == null ? new byte[0] : groupId));
                u32(tbs, leafIndex);
            }
            byte[] sig = MlsSuite.SUITE.signWithLabel(signingKey, "LeafNodeTBS", tbs.toByteArray());
            if (corruptSignature) {
                sig[3] ^= 1;
            }
            out.writeBytes(MlsReader.opaqueOf(sig));
            return out.toByteArray();
        }
    }

    /** A KeyPackage message around a {@link Leaf}, every field settable. */
    static final class KeyPackage {
        int messageVersion = 1;
        int wireFormat = MlsMessages.WIRE_KEY_PACKAGE;
        int version = 1;
        int suite = 1;
        byte[] initKey;
        final Leaf leaf = new Leaf();
        List<Integer> extensions = List.of();
        boolean corruptSignature;
        byte[] trailing = new byte[0];
        byte[] signingKey;

        /** What an honest device would upload at {@code now}, built by this forge. */
        static KeyPackage honest(DeviceIdentity device, Instant now) {
            KeyPackage kp = new KeyPackage();
            kp.initKey = hpkeKey();
            kp.leaf.encryptionKey = hpkeKey();
            kp.leaf.signatureKey = device.signaturePublicKey();
            kp.leaf.identity = device.credential().encode();
            kp.leaf.notBefore = now.minusSeconds(2 * 3600).getEpochSecond();
            kp.leaf.notAfter = now.plusSeconds(30 * 86400).getEpochSecond();
            kp.signingKey = device.signaturePrivateKey();
            return kp;
        }

        byte[] build() throws Exception {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            u16(out, version);
            u16(out, suite);
            out.writeBytes(MlsReader.opaqueOf(initKey));
            out.writeBytes(leaf.encode(signingKey, null, 0));
            out.writeBytes(extensionList(extensions));
            byte[] sig = MlsSuite.SUITE.signWithLabel(signingKey, "KeyPackageTBS", out.toByteArray());
            if (corruptSignature) {
                sig[5] ^= 1;
            }
            out.writeBytes(MlsReader.opaqueOf(sig));
            ByteArrayOutputStream msg = new ByteArrayOutputStream();
            u16(msg, messageVersion);
            u16(msg, wireFormat);
            msg.writeBytes(out.toByteArray());
            msg.writeBytes(trailing);
            return msg.toByteArray();
        }
    }

    static byte[] hpkeKey() {
        AsymmetricCipherKeyPair pair = MlsSuite.SUITE.getHPKE().generatePrivateKey();
        return MlsSuite.SUITE.getHPKE().serializePublicKey(pair.getPublic());
    }

    /**
     * Rewrites the update-path leaf of an honest member commit with {@code edit}, re-signs the
     * leaf and the FramedContentTBS with the committer's key over the GroupContext of {@code view}.
     * Confirmation and membership tags are left as they were: the server cannot check them.
     */
    static byte[] rewritePathLeaf(byte[] commit, GroupView view, DeviceIdentity committer,
                                  java.util.function.Consumer<Leaf> edit) throws Exception {
        MlsMessages.PublicMessage pm = MlsMessages.parsePublicMessage(commit);
        MlsMessages.LeafNode parsed = pm.commit().pathLeaf();
        Leaf leaf = Leaf.of(parsed);
        edit.accept(leaf);
        byte[] newLeaf = leaf.encode(committer.signaturePrivateKey(), view.groupId(), pm.senderIndex());
        byte[] framed = pm.framedContent();
        int at = indexOf(framed, parsed.encoded());
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        content.write(framed, 0, at);
        content.writeBytes(newLeaf);
        content.write(framed, at + parsed.encoded().length, framed.length - at - parsed.encoded().length);
        return resign(content.toByteArray(), pm, view, committer.signaturePrivateKey());
    }

    /** A PublicMessage with {@code framedContent}, signed anew with {@code signingKey}; tags kept. */
    static byte[] resign(byte[] framedContent, MlsMessages.PublicMessage pm, GroupView view, byte[] signingKey)
            throws Exception {
        ByteArrayOutputStream tbs = new ByteArrayOutputStream();
        tbs.writeBytes(new byte[] {0, 1, 0, 1});
        tbs.writeBytes(framedContent);
        tbs.writeBytes(groupContext(view));
        byte[] sig = MlsSuite.SUITE.signWithLabel(signingKey, "FramedContentTBS", tbs.toByteArray());
        ByteArrayOutputStream msg = new ByteArrayOutputStream();
        msg.writeBytes(new byte[] {0, 1, 0, 1});
        msg.writeBytes(framedContent);
        msg.writeBytes(MlsReader.opaqueOf(sig));
        if (pm.confirmationTag() != null) {
            msg.writeBytes(MlsReader.opaqueOf(pm.confirmationTag()));
        }
        if (pm.membershipTag() != null) {
            msg.writeBytes(MlsReader.opaqueOf(pm.membershipTag()));
        }
        return msg.toByteArray();
    }

    /** The GroupContext of the view's epoch, as the server computes it. */
    static byte[] groupContext(GroupView view) throws Exception {
        TreeKEMPublicKey tree = (TreeKEMPublicKey) MLSInputStream.decode(view.ratchetTree(), TreeKEMPublicKey.class);
        tree.setSuite(MlsSuite.SUITE);
        tree.setHashAll();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {0, 1, 0, 1});
        out.writeBytes(MlsReader.opaqueOf(view.groupId()));
        u64(out, view.epoch());
        out.writeBytes(MlsReader.opaqueOf(tree.getRootHash()));
        out.writeBytes(MlsReader.opaqueOf(view.confirmedTranscriptHash()));
        out.writeBytes(MlsReader.opaqueOf(view.extensions()));
        return out.toByteArray();
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalArgumentException("not found");
    }

    static byte[] u16List(List<Integer> values) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int v : values) {
            u16(out, v);
        }
        return MlsReader.opaqueOf(out.toByteArray());
    }

    static byte[] extensionList(List<Integer> types) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int t : new ArrayList<>(types)) {
            u16(out, t);
            out.writeBytes(MlsReader.opaqueOf(new byte[0]));
        }
        return MlsReader.opaqueOf(out.toByteArray());
    }

    static void u16(ByteArrayOutputStream out, int v) {
        out.write(v >>> 8);
        out.write(v);
    }

    static void u32(ByteArrayOutputStream out, long v) {
        for (int i = 3; i >= 0; i--) {
            out.write((int) (v >>> (8 * i)));
        }
    }

    static void u64(ByteArrayOutputStream out, long v) {
        for (int i = 7; i >= 0; i--) {
            out.write((int) (v >>> (8 * i)));
        }
    }
}
