package dev.cloister.mls.wire;

import java.util.ArrayList;
import java.util.List;

/**
 * Our own bounded parser for the MLS (RFC 9420) structures the delivery service must read:
 * PublicMessage with a Proposal or Commit, KeyPackage, LeafNode and Credential. Bouncy Castle
 * 1.84's decoder allocates whatever length a message claims before checking it and maps
 * unknown enum values to array indexes, so nothing from the network reaches it before this
 * parser has accepted the bytes.
 */
public final class MlsMessages {
    public static final int MLS10 = 1;
    public static final int WIRE_PUBLIC_MESSAGE = 1;
    public static final int WIRE_PRIVATE_MESSAGE = 2;
    public static final int WIRE_WELCOME = 3;
    public static final int WIRE_GROUP_INFO = 4;
    public static final int WIRE_KEY_PACKAGE = 5;

    public static final int SENDER_MEMBER = 1;
    public static final int SENDER_EXTERNAL = 2;
    public static final int SENDER_NEW_MEMBER_PROPOSAL = 3;
    public static final int SENDER_NEW_MEMBER_COMMIT = 4;

    public static final int CONTENT_APPLICATION = 1;
    public static final int CONTENT_PROPOSAL = 2;
    public static final int CONTENT_COMMIT = 3;

    public static final int PROPOSAL_ADD = 1;
    public static final int PROPOSAL_UPDATE = 2;
    public static final int PROPOSAL_REMOVE = 3;
    public static final int PROPOSAL_EXTERNAL_INIT = 6;

    public static final int LEAF_SOURCE_KEY_PACKAGE = 1;
    public static final int LEAF_SOURCE_UPDATE = 2;
    public static final int LEAF_SOURCE_COMMIT = 3;

    public static final int CREDENTIAL_BASIC = 1;

    /** Upper bounds on what we accept from the network. */
    public static final int MAX_MESSAGE = 256 * 1024;
    public static final int MAX_GROUP_ID = 64;
    public static final int MAX_KEY = 256;
    public static final int MAX_IDENTITY = 256;
    public static final int MAX_SIGNATURE = 256;
    public static final int MAX_TAG = 64;
    public static final int MAX_AUTHENTICATED_DATA = 1024;
    public static final int MAX_CAPABILITIES = 512;
    public static final int MAX_EXTENSIONS = 4096;
    public static final int MAX_PROPOSALS_BYTES = 64 * 1024;
    public static final int MAX_PROPOSALS = 256;
    public static final int MAX_PATH_NODES_BYTES = 128 * 1024;
    public static final int MAX_LEAF_INDEX = 1 << 16;

    private MlsMessages() {
    }

    /** A LeafNode's capabilities: each list holds the u16 values as sent. */
    public record Capabilities(List<Integer> versions, List<Integer> cipherSuites, List<Integer> extensions,
                               List<Integer> proposals, List<Integer> credentials) {
    }

    /**
     * A LeafNode with a basic credential's identity and the bytes of the whole node. {@code notBefore}
     * and {@code notAfter} (unsigned seconds) are set for source key_package only, {@code parentHash}
     * for source commit only; {@code extensions} lists the extension types in order.
     */
    public record LeafNode(byte[] encryptionKey, byte[] signatureKey, int credentialType, byte[] identity,
                           int source, byte[] encoded, Capabilities capabilities, long notBefore, long notAfter,
                           byte[] parentHash, List<Integer> extensions, byte[] signature, int signedLength) {
        /** LeafNodeTBS: the node without its signature, then group id and leaf index unless from a key package. */
        public byte[] toBeSigned(byte[] groupId, long leafIndex) {
            byte[] content = java.util.Arrays.copyOf(encoded, signedLength);
            if (source == LEAF_SOURCE_KEY_PACKAGE) {
                return content;
            }
            byte[] gid = MlsReader.opaqueOf(groupId);
            byte[] out = java.util.Arrays.copyOf(content, content.length + gid.length + 4);
            System.arraycopy(gid, 0, out, content.length, gid.length);
            for (int i = 0; i < 4; i++) {
                out[out.length - 4 + i] = (byte) (leafIndex >>> (8 * (3 - i)));
            }
            return out;
        }
    }

