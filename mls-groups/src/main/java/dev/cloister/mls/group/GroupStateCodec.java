package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bouncycastle.crypto.AsymmetricCipherKeyPair;
import org.bouncycastle.mls.GroupKeySet;
import org.bouncycastle.mls.KeyGeneration;
import org.bouncycastle.mls.KeyScheduleEpoch;
import org.bouncycastle.mls.TranscriptHash;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.TreeKEM.NodeIndex;
import org.bouncycastle.mls.TreeKEM.TreeKEMPrivateKey;
import org.bouncycastle.mls.TreeKEM.TreeKEMPublicKey;
import org.bouncycastle.mls.codec.Extension;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSOutputStream;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.crypto.Secret;
import org.bouncycastle.mls.protocol.Group;

/**
 * Where Cloister reaches into bcmls 1.84's {@link Group} by reflection, because bcmls has no
 * public API for what Cloister needs: saving and restoring a member's state (it has no
 * serialization of a group), dropping cached proposals, forgetting the keys of messages the device
 * sent, and a decrypt-only copy of an old epoch ({@link LoneCommit}, the commit of a member left
 * alone, uses these fields and a few of {@code Group}'s private steps). Pinned to bcmls 1.84's
 * private field names; {@code GroupStateCodecTest} fails loudly if an upgrade changes them. Deep reflection into bcmls
 * is allowed in the unnamed module (the class path), which is how Cloister runs.
 *
 * <p>What is saved: group id, epoch, leaf index, signature key, transcript hashes, GroupContext
 * extensions, the public tree, the epoch's key schedule secrets, the private tree (path secrets
 * and node keys) and the secret tree with every sender's hash ratchets (position, next secret and
 * the keys of generations skipped but not yet used). Not saved: bcmls's proposal cache (the member
 * refills it from its own list), PSKs (Cloister uses none), a pending self-Update (never made),
 * the last commit secret (only read while that commit is made), and leaf secrets of the secret
 * tree whose ratchets already exist (never read again).
 */
final class GroupStateCodec {
    static final int FULL = 1;
    static final int DECRYPT_ONLY = 2;
    private static final int MAX_SECRET = 64;
    private static final int MAX_STATE = 8 * MlsMessages.MAX_MESSAGE;
    private static final int MAX_NODES = 2 * MlsMessages.MAX_LEAF_INDEX;

    static final Field EPOCH = field(Group.class, "epoch");
    private static final Field GROUP_ID = field(Group.class, "groupID");
    static final Field TRANSCRIPT = field(Group.class, "transcriptHash");
    private static final Field EXTENSIONS = field(Group.class, "extensions");
    private static final Field KEY_SCHEDULE = field(Group.class, "keySchedule");
    private static final Field TREE = field(Group.class, "tree");
    static final Field TREE_PRIV = field(Group.class, "treePriv");
    private static final Field KEYS = field(Group.class, "keys");
    private static final Field SUITE = field(Group.class, "suite");
    static final Field INDEX = field(Group.class, "index");
    static final Field IDENTITY_SK = field(Group.class, "identitySk");
    static final Field PENDING_PROPOSALS = field(Group.class, "pendingProposals");
    private static final Field CACHED_UPDATE = field(Group.class, "cachedUpdate");
    private static final Field EXTERNAL_PSKS = field(Group.class, "externalPSKs");
    private static final Field RESUMPTION_PSKS = field(Group.class, "resumptionPSKs");
    private static final Field PATH_SECRETS = field(TreeKEMPrivateKey.class, "pathSecrets");
    private static final Field PRIVATE_KEY_CACHE = field(TreeKEMPrivateKey.class, "privateKeyCache");
    private static final Field ENCRYPTION_SECRET_COMMIT = field(GroupKeySet.class, "encryptionSecretCommit");
    private static final Field HANDSHAKE_RATCHETS = field(GroupKeySet.class, "handshakeRatchets");
    private static final Field APPLICATION_RATCHETS = field(GroupKeySet.class, "applicationRatchets");
    private static final Field EXTERNAL_KEY_PAIR = field(KeyScheduleEpoch.class, "externalKeyPair");
    private static final Class<?> HASH_RATCHET = type("org.bouncycastle.mls.GroupKeySet$HashRatchet");
    private static final Constructor<?> NEW_HASH_RATCHET = constructor(HASH_RATCHET, GroupKeySet.class, Secret.class);
    private static final Field NEXT_SECRET = field(HASH_RATCHET, "nextSecret");
    private static final Field NEXT_GENERATION = field(HASH_RATCHET, "nextGeneration");
    private static final Field RATCHET_CACHE = field(HASH_RATCHET, "cache");

