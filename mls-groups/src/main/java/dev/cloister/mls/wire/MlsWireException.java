package dev.cloister.mls.wire;

/** Bytes that are not a well-formed, bounded MLS structure; the message is the reason. */
public final class MlsWireException extends Exception {
    public MlsWireException(String message) {
        super(message);
    }
}