    /** A KeyPackage; {@code extensions} lists its extension types in order. */
    public record KeyPackage(int version, int cipherSuite, byte[] initKey, LeafNode leafNode, byte[] encoded,
                             List<Integer> extensions, byte[] signature, int signedLength) {
        /** KeyPackageTBS: the package without its signature. */
        public byte[] toBeSigned() {
            return java.util.Arrays.copyOf(encoded, signedLength);
        }
    }

    /**
     * A proposal: {@code add} for Add, {@code removed} for Remove, {@code update} for Update,
     * {@code kemOutput} for ExternalInit.
     */
    public record Proposal(int type, KeyPackage add, long removed, LeafNode update, byte[] kemOutput) {
    }

    /** One entry of a Commit's proposal list: a reference or an inline proposal. */
    public record ProposalOrRef(byte[] reference, Proposal proposal) {
        public boolean isReference() {
            return reference != null;
        }
    }

    public record Commit(List<ProposalOrRef> proposals, LeafNode pathLeaf, byte[] updatePath) {
        public boolean hasPath() {
            return updatePath != null;
        }
    }

    /**
     * A PublicMessage. {@code framedContent} and {@code authenticatedContent} are the exact bytes
     * the signature, proposal references and transcript hashes are computed over.
     */
    public record PublicMessage(byte[] groupId, long epoch, int senderType, long senderIndex,
                                byte[] authenticatedData, int contentType, Proposal proposal, Commit commit,
                                byte[] signature, byte[] confirmationTag, byte[] membershipTag,
                                byte[] framedContent, byte[] authenticatedContent) {
    }

    /** Parses an MLSMessage that must be a PublicMessage carrying a proposal or a commit. */
    public static PublicMessage parsePublicMessage(byte[] bytes) throws MlsWireException {
        if (bytes == null || bytes.length == 0) {
            throw new MlsWireException("empty message");
        }
        if (bytes.length > MAX_MESSAGE) {
            throw new MlsWireException("message of " + bytes.length + " bytes exceeds " + MAX_MESSAGE);
        }
        MlsReader r = new MlsReader(bytes);
        if (r.u16("version") != MLS10) {
            throw new MlsWireException("not an MLS 1.0 message");
        }
        int wire = r.u16("wire format");
        if (wire != WIRE_PUBLIC_MESSAGE) {
            throw new MlsWireException("wire format " + wire + " is not PublicMessage");
        }
        int contentStart = r.position();
        byte[] groupId = r.opaque("group_id", MAX_GROUP_ID);
        long epoch = r.u64("epoch");
        int senderType = r.u8("sender type");
        long senderIndex = -1;
        switch (senderType) {
            case SENDER_MEMBER:
            case SENDER_EXTERNAL:
                senderIndex = r.u32("sender index");
                break;
            case SENDER_NEW_MEMBER_PROPOSAL:
            case SENDER_NEW_MEMBER_COMMIT:
                break;
            default:
                throw new MlsWireException("unknown sender type " + senderType);
        }
        byte[] authenticatedData = r.opaque("authenticated_data", MAX_AUTHENTICATED_DATA);
        int contentType = r.u8("content type");
        Proposal proposal = null;
        Commit commit = null;
        switch (contentType) {
            case CONTENT_PROPOSAL:
                proposal = proposal(r);
                break;
            case CONTENT_COMMIT:
                commit = commit(r);
                break;
            case CONTENT_APPLICATION:
                throw new MlsWireException("application data must not travel as PublicMessage");
            default:
                throw new MlsWireException("unknown content type " + contentType);
        }
        int contentEnd = r.position();
        byte[] signature = r.opaque("signature", MAX_SIGNATURE);
        byte[] confirmationTag = contentType == CONTENT_COMMIT ? r.opaque("confirmation_tag", MAX_TAG) : null;
        int authEnd = r.position();
        byte[] membershipTag = senderType == SENDER_MEMBER ? r.opaque("membership_tag", MAX_TAG) : null;
        r.expectEnd("PublicMessage");
        byte[] authenticated = new byte[2 + authEnd - contentStart];
        authenticated[1] = (byte) WIRE_PUBLIC_MESSAGE;
        System.arraycopy(bytes, contentStart, authenticated, 2, authEnd - contentStart);
        return new PublicMessage(groupId, epoch, senderType, senderIndex, authenticatedData, contentType, proposal,
                commit, signature, confirmationTag, membershipTag, r.slice(contentStart, contentEnd), authenticated);
    }