    private GroupStateCodec() {
    }

    static Field field(Class<?> type, String name) {
        try {
            Field f = type.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("bcmls is not 1.84: " + type.getName() + "." + name + " is missing", e);
        }
    }

    private static Class<?> type(String name) {
        try {
            return Class.forName(name);
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("bcmls is not 1.84: " + name + " is missing", e);
        }
    }

    private static Constructor<?> constructor(Class<?> type, Class<?>... parameters) {
        try {
            Constructor<?> c = type.getDeclaredConstructor(parameters);
            c.setAccessible(true);
            return c;
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("bcmls is not 1.84: no " + type.getName() + " constructor", e);
        }
    }

    @SuppressWarnings("unchecked")
    static <T> T get(Field f, Object target) {
        try {
            return (T) f.get(target);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    static void set(Field f, Object target, Object value) {
        try {
            f.set(target, value);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Empties the proposals bcmls cached from {@code Group.handle}. */
    static void clearPendingProposals(Group group) {
        List<?> cached = get(PENDING_PROPOSALS, group);
        cached.clear();
    }

    /**
     * Forgets the keys of messages this device sent: bcmls 1.84 caches every generation it draws,
     * its own included, and never erases those, so they would stay in memory (and in saved state)
     * for the rest of the epoch. The ratchet position is kept: a generation is never used twice.
     */
    static void forgetSentKeys(Group group) {
        GroupKeySet keys = get(KEYS, group);
        Object ratchet = ratchets(keys, APPLICATION_RATCHETS).get(group.getIndex());
        if (ratchet != null) {
            Map<Integer, KeyGeneration> cache = get(RATCHET_CACHE, ratchet);
            cache.clear();
        }
    }

    /** The next application generation of {@code sender}'s ratchet, 0 before its first message. */
    static int nextApplicationGeneration(Group group, int sender) {
        GroupKeySet keys = get(KEYS, group);
        Object ratchet = ratchets(keys, APPLICATION_RATCHETS).get(new LeafIndex(sender));
        return ratchet == null ? 0 : get(NEXT_GENERATION, ratchet);
    }

    /** The sender-data secret of the group's epoch (to read a PrivateMessage's sender data first). */
    static byte[] senderDataSecret(Group group) {
        KeyScheduleEpoch schedule = group.getKeySchedule();
        return schedule.senderDataSecret.value();
    }

    @SuppressWarnings("unchecked")
    private static Map<LeafIndex, Object> ratchets(GroupKeySet keys, Field which) {
        return (Map<LeafIndex, Object>) get(which, keys);
    }

    /**
     * A copy of {@code group} that can only decrypt the epoch's remaining PrivateMessages: the
     * secret tree and ratchets (shared with the original, which is dropped), the sender-data
     * secret, and the public tree and GroupContext to verify signatures. No private tree, no
     * signature key, no other epoch secret: the previous epoch's grace costs no more than that.
     */
    static Group decryptOnly(Group group) {
        try {
            Group g = new Group();
            MlsCipherSuite suite = group.getSuite();
            TranscriptHash th = get(TRANSCRIPT, group);
            set(EPOCH, g, group.getEpoch());
            set(GROUP_ID, g, group.getGroupID().clone());
            set(TRANSCRIPT, g, new TranscriptHash(suite, th.getConfirmed(), th.getInterim()));
            set(EXTENSIONS, g, new ArrayList<>(group.getExtensions()));
            set(KEY_SCHEDULE, g, schedule(suite, new Secret[] {null, new Secret(senderDataSecret(group).clone()),
                    null, null, null, null, null, null, null, null}));
            set(TREE, g, group.getTree());
            set(TREE_PRIV, g, new TreeKEMPrivateKey(suite, group.getIndex()));
            set(KEYS, g, get(KEYS, group));
            set(SUITE, g, suite);
            set(INDEX, g, group.getIndex());
            set(IDENTITY_SK, g, new byte[0]);
            emptyCaches(g);
            return g;
        } catch (Exception e) {
            throw new IllegalStateException("cannot copy the epoch for decryption: " + e.getMessage(), e);
        }
    }

    private static void emptyCaches(Group g) {
        set(PENDING_PROPOSALS, g, new ArrayList<>());
        set(CACHED_UPDATE, g, null);
        set(EXTERNAL_PSKS, g, new HashMap<>());
        set(RESUMPTION_PSKS, g, new HashMap<>());
    }

    /** A key schedule from its ten secrets (any may be absent), deriving the external key pair. */
    private static KeyScheduleEpoch schedule(MlsCipherSuite suite, Secret[] s) {
        for (int i = 0; i < s.length; i++) {
            if (s[i] == null) {
                s[i] = new Secret(null);
            }
        }
        AsymmetricCipherKeyPair external = s[8].value() == null ? null : suite.getHPKE().deriveKeyPair(s[8].value());
        return new KeyScheduleEpoch(suite, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], external, null, s[9]);
    }

    private static Secret[] secrets(KeyScheduleEpoch k) {
        return new Secret[] {k.initSecret, k.senderDataSecret, k.exporterSecret, k.confirmationKey, k.membershipKey,
                k.resumptionPSK, k.epochAuthenticator, k.encryptionSecret, k.externalSecret, k.joinerSecret};
    }

    private static byte[] value(Secret s) {
        return s == null ? null : s.value();
    }

    /** Saves a full state ({@link #FULL}) or a {@link #decryptOnly} copy ({@link #DECRYPT_ONLY}). */
    static byte[] encode(Group group, int kind) {
        try {
            if (kind == FULL) {
                Object update = get(CACHED_UPDATE, group);
                if (update != null && get(field(update.getClass(), "update"), update) != null) {
                    throw new IllegalStateException("a pending self-Update cannot be saved");
                }
            }
            MlsCipherSuite suite = group.getSuite();
            TranscriptHash th = get(TRANSCRIPT, group);
            StateWriter w = new StateWriter().u8(kind);
            w.u16(suite.getSuiteID());
            w.opaque(group.getGroupID()).u64(group.getEpoch()).u32(group.getIndex().value());
            byte[] sk = get(IDENTITY_SK, group);
            w.opaque(sk).opaque(th.getConfirmed()).optional(th.getInterim());
            StateWriter ext = new StateWriter();
            for (Extension e : group.getExtensions()) {
                ext.u16(e.extensionType.getValue()).opaque(e.extension_data);
            }
            w.opaque(ext.toByteArray());
            w.opaque(MLSOutputStream.encode(group.getTree()));
            for (Secret s : secrets(group.getKeySchedule())) {
                w.optional(value(s));
            }

            TreeKEMPrivateKey priv = get(TREE_PRIV, group);
            Map<NodeIndex, Secret> pathSecrets = get(PATH_SECRETS, priv);
            StateWriter paths = new StateWriter();
            for (Map.Entry<NodeIndex, Secret> e : pathSecrets.entrySet()) {
                paths.u32(e.getKey().value()).optional(value(e.getValue()));
            }
            w.opaque(paths.toByteArray());
            Map<NodeIndex, AsymmetricCipherKeyPair> nodeKeys = get(PRIVATE_KEY_CACHE, priv);
            StateWriter keyCache = new StateWriter();
            for (Map.Entry<NodeIndex, AsymmetricCipherKeyPair> e : nodeKeys.entrySet()) {
                keyCache.u32(e.getKey().value()).opaque(suite.getHPKE().serializePrivateKey(e.getValue().getPrivate()));
            }
            w.opaque(keyCache.toByteArray());

            GroupKeySet keys = get(KEYS, group);
            w.optional(value(get(ENCRYPTION_SECRET_COMMIT, keys)));
            Map<LeafIndex, Object> handshake = ratchets(keys, HANDSHAKE_RATCHETS);
            Map<LeafIndex, Object> application = ratchets(keys, APPLICATION_RATCHETS);
            StateWriter tree = new StateWriter();
            for (Map.Entry<NodeIndex, Secret> e : keys.secretTree.secrets.entrySet()) {
                NodeIndex n = e.getKey();
                boolean used = n.isLeaf() && (handshake.containsKey(new LeafIndex(n)) || application.containsKey(new LeafIndex(n)));
                tree.u32(n.value()).optional(used ? null : value(e.getValue()));
            }
            w.opaque(tree.toByteArray());
            w.opaque(ratchetBytes(handshake));
            w.opaque(ratchetBytes(application));
            return w.toByteArray();
        } catch (IllegalStateException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("cannot save group state: " + e.getMessage(), e);
        }
    }

    private static byte[] ratchetBytes(Map<LeafIndex, Object> ratchets) {
        StateWriter w = new StateWriter();
        for (Map.Entry<LeafIndex, Object> e : ratchets.entrySet()) {
            Object r = e.getValue();
            Secret next = get(NEXT_SECRET, r);
            int generation = get(NEXT_GENERATION, r);
            Map<Integer, KeyGeneration> cache = get(RATCHET_CACHE, r);
            StateWriter entries = new StateWriter();
            for (KeyGeneration k : cache.values()) {
                entries.u32(k.generation).opaque(k.key).opaque(k.nonce);
            }
            w.u32(e.getKey().value()).optional(value(next)).u32(generation).opaque(entries.toByteArray());
        }
        return w.toByteArray();
    }

    /**
     * Restores a state written by {@link #encode}, bounded and checked: the leaf must be ours in
     * the tree and, for a full state, the private tree must match the public one.
     */
    static Group decode(MlsReader r, byte[] expectedIdentitySk, int expectedKind) throws MlsWireException {
        MlsCipherSuite suite = MlsSuite.SUITE;
        int kind = r.u8("group state kind");
        if (kind != expectedKind) {
            throw new MlsWireException("group state of kind " + kind + " where " + expectedKind + " was expected");
        }
        if (r.u16("cipher suite") != suite.getSuiteID()) {
            throw new MlsWireException("group state for another cipher suite");
        }
        byte[] groupId = r.opaque("group id", MlsMessages.MAX_GROUP_ID);
        long epoch = r.u64("epoch");
        int index = (int) r.u32("leaf index");
        byte[] identitySk = r.opaque("signature key", MlsMessages.MAX_KEY);
        byte[] confirmed = r.opaque("confirmed transcript hash", MlsMessages.MAX_TAG);
        byte[] interim = optional(r, "interim transcript hash", MlsMessages.MAX_TAG);
        ArrayList<Extension> extensions = new ArrayList<>();
        MlsReader ext = r.vector("extensions", MlsMessages.MAX_EXTENSIONS);
        while (ext.remaining() > 0) {
            int type = ext.u16("extension type");
            // bcmls 1.84 maps extension types above 5 to the wrong enum values.
            if (type > MlsMessages.EXT_EXTERNAL_SENDERS) {
                throw new MlsWireException("extension type " + type + " in group state");
            }
            extensions.add(new Extension(type, ext.opaque("extension data", MlsMessages.MAX_EXTENSIONS)));
        }
        byte[] treeBytes = r.opaque("ratchet tree", MlsMessages.MAX_MESSAGE);
        List<MlsMessages.LeafNode> leaves = MlsMessages.parseRatchetTree(treeBytes);
        if (index >= leaves.size() || leaves.get(index) == null) {
            throw new MlsWireException("group state's own leaf " + index + " is not in its tree");
        }
        if (kind == FULL && !java.util.Arrays.equals(identitySk, expectedIdentitySk)) {
            throw new MlsWireException("group state belongs to another device identity");
        }
        Secret[] scheduleSecrets = new Secret[10];
        for (int i = 0; i < scheduleSecrets.length; i++) {
            scheduleSecrets[i] = secret(r, "key schedule secret");
        }
        MlsReader paths = r.vector("path secrets", MAX_STATE);
        MlsReader nodeKeys = r.vector("node keys", MAX_STATE);
        Secret commitment = secret(r, "encryption secret commitment");
        MlsReader secretTree = r.vector("secret tree", MAX_STATE);
        MlsReader handshake = r.vector("handshake ratchets", MAX_STATE);
        MlsReader application = r.vector("application ratchets", MAX_STATE);

        try {
            Group g = new Group();
            TreeKEMPublicKey tree = (TreeKEMPublicKey) MLSInputStream.decode(treeBytes, TreeKEMPublicKey.class);
            tree.setSuite(suite);
            tree.setHashAll();
            LeafIndex leaf = new LeafIndex(index);
            TreeKEMPrivateKey priv = new TreeKEMPrivateKey(suite, leaf);
            while (paths.remaining() > 0) {
                priv.insertPathSecret(node(paths), secret(paths, "path secret"));
            }
            while (nodeKeys.remaining() > 0) {
                NodeIndex n = node(nodeKeys);
                priv.insertPrivateKey(n, suite.getHPKE().deserializePrivateKey(nodeKeys.opaque("node key", MlsMessages.MAX_KEY), null));
            }
            if (kind == FULL && !priv.consistent(tree)) {
                throw new MlsWireException("group state's private keys do not match its tree");
            }
            if (!tree.verifyParentHash()) {
                throw new MlsWireException("group state's tree has invalid parent hashes");
            }
            GroupKeySet keys = new GroupKeySet(suite, tree.getSize(), new Secret(new byte[suite.getKDF().getHashLength()]));
            set(ENCRYPTION_SECRET_COMMIT, keys, commitment);
            keys.secretTree.secrets.clear();
            while (secretTree.remaining() > 0) {
                NodeIndex n = node(secretTree);
                keys.secretTree.secrets.put(n, secret(secretTree, "secret tree node"));
            }
            readRatchets(handshake, keys, ratchets(keys, HANDSHAKE_RATCHETS));
            readRatchets(application, keys, ratchets(keys, APPLICATION_RATCHETS));

            set(EPOCH, g, epoch);
            set(GROUP_ID, g, groupId);
            set(TRANSCRIPT, g, new TranscriptHash(suite, confirmed, interim));
            set(EXTENSIONS, g, extensions);
            set(KEY_SCHEDULE, g, schedule(suite, scheduleSecrets));
            set(TREE, g, tree);
            set(TREE_PRIV, g, priv);
            set(KEYS, g, keys);
            set(SUITE, g, suite);
            set(INDEX, g, leaf);
            set(IDENTITY_SK, g, identitySk);
            emptyCaches(g);
            return g;
        } catch (MlsWireException e) {
            throw e;
        } catch (Exception e) {
            throw new MlsWireException("group state does not restore: " + e.getMessage());
        }
    }

    private static void readRatchets(MlsReader r, GroupKeySet keys, Map<LeafIndex, Object> into) throws Exception {
        while (r.remaining() > 0) {
            long leaf = r.u32("ratchet leaf");
            if (leaf >= MlsMessages.MAX_LEAF_INDEX) {
                throw new MlsWireException("ratchet leaf out of range");
            }
            Secret next = secret(r, "ratchet secret");
            long generation = r.u32("ratchet generation");
            if (generation > Integer.MAX_VALUE) {
                throw new MlsWireException("ratchet generation out of range");
            }
            Object ratchet = NEW_HASH_RATCHET.newInstance(keys, next);
            set(NEXT_GENERATION, ratchet, (int) generation);
            Map<Integer, KeyGeneration> cache = get(RATCHET_CACHE, ratchet);
            MlsReader entries = r.vector("ratchet cache", MAX_STATE);
            while (entries.remaining() > 0) {
                long g = entries.u32("cached generation");
                if (g >= generation) {
                    throw new MlsWireException("cached generation ahead of its ratchet");
                }
                byte[] key = entries.opaque("cached key", MAX_SECRET);
                byte[] nonce = entries.opaque("cached nonce", MAX_SECRET);
                cache.put((int) g, new KeyGeneration((int) g, new Secret(key), new Secret(nonce)));
            }
            into.put(new LeafIndex((int) leaf), ratchet);
        }
    }

    private static NodeIndex node(MlsReader r) throws MlsWireException {
        long n = r.u32("node index");
        if (n >= MAX_NODES) {
            throw new MlsWireException("node index out of range");
        }
        return new NodeIndex(n);
    }

    /** An absent secret is one bcmls consumed: it comes back consumed. */
    private static Secret secret(MlsReader r, String what) throws MlsWireException {
        return new Secret(optional(r, what, MAX_SECRET));
    }

    private static byte[] optional(MlsReader r, String what, int max) throws MlsWireException {
        int present = r.u8(what);
        if (present == 0) {
            return null;
        }
        if (present != 1) {
            throw new MlsWireException("invalid presence flag of " + what);
        }
        return r.opaque(what, max);
    }
}
