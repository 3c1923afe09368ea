package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsReader;
import dev.cloister.mls.wire.MlsWireException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Who a leaf belongs to: the user id and device id carried in an MLS basic credential's identity
 * as {@code opaque user_id<V>; opaque device_id<V>} (UTF-8), so both sides parse it the same way.
 */
public record DeviceCredential(String userId, String deviceId) {
    public static final int MAX_ID_BYTES = 100;

    public DeviceCredential {
        check(userId, "user id");
        check(deviceId, "device id");
    }

    private static void check(String id, String what) {
        if (id == null || id.isEmpty() || id.getBytes(StandardCharsets.UTF_8).length > MAX_ID_BYTES) {
            throw new IllegalArgumentException(what + " must be 1.." + MAX_ID_BYTES + " UTF-8 bytes");
        }
    }

    public byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(MlsReader.opaqueOf(userId.getBytes(StandardCharsets.UTF_8)));
        out.writeBytes(MlsReader.opaqueOf(deviceId.getBytes(StandardCharsets.UTF_8)));
        return out.toByteArray();
    }

    public static DeviceCredential decode(byte[] identity) throws MlsWireException {
        MlsReader r = new MlsReader(identity);
        String user = new String(r.opaque("user id", MAX_ID_BYTES), StandardCharsets.UTF_8);
        String device = new String(r.opaque("device id", MAX_ID_BYTES), StandardCharsets.UTF_8);
        r.expectEnd("credential identity");
        try {
            return new DeviceCredential(user, device);
        } catch (IllegalArgumentException e) {
            throw new MlsWireException(e.getMessage());
        }
    }

    @Override
    public String toString() {
        return userId + "/" + deviceId;
    }
}