    public static final int EXT_RATCHET_TREE = 2;
    public static final int EXT_EXTERNAL_PUB = 4;
    public static final int EXT_EXTERNAL_SENDERS = 5;

    /**
     * A GroupInfo (RFC 9420 section 12.4.3): its GroupContext fields, the GroupInfo extensions by
     * type (data as sent), and {@code toBeSigned}, the exact bytes its signature covers.
     */
    public record GroupInfo(int cipherSuite, byte[] groupId, long epoch, byte[] treeHash,
                            byte[] confirmedTranscriptHash, byte[] contextExtensions,
                            java.util.Map<Integer, byte[]> extensions, byte[] confirmationTag, long signer,
                            byte[] signature, byte[] toBeSigned) {
        /** The ratchet_tree extension's data, or null. */
        public byte[] ratchetTree() {
            return extensions.get(EXT_RATCHET_TREE);
        }
    }

    /** Parses an MLSMessage carrying a GroupInfo; a GroupInfo extension may appear once. */
    public static GroupInfo parseGroupInfo(byte[] bytes) throws MlsWireException {
        if (bytes == null || bytes.length > MAX_MESSAGE) {
            throw new MlsWireException("GroupInfo missing or larger than " + MAX_MESSAGE + " bytes");
        }
        MlsReader r = new MlsReader(bytes);
        if (r.u16("version") != MLS10 || r.u16("wire format") != WIRE_GROUP_INFO) {
            throw new MlsWireException("not an MLS 1.0 GroupInfo");
        }
        int tbsStart = r.position();
        if (r.u16("context version") != MLS10) {
            throw new MlsWireException("GroupContext is not MLS 1.0");
        }
        int suite = r.u16("cipher suite");
        byte[] groupId = r.opaque("group_id", MAX_GROUP_ID);
        long epoch = r.u64("epoch");
        byte[] treeHash = r.opaque("tree_hash", MAX_TAG);
        byte[] confirmed = r.opaque("confirmed_transcript_hash", MAX_TAG);
        byte[] contextExtensions = r.opaque("group context extensions", MAX_EXTENSIONS);
        MlsReader ext = r.vector("GroupInfo extensions", MAX_MESSAGE);
        java.util.Map<Integer, byte[]> extensions = new java.util.TreeMap<>();
        while (ext.remaining() > 0) {
            int type = ext.u16("extension type");
            if (extensions.put(type, ext.opaque("extension data", MAX_MESSAGE)) != null) {
                throw new MlsWireException("GroupInfo extension " + type + " appears twice");
            }
        }
        byte[] confirmationTag = r.opaque("confirmation_tag", MAX_TAG);
        long signer = r.u32("signer");
        int tbsEnd = r.position();
        byte[] signature = r.opaque("signature", MAX_SIGNATURE);
        r.expectEnd("GroupInfo");
        return new GroupInfo(suite, groupId, epoch, treeHash, confirmed, contextExtensions,
                java.util.Collections.unmodifiableMap(extensions), confirmationTag, signer, signature,
                r.slice(tbsStart, tbsEnd));
    }

    /** What a delivery service may read of a PrivateMessage: the group, the epoch and the content type. */
    public record PrivateMessageHeader(byte[] groupId, long epoch, int contentType) {
    }

