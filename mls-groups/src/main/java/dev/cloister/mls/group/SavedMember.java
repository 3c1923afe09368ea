package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import org.bouncycastle.mls.protocol.Group;

/**
 * The saved form of a {@link GroupMember} ({@code toBytes}/{@code fromBytes}): a format byte,
 * status, group id, where membership ended, held proposals, the current epoch, a commit awaiting
 * the server with the state it leads to, the previous epoch's decrypt-only state, and a SHA-256 of
 * all that, so corruption is refused on restore rather than discovered later. Read with the
 * bounded {@link MlsReader}; the bcmls parts go through {@link GroupStateCodec}.
 */
record SavedMember(GroupMember.Status status, byte[] groupId, long lastEpoch, int lastLeaf, HeldProposals proposals,
                   Group group, byte[] pendingCommit, Group pendingNext, Group previous) {
    static final int FORMAT = 1;
    private static final int MAX_STATE = 64 * 1024 * 1024;
    private static final int DIGEST = 32;

    byte[] toBytes() {
        StateWriter w = new StateWriter().u8(FORMAT).u8(status.ordinal()).opaque(groupId).u64(lastEpoch).u32(lastLeaf);
        proposals.writeTo(w);
        w.optional(group == null ? null : GroupStateCodec.encode(group, GroupStateCodec.FULL));
        w.optional(pendingCommit);
        w.optional(pendingNext == null ? null : GroupStateCodec.encode(pendingNext, GroupStateCodec.FULL));
        w.optional(previous == null ? null : GroupStateCodec.encode(previous, GroupStateCodec.DECRYPT_ONLY));
        byte[] body = w.toByteArray();
        byte[] out = Arrays.copyOf(body, body.length + DIGEST);
        System.arraycopy(sha256(body), 0, out, body.length, DIGEST);
        return out;
    }

    static SavedMember fromBytes(DeviceIdentity identity, byte[] bytes) throws MlsGroupException {
        if (bytes == null || bytes.length <= DIGEST + 1 || bytes.length > MAX_STATE) {
            throw new MlsGroupException("malformed group state: missing, too short or larger than " + MAX_STATE + " bytes");
        }
        byte[] body = Arrays.copyOf(bytes, bytes.length - DIGEST);
        if (!MessageDigest.isEqual(sha256(body), Arrays.copyOfRange(bytes, body.length, bytes.length))) {
            throw new MlsGroupException("corrupt group state: checksum mismatch");
        }
        try {
            MlsReader r = new MlsReader(body);
            int format = r.u8("format");
            if (format != FORMAT) {
                throw new MlsWireException("unknown format " + format);
            }
            int statusCode = r.u8("status");
            if (statusCode >= GroupMember.Status.values().length) {
                throw new MlsWireException("unknown status " + statusCode);
            }
            SavedMember saved = new SavedMember(GroupMember.Status.values()[statusCode],
                    r.opaque("group id", MlsMessages.MAX_GROUP_ID), r.u64("last epoch"), (int) r.u32("last leaf"),
                    HeldProposals.read(r), group(r, identity, GroupStateCodec.FULL),
                    optional(r, "pending commit", MlsMessages.MAX_MESSAGE), group(r, identity, GroupStateCodec.FULL),
                    group(r, identity, GroupStateCodec.DECRYPT_ONLY));
            r.expectEnd("group state");
            saved.check();
            return saved;
        } catch (MlsWireException e) {
            throw new MlsGroupException("malformed group state: " + e.getMessage());
        }
    }

    /** The parts must fit together. */
    private void check() throws MlsWireException {
        for (Group g : Arrays.asList(group, pendingNext, previous)) {
            if (g != null && !Arrays.equals(g.getGroupID(), groupId)) {
                throw new MlsWireException("state of another group inside");
            }
        }
        if ((pendingCommit == null) != (pendingNext == null)) {
            throw new MlsWireException("a pending commit without the state it leads to");
        }
        if (pendingNext != null && group != null && pendingNext.getEpoch() != group.getEpoch() + 1) {
            throw new MlsWireException("pending state is not for the next epoch");
        }
        boolean active = status == GroupMember.Status.ACTIVE;
        if (active && group == null && pendingNext == null) {
            throw new MlsWireException("an active member without state");
        }
        if (!active && (group != null || pendingNext != null || proposals.size() > 0)) {
            throw new MlsWireException("a former member with group secrets");
        }
        if (status == GroupMember.Status.LEFT && previous != null) {
            throw new MlsWireException("a device that left with keys of the group");
        }
        long expected = group != null ? group.getEpoch() - 1 : lastEpoch;
        if (previous != null && previous.getEpoch() != expected) {
            throw new MlsWireException("kept epoch " + previous.getEpoch() + " is not the one before " + (expected + 1));
        }
        if (group == null && proposals.size() > 0) {
            throw new MlsWireException("proposals held before joining");
        }
    }

    private static Group group(MlsReader r, DeviceIdentity identity, int kind) throws MlsWireException {
        byte[] state = optional(r, "group state", MAX_STATE);
        if (state == null) {
            return null;
        }
        MlsReader inner = new MlsReader(state);
        Group g = GroupStateCodec.decode(inner, identity.signaturePrivate(), kind);
        inner.expectEnd("epoch state");
        return g;
    }

    private static byte[] optional(MlsReader r, String what, int max) throws MlsWireException {
        int present = r.u8(what);
        if (present > 1) {
            throw new MlsWireException("invalid presence flag of " + what);
        }
        return present == 0 ? null : r.opaque(what, max);
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
