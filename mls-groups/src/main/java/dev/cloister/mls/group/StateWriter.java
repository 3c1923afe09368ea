package dev.cloister.mls.group;

import dev.cloister.mls.wire.MlsReader;
import java.io.ByteArrayOutputStream;

/**
 * Writes the device's own storage formats (key package bundles, group state) in the TLS
 * presentation language, so they are read back with the same bounded {@link MlsReader}.
 */
final class StateWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    StateWriter u8(int v) {
        out.write(v);
        return this;
    }

    StateWriter bool(boolean v) {
        return u8(v ? 1 : 0);
    }

    StateWriter u16(int v) {
        out.write(v >>> 8);
        out.write(v);
        return this;
    }

    StateWriter u32(long v) {
        for (int i = 3; i >= 0; i--) {
            out.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    StateWriter u64(long v) {
        for (int i = 7; i >= 0; i--) {
            out.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    StateWriter opaque(byte[] data) {
        out.writeBytes(MlsReader.opaqueOf(data));
        return this;
    }

    /** An optional opaque: a presence byte, then the bytes (a consumed bcmls secret is absent). */
    StateWriter optional(byte[] data) {
        if (data == null) {
            return u8(0);
        }
        return u8(1).opaque(data);
    }

    StateWriter raw(byte[] data) {
        out.writeBytes(data);
        return this;
    }

    byte[] toByteArray() {
        return out.toByteArray();
    }
}