    /**
     * Parses an MLSMessage that must be a PrivateMessage (bounded, no trailing bytes) and returns
     * its clear header, so a server can refuse posts that are not MLS, are for another group or
     * carry a stale epoch without any group secret.
     */
    public static PrivateMessageHeader parsePrivateMessageHeader(byte[] message) throws MlsWireException {
        if (message == null || message.length == 0) {
            throw new MlsWireException("empty message");
        }
        if (message.length > MAX_MESSAGE) {
            throw new MlsWireException("message of " + message.length + " bytes exceeds " + MAX_MESSAGE);
        }
        MlsReader r = new MlsReader(message);
        if (r.u16("version") != MLS10) {
            throw new MlsWireException("not an MLS 1.0 message");
        }
        int wire = r.u16("wire format");
        if (wire != WIRE_PRIVATE_MESSAGE) {
            throw new MlsWireException("wire format " + wire + " is not PrivateMessage");
        }
        byte[] groupId = r.opaque("group_id", MAX_GROUP_ID);
        long epoch = r.u64("epoch");
        int contentType = r.u8("content type");
        if (contentType < CONTENT_APPLICATION || contentType > CONTENT_COMMIT) {
            throw new MlsWireException("unknown content type " + contentType);
        }
        r.skipOpaque("authenticated_data", MAX_AUTHENTICATED_DATA);
        r.skipOpaque("encrypted_sender_data", MAX_KEY);
        r.skipOpaque("ciphertext", MAX_MESSAGE);
        r.expectEnd("PrivateMessage");
        return new PrivateMessageHeader(groupId, epoch, contentType);
    }

    /**
     * Bounded structural check of an MLSMessage carrying a Welcome for {@code cipherSuite}, before bcmls decodes it;
     * answers the KeyPackageRefs it is addressed to (each secret's {@code new_member}).
     */
    public static List<byte[]> checkWelcome(byte[] welcome, int cipherSuite) throws MlsWireException {
        if (welcome == null || welcome.length > MAX_MESSAGE) {
            throw new MlsWireException("Welcome missing or larger than " + MAX_MESSAGE);
        }
        MlsReader r = new MlsReader(welcome);
        if (r.u16("version") != MLS10 || r.u16("wire format") != WIRE_WELCOME) {
            throw new MlsWireException("not an MLS 1.0 Welcome");
        }
        if (r.u16("cipher suite") != cipherSuite) {
            throw new MlsWireException("Welcome for another cipher suite");
        }
        MlsReader secrets = r.vector("secrets", MAX_MESSAGE);
        List<byte[]> newMembers = new ArrayList<>();
        while (secrets.remaining() > 0) {
            newMembers.add(secrets.opaque("new_member", MAX_TAG));
            secrets.skipOpaque("kem_output", MAX_KEY);
            secrets.skipOpaque("encrypted group secrets", MAX_MESSAGE);
        }
        r.skipOpaque("encrypted_group_info", MAX_MESSAGE);
        r.expectEnd("Welcome");
        return newMembers;
    }

    /** Parses an MLSMessage carrying a KeyPackage. */
    public static KeyPackage parseKeyPackageMessage(byte[] bytes) throws MlsWireException {
        if (bytes == null || bytes.length > MAX_MESSAGE) {
            throw new MlsWireException("key package message missing or too large");
        }
        MlsReader r = new MlsReader(bytes);
        if (r.u16("version") != MLS10) {
            throw new MlsWireException("not an MLS 1.0 message");
        }
        if (r.u16("wire format") != WIRE_KEY_PACKAGE) {
            throw new MlsWireException("not a KeyPackage message");
        }
        KeyPackage kp = keyPackage(r);
        r.expectEnd("KeyPackage message");
        return kp;
    }

    /** Parses a bare KeyPackage (TLS bytes, as an Add proposal carries it). */
    public static KeyPackage parseKeyPackage(byte[] bytes) throws MlsWireException {
        if (bytes == null || bytes.length > MAX_MESSAGE) {
            throw new MlsWireException("key package missing or too large");
        }
        MlsReader r = new MlsReader(bytes);
        KeyPackage kp = keyPackage(r);
        r.expectEnd("KeyPackage");
        return kp;
    }

