package dev.cloister.client.http;

/** No answer from the server at all: refused, reset, timed out or not resolvable. */
public final class ServerUnreachableException extends RuntimeException {

  public ServerUnreachableException(String message, Throwable cause) {
    super(message, cause);
  }
}
