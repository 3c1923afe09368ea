package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bouncycastle.mls.protocol.Group;

/**
 * The delivery service's proposals a member took in the current epoch, by ProposalRef, in
 * arrival order, and the refs the service revoked. This list, not bcmls, is the truth: bcmls 1.84
 * caches handled proposals in a private list, commits all of them and has no way to drop one, so
 * after a revocation (or a restore) its cache is emptied and refilled from here.
 */
final class HeldProposals {
    static final long ADD = -1L;
    static final long OTHER = -2L;
    private static final HexFormat HEX = HexFormat.of();

    /** A proposal's message and what it does: the leaf a Remove targets, {@link #ADD} or {@link #OTHER}. */
    record Held(byte[] message, long target) {
    }

    private final Map<String, Held> byRef = new LinkedHashMap<>();
    private final Set<String> revoked = new HashSet<>();

    void take(byte[] ref, byte[] message, long target) {
        byRef.put(HEX.formatHex(ref), new Held(message.clone(), target));
    }

    int size() {
        return byRef.size();
    }

    boolean removes(int leaf) {
        return byRef.values().stream().anyMatch(h -> h.target() == leaf);
    }

    boolean anyAdd() {
        return byRef.values().stream().anyMatch(h -> h.target() == ADD);
    }

    /** Drops the revoked refs this member holds and remembers all of them; true if any was held. */
    boolean revoke(List<byte[]> refs) {
        boolean dropped = false;
        for (byte[] ref : refs) {
            String hex = HEX.formatHex(ref);
            revoked.add(hex);
            dropped |= byRef.remove(hex) != null;
        }
        return dropped;
    }

    void clear() {
        byRef.clear();
        revoked.clear();
    }

    /**
     * Empties bcmls's proposal cache and hands it every held proposal again (bcmls re-verifies
     * each), except a Remove of {@code myLeaf}, which bcmls refuses and the member tracks itself.
     */
    void refill(Group group, int myLeaf) throws MlsGroupException {
        GroupStateCodec.clearPendingProposals(group);
        for (Held held : byRef.values()) {
            if (held.target() == myLeaf) {
                continue;
            }
            try {
                group.handle(held.message(), null);
            } catch (Exception e) {
                throw new MlsGroupException("a proposal taken earlier is refused now: " + e.getMessage(), e);
            }
        }
    }

    /**
     * A member's commit must reference exactly the held proposals, each by reference (bcmls 1.84
     * silently drops references it does not know). Returns whether it removes {@code myLeaf}.
     */
    boolean check(MlsMessages.Commit commit, int myLeaf) throws MlsGroupException {
        boolean removesMe = false;
        Set<String> seen = new HashSet<>();
        for (MlsMessages.ProposalOrRef item : commit.proposals()) {
            if (!item.isReference()) {
                throw new MlsGroupException("commit carries an inline proposal");
            }
            String ref = HEX.formatHex(item.reference());
            Held held = byRef.get(ref);
            if (held == null) {
                throw new MlsGroupException(revoked.contains(ref)
                        ? "commit references a proposal the delivery service revoked"
                        : "commit references a proposal this member never received");
            }
            if (!seen.add(ref)) {
                throw new MlsGroupException("commit references a proposal twice");
            }
            removesMe |= held.target() == myLeaf;
        }
        if (seen.size() != byRef.size()) {
            throw new MlsGroupException("commit does not reference every pending proposal");
        }
        return removesMe;
    }

    void writeTo(StateWriter w) {
        StateWriter held = new StateWriter();
        for (Map.Entry<String, Held> e : byRef.entrySet()) {
            held.opaque(HEX.parseHex(e.getKey())).opaque(e.getValue().message()).u64(e.getValue().target());
        }
        StateWriter gone = new StateWriter();
        for (String ref : revoked) {
            gone.opaque(HEX.parseHex(ref));
        }
        w.opaque(held.toByteArray()).opaque(gone.toByteArray());
    }

    static HeldProposals read(MlsReader r) throws MlsWireException {
        HeldProposals p = new HeldProposals();
        MlsReader held = r.vector("held proposals", 64 * MlsMessages.MAX_PROPOSALS_BYTES);
        while (held.remaining() > 0) {
            if (p.byRef.size() == MlsMessages.MAX_PROPOSALS) {
                throw new MlsWireException("more than " + MlsMessages.MAX_PROPOSALS + " held proposals");
            }
            byte[] ref = held.opaque("proposal ref", MlsMessages.MAX_TAG);
            byte[] message = held.opaque("proposal message", MlsMessages.MAX_MESSAGE);
            long target = held.u64("proposal target");
            if (target < OTHER || target >= MlsMessages.MAX_LEAF_INDEX) {
                throw new MlsWireException("invalid proposal target");
            }
            p.take(ref, message, target);
        }
        MlsReader gone = r.vector("revoked proposals", MlsMessages.MAX_PROPOSALS_BYTES);
        while (gone.remaining() > 0) {
            p.revoked.add(HEX.formatHex(gone.opaque("revoked ref", MlsMessages.MAX_TAG)));
        }
        return p;
    }

    List<Held> held() {
        return new ArrayList<>(byRef.values());
    }
}
