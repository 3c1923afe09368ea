package dev.cloister.client;

/** A home is one device of one account on one server; this call asked for another. */
public final class ProfileMismatchException extends RuntimeException {

  public ProfileMismatchException(String message) {
    super(message);
  }
}
