package dev.cloister.client.chat;

/** A chat operation that cannot be done now, with the reason a person can act on. */
public final class ChatException extends RuntimeException {

  public ChatException(String message) {
    super(message);
  }

  public ChatException(String message, Throwable cause) {
    super(message, cause);
  }
}
