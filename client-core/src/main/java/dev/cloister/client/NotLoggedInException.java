package dev.cloister.client;

/** The home holds no usable session: nobody logged in there, or the token expired. */
public final class NotLoggedInException extends RuntimeException {

  public NotLoggedInException(String message) {
    super(message);
  }
}
