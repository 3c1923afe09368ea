package dev.cloister.node.auth;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Signed, expiring bearer tokens: {@code base64url(userId "." expiresAtSeconds "." nonce) "."
 * base64url(HMAC-SHA256)}. Stateless, so a token stays valid across restarts and on every node
 * that shares the key.
 */
public final class SessionTokens {

  public record Session(String userId, Instant expiresAt) {}

  public record Issued(String token, Instant expiresAt) {}

  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder B64D = Base64.getUrlDecoder();
  private static final int MAX_TOKEN_LENGTH = 512;

  private final SecretKeySpec key;
  private final Duration ttl;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  public SessionTokens(byte[] key, Duration ttl, Clock clock) {
    if (key.length < 32) {
      throw new IllegalArgumentException("the token key must be at least 32 bytes");
    }
    this.key = new SecretKeySpec(key.clone(), "HmacSHA256");
    this.ttl = ttl;
    this.clock = clock;
  }

  public Issued issue(String userId) {
    Instant expires = clock.instant().plus(ttl);
    byte[] nonce = new byte[12];
    random.nextBytes(nonce);
    String payload = userId + "." + expires.getEpochSecond() + "." + B64.encodeToString(nonce);
    String body = B64.encodeToString(payload.getBytes(StandardCharsets.UTF_8));
    return new Issued(body + "." + B64.encodeToString(mac(body)), expires);
  }

  /** The session a token stands for, if its signature holds and it has not expired. */
  public Optional<Session> verify(String token) {
    if (token == null || token.length() > MAX_TOKEN_LENGTH) {
      return Optional.empty();
    }
    int dot = token.indexOf('.');
    if (dot <= 0 || dot != token.lastIndexOf('.')) {
      return Optional.empty();
    }
    String body = token.substring(0, dot);
    try {
      // Compared in canonical form: another spelling of the same bytes is not the same token.
      byte[] expected = B64.encodeToString(mac(body)).getBytes(StandardCharsets.US_ASCII);
      byte[] given = token.substring(dot + 1).getBytes(StandardCharsets.US_ASCII);
      if (!MessageDigest.isEqual(expected, given)) {
        return Optional.empty();
      }
      String[] parts = new String(B64D.decode(body), StandardCharsets.UTF_8).split("\\.");
      if (parts.length != 3) {
        return Optional.empty();
      }
      Instant expires = Instant.ofEpochSecond(Long.parseLong(parts[1]));
      if (!clock.instant().isBefore(expires)) {
        return Optional.empty();
      }
      return Optional.of(new Session(parts[0], expires));
    } catch (IllegalArgumentException e) { // bad base64 or number
      return Optional.empty();
    }
  }

  private byte[] mac(String body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      return mac.doFinal(body.getBytes(StandardCharsets.US_ASCII));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is unavailable", e);
    }
  }

  /** A deterministic stand-in value derived from the key, e.g. a fake salt for unknown users. */
  byte[] derive(String purpose, String input, int length) {
    byte[] full = mac("derive:" + purpose + ":" + input);
    return ByteBuffer.allocate(length).put(full, 0, Math.min(length, full.length)).array();
  }
}
