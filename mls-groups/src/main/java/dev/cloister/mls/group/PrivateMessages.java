package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.util.Arrays;
import org.bouncycastle.mls.KeyGeneration;
import org.bouncycastle.mls.KeyScheduleEpoch;
import org.bouncycastle.mls.TreeKEM.LeafIndex;
import org.bouncycastle.mls.codec.MLSInputStream;
import org.bouncycastle.mls.codec.MLSMessage;
import org.bouncycastle.mls.crypto.MlsCipherSuite;
import org.bouncycastle.mls.protocol.Group;

/**
 * Opens chat PrivateMessages with the epochs a member keeps (the current one and a decrypt-only
 * copy of the previous one): the clear header is parsed and checked first (bounded, this group,
 * application content, a kept epoch), then the sender data is read before bcmls so a far-future
 * generation is refused, then bcmls decrypts and verifies the signature.
 */
final class PrivateMessages {
    /** How far past a sender's ratchet a message may claim to be (bcmls derives every key in between). */
    static final int MAX_GENERATION_SKIP = 1024;

    private PrivateMessages() {
    }

    static MlsMessages.PrivateMessageHeader header(byte[] message) throws MlsGroupException {
        try {
            return MlsMessages.parsePrivateMessageHeader(message);
        } catch (MlsWireException e) {
            throw new MlsGroupException("malformed message: " + e.getMessage());
        }
    }

    /** The plaintext of {@code message}, opened with {@code current} or {@code previous} (either may be null). */
    static byte[] open(byte[] groupId, Group current, Group previous, byte[] message) throws MlsGroupException {
        return openFrom(groupId, current, previous, message).plaintext();
    }

    /**
     * Like {@link #open}, with the sender: the leaf named in the sender data, whose ratchet key opened
     * the content and whose signature key verified it (bcmls checks both), so the sender is authentic.
     */
    static OpenedMessage openFrom(byte[] groupId, Group current, Group previous, byte[] message) throws MlsGroupException {
        MlsMessages.PrivateMessageHeader header = header(message);
        if (!Arrays.equals(header.groupId(), groupId)) {
            throw new MlsGroupException("message for another group");
        }
        if (header.contentType() != MlsMessages.CONTENT_APPLICATION) {
            throw new MlsGroupException("handshake messages travel as PublicMessage");
        }
        Group state = null;
        if (current != null && header.epoch() == current.getEpoch()) {
            state = current;
        } else if (previous != null && header.epoch() == previous.getEpoch()) {
            state = previous;
        }
        if (state == null) {
            throw new MlsGroupException("message from epoch " + header.epoch() + ", this device keeps only epochs "
                    + kept(current, previous));
        }
        try {
            int sender = checkGeneration(state, message, header);
            MLSMessage msg = (MLSMessage) MLSInputStream.decode(message, MLSMessage.class);
            byte[] plaintext = state.unprotect(msg)[1];
            DeviceCredential from = DeviceCredential.decode(
                    state.getTree().getLeafNode(new LeafIndex(sender)).getCredential().getIdentity());
            return new OpenedMessage(plaintext, from);
        } catch (MlsGroupException e) {
            throw e;
        } catch (Exception e) {
            throw new MlsGroupException("cannot decrypt: " + e.getMessage(), e);
        }
    }

    private static String kept(Group current, Group previous) {
        if (current == null) {
            return previous == null ? "(none)" : previous.getEpoch() + ".." + previous.getEpoch();
        }
        return (previous == null ? current.getEpoch() : previous.getEpoch()) + ".." + current.getEpoch();
    }

    /**
     * Reads the sender data before bcmls does and refuses a generation far past the sender's
     * ratchet: bcmls 1.84 derives and caches every key up to whatever generation a message claims,
     * so one message from a member could make this device derive two billion keys.
     */
    /** Returns the sender's leaf index. */
    private static int checkGeneration(Group state, byte[] message, MlsMessages.PrivateMessageHeader header)
            throws Exception {
        MlsReader r = new MlsReader(message);
        r.u16("version");
        r.u16("wire format");
        r.opaque("group_id", MlsMessages.MAX_GROUP_ID);
        r.u64("epoch");
        r.u8("content type");
        r.opaque("authenticated_data", MlsMessages.MAX_AUTHENTICATED_DATA);
        byte[] encryptedSenderData = r.opaque("encrypted_sender_data", MlsMessages.MAX_KEY);
        byte[] ciphertext = r.opaque("ciphertext", MlsMessages.MAX_MESSAGE);
        MlsCipherSuite suite = state.getSuite();
        KeyGeneration keys = KeyScheduleEpoch.senderDataKeys(suite, GroupStateCodec.senderDataSecret(state).clone(), ciphertext);
        byte[] aad = new StateWriter().opaque(header.groupId()).u64(header.epoch()).u8(header.contentType()).toByteArray();
        MlsReader senderData = new MlsReader(suite.getAEAD().open(keys.key, keys.nonce, aad, encryptedSenderData));
        long sender = senderData.u32("sender leaf");
        long generation = senderData.u32("generation");
        if (sender >= state.getTree().getSize().leafCount() || state.getTree().getLeafNode(new LeafIndex((int) sender)) == null) {
            throw new MlsGroupException("message from leaf " + sender + ", which is not a member");
        }
        long next = GroupStateCodec.nextApplicationGeneration(state, (int) sender);
        if (generation - next > MAX_GENERATION_SKIP) {
            throw new MlsGroupException("message claims generation " + generation + ", more than " + MAX_GENERATION_SKIP
                    + " past the sender's " + next);
        }
        return (int) sender;
    }
}
