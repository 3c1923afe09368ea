package dev.cloister.mls.group;

import java.lang.reflect.Field;
import java.util.List;
import org.bouncycastle.mls.protocol.Group;

/**
 * The one place that reaches into bcmls 1.84's {@link Group} by reflection, because it has no
 * public API for what Cloister needs: dropping proposals it has cached. Pinned to bcmls 1.84's
 * private field names; {@code GroupStateCodecTest} fails loudly if an upgrade changes them.
 * Works in the unnamed module (the class path), where deep reflection into bcmls is allowed.
 */
final class GroupStateCodec {
    private static final Field PENDING_PROPOSALS = field(Group.class, "pendingProposals");

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

    /** Empties the proposals bcmls cached from {@code Group.handle}. */
    static void clearPendingProposals(Group group) {
        try {
            ((List<?>) PENDING_PROPOSALS.get(group)).clear();
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
