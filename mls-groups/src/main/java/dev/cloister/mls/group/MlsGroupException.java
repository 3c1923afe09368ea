package dev.cloister.mls.group;

/** A group operation or incoming message that was refused; the message says why. */
public final class MlsGroupException extends Exception {
    public MlsGroupException(String message) {
        super(message);
    }

    public MlsGroupException(String message, Throwable cause) {
        super(message, cause);
    }
}
