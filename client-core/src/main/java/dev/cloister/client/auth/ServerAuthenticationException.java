package dev.cloister.client.auth;

/**
 * The server did not prove that it holds this account's verifier (a wrong M2, or a B that is
 * 0 mod N): it may be an impostor, so nothing it said in this login is trusted.
 */
public final class ServerAuthenticationException extends RuntimeException {

  public ServerAuthenticationException(String message) {
    super(message);
  }
}
