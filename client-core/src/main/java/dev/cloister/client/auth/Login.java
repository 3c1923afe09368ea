package dev.cloister.client.auth;

import java.time.Instant;

/** A successful login: who, and the bearer token for REST and the gateway until {@code expiresAt}. */
public record Login(String userId, String username, String token, Instant expiresAt) {

  @Override
  public String toString() {
    // The token is a credential: keep it out of logs and exception messages.
    return "Login[userId=" + userId + ", username=" + username + ", expiresAt=" + expiresAt + "]";
  }
}