    static Proposal proposal(MlsReader r) throws MlsWireException {
        int type = r.u16("proposal type");
        switch (type) {
            case PROPOSAL_ADD:
                return new Proposal(type, keyPackage(r), -1, null, null);
            case PROPOSAL_UPDATE:
                return new Proposal(type, null, -1, leafNode(r), null);
            case PROPOSAL_REMOVE:
                return new Proposal(type, null, r.u32("removed leaf"), null, null);
            case PROPOSAL_EXTERNAL_INIT:
                return new Proposal(type, null, -1, null, r.opaque("kem_output", MAX_KEY));
            default:
                throw new MlsWireException("proposal type " + type + " is not supported by this delivery service");
        }
    }

    static Commit commit(MlsReader r) throws MlsWireException {
        MlsReader list = r.vector("proposals", MAX_PROPOSALS_BYTES);
        List<ProposalOrRef> items = new ArrayList<>();
        while (list.remaining() > 0) {
            if (items.size() == MAX_PROPOSALS) {
                throw new MlsWireException("more than " + MAX_PROPOSALS + " proposals in a commit");
            }
            int kind = list.u8("proposal_or_ref type");
            if (kind == 1) {
                items.add(new ProposalOrRef(null, proposal(list)));
            } else if (kind == 2) {
                items.add(new ProposalOrRef(list.opaque("proposal reference", MAX_TAG), null));
            } else {
                throw new MlsWireException("unknown proposal_or_ref type " + kind);
            }
        }
        int present = r.u8("optional path");
        if (present == 0) {
            return new Commit(items, null, null);
        }
        if (present != 1) {
            throw new MlsWireException("invalid optional flag " + present);
        }
        int start = r.position();
        LeafNode leaf = leafNode(r);
        MlsReader nodes = r.vector("update path nodes", MAX_PATH_NODES_BYTES);
        while (nodes.remaining() > 0) {
            nodes.skipOpaque("path node encryption_key", MAX_KEY);
            MlsReader secrets = nodes.vector("encrypted_path_secret", MAX_PATH_NODES_BYTES);
            while (secrets.remaining() > 0) {
                secrets.skipOpaque("kem_output", MAX_KEY);
                secrets.skipOpaque("path secret ciphertext", MAX_KEY);
            }
        }
        return new Commit(items, leaf, r.slice(start, r.position()));
    }

    static KeyPackage keyPackage(MlsReader r) throws MlsWireException {
        int start = r.position();
        int version = r.u16("key package version");
        int suite = r.u16("key package cipher suite");
        byte[] initKey = r.opaque("init_key", MAX_KEY);
        LeafNode leaf = leafNode(r);
        List<Integer> extensions = extensions(r);
        int signed = r.position() - start;
        byte[] signature = r.opaque("key package signature", MAX_SIGNATURE);
        return new KeyPackage(version, suite, initKey, leaf, r.slice(start, r.position()), extensions, signature, signed);
    }

