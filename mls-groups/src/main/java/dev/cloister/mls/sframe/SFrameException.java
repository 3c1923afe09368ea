package dev.cloister.mls.sframe;

/** A frame that cannot be protected or unprotected; the message is the reason. */
public final class SFrameException extends RuntimeException {
    public SFrameException(String message) {
        super(message);
    }
}