    /**
     * Walks a TLS-encoded ratchet tree (the ratchet_tree extension's contents), bounded, and
     * returns its leaves by leaf index ({@code null} for a blank leaf).
     */
    public static List<LeafNode> parseRatchetTree(byte[] tree) throws MlsWireException {
        if (tree == null || tree.length > MAX_MESSAGE) {
            throw new MlsWireException("ratchet tree missing or larger than " + MAX_MESSAGE + " bytes");
        }
        MlsReader r = new MlsReader(tree);
        MlsReader nodes = r.vector("ratchet tree", MAX_MESSAGE);
        r.expectEnd("ratchet tree");
        List<LeafNode> leaves = new ArrayList<>();
        int position = 0;
        while (nodes.remaining() > 0) {
            if (position >= 2 * MAX_LEAF_INDEX) {
                throw new MlsWireException("ratchet tree too large");
            }
            boolean leafPosition = position % 2 == 0;
            position++;
            int present = nodes.u8("optional node");
            if (present == 0) {
                if (leafPosition) {
                    leaves.add(null);
                }
                continue;
            }
            if (present != 1) {
                throw new MlsWireException("invalid optional flag");
            }
            int type = nodes.u8("node type");
            if (type == 1 && leafPosition) {
                leaves.add(leafNode(nodes));
            } else if (type == 2 && !leafPosition) {
                nodes.skipOpaque("parent encryption_key", MAX_KEY);
                nodes.skipOpaque("parent_hash", MAX_TAG);
                MlsReader unmerged = nodes.vector("unmerged_leaves", 4 * MAX_LEAF_INDEX);
                if (unmerged.remaining() % 4 != 0) {
                    throw new MlsWireException("unmerged_leaves has a partial entry");
                }
            } else {
                throw new MlsWireException("node type " + type + " at node " + (position - 1));
            }
        }
        return java.util.Collections.unmodifiableList(leaves);
    }

    /** Parses one LeafNode at the reader's position. */
    public static LeafNode parseLeafNode(MlsReader r) throws MlsWireException {
        return leafNode(r);
    }

    static LeafNode leafNode(MlsReader r) throws MlsWireException {
        int start = r.position();
        byte[] encryptionKey = r.opaque("encryption_key", MAX_KEY);
        byte[] signatureKey = r.opaque("signature_key", MAX_KEY);
        int credentialType = r.u16("credential type");
        byte[] identity;
        if (credentialType == CREDENTIAL_BASIC) {
            identity = r.opaque("identity", MAX_IDENTITY);
        } else {
            throw new MlsWireException("credential type " + credentialType + " is not accepted (basic only)");
        }
        Capabilities capabilities = new Capabilities(u16List(r, "capabilities.versions"),
                u16List(r, "capabilities.cipher_suites"), u16List(r, "capabilities.extensions"),
                u16List(r, "capabilities.proposals"), u16List(r, "capabilities.credentials"));
        int source = r.u8("leaf_node_source");
        long notBefore = 0;
        long notAfter = 0;
        byte[] parentHash = null;
        switch (source) {
            case LEAF_SOURCE_KEY_PACKAGE:
                notBefore = r.u64("not_before");
                notAfter = r.u64("not_after");
                break;
            case LEAF_SOURCE_UPDATE:
                break;
            case LEAF_SOURCE_COMMIT:
                parentHash = r.opaque("parent_hash", MAX_TAG);
                break;
            default:
                throw new MlsWireException("unknown leaf_node_source " + source);
        }
        List<Integer> extensions = extensions(r);
        int signed = r.position() - start;
        byte[] signature = r.opaque("leaf node signature", MAX_SIGNATURE);
        return new LeafNode(encryptionKey, signatureKey, credentialType, identity, source, r.slice(start, r.position()),
                capabilities, notBefore, notAfter, parentHash, extensions, signature, signed);
    }

    /** A vector of u16 values (capabilities lists). */
    private static List<Integer> u16List(MlsReader r, String what) throws MlsWireException {
        MlsReader list = r.vector(what, MAX_CAPABILITIES);
        if (list.remaining() % 2 != 0) {
            throw new MlsWireException(what + " has an odd length");
        }
        List<Integer> out = new ArrayList<>(list.remaining() / 2);
        while (list.remaining() > 0) {
            out.add(list.u16(what));
        }
        return List.copyOf(out);
    }

    /** An extensions vector; returns the types in order. */
    private static List<Integer> extensions(MlsReader r) throws MlsWireException {
        MlsReader ext = r.vector("extensions", MAX_EXTENSIONS);
        List<Integer> types = new ArrayList<>();
        while (ext.remaining() > 0) {
            types.add(ext.u16("extension type"));
            ext.skipOpaque("extension data", MAX_EXTENSIONS);
        }
        return List.copyOf(types);
    }
}
