package dev.cloister.client.auth;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.Map;
import org.bouncycastle.crypto.CryptoException;
import org.bouncycastle.crypto.agreement.srp.SRP6Client;
import org.bouncycastle.crypto.agreement.srp.SRP6StandardGroups;
import org.bouncycastle.crypto.agreement.srp.SRP6Util;
import org.bouncycastle.crypto.agreement.srp.SRP6VerifierGenerator;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.params.SRP6GroupParameters;

/**
 * SRP-6a registration and login as the README specifies (RFC 5054 2048-bit group, SHA-256,
 * evidence as Bouncy Castle's {@link SRP6Client} computes it): the password never leaves this
 * process, and a login is trusted only once the server's M2 proves it holds the verifier.
 */
public final class Srp {

  static final SRP6GroupParameters GROUP = SRP6StandardGroups.rfc5054_2048;
  static final int SALT_BYTES = 32;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final HexFormat HEX = HexFormat.of();

  /** What registration sends: the salt and v = g^x mod N, both hex. */
  public record Verifier(String salt, String verifier) {}

  private final RestClient rest;

  public Srp(RestClient rest) {
    this.rest = rest;
  }

  /** A fresh random salt and the verifier for it: x = H(salt | H(username ":" password)). */
  public static Verifier verifier(String username, String password) {
    byte[] salt = new byte[SALT_BYTES];
    RANDOM.nextBytes(salt);
    return verifier(salt, username, password);
  }

  static Verifier verifier(byte[] salt, String username, String password) {
    SRP6VerifierGenerator gen = new SRP6VerifierGenerator();
    gen.init(GROUP, new SHA256Digest());
    BigInteger v = gen.generateVerifier(salt, utf8(username), utf8(password));
    return new Verifier(HEX.formatHex(salt), v.toString(16));
  }

  /** Creates the account; returns its user id. A taken name is an {@link ApiException} 409. */
  public String register(String username, String password) {
    Verifier v = verifier(username, password);
    JsonNode r = rest.post("/api/v1/auth/register",
        Map.of("username", username, "salt", v.salt(), "verifier", v.verifier()));
    return text(r, "userId");
  }

  /**
   * Logs in with two round trips (start: A → salt, B; finish: M1 → M2, token).
   *
   * @throws ApiException 401 for a wrong name or password (the server does not say which)
   * @throws ServerAuthenticationException the server failed to prove it knows the verifier
   */
  public Login login(String username, String password) {
    Exchange exchange = new Exchange(username, password);
    JsonNode start = rest.post("/api/v1/auth/login/start",
        Map.of("username", username, "A", exchange.clientPublic()));
    String m1 = exchange.evidence(text(start, "salt"), text(start, "B"));
    JsonNode finish = rest.post("/api/v1/auth/login/finish",
        Map.of("loginId", text(start, "loginId"), "M1", m1));
    exchange.verifyServer(text(finish, "M2"));
    Instant expiresAt;
    try {
      expiresAt = Instant.parse(text(finish, "expiresAt"));
    } catch (DateTimeParseException e) {
      throw new ApiException(200, "malformed_answer", "expiresAt is not an ISO-8601 time");
    }
    return new Login(text(finish, "userId"), username, text(finish, "token"), expiresAt);
  }

  /** One login's client side, from A to checking M2; separate from HTTP so it can be tested alone. */
  static final class Exchange {
    private final LateSaltClient srp = new LateSaltClient();
    private final byte[] identity;
    private final byte[] password;
    private final BigInteger a;

    Exchange(String username, String password) {
      this.identity = utf8(username);
      this.password = utf8(password);
      srp.init(GROUP, new SHA256Digest(), RANDOM);
      // A = g^a does not depend on the salt; x is computed again once the salt is known.
      this.a = srp.generateClientCredentials(new byte[1], identity, this.password);
    }

    String clientPublic() {
      return a.toString(16);
    }

    /** M1, after taking in the salt and B from login/start. */
    String evidence(String saltHex, String bHex) {
      byte[] salt;
      BigInteger b;
      try {
        salt = HEX.parseHex(saltHex);
        b = new BigInteger(bHex, 16);
      } catch (IllegalArgumentException e) {
        throw new ApiException(200, "malformed_answer", "login/start answered a salt or B that is not hex");
      }
      srp.salt(salt, identity, password);
      try {
        srp.calculateSecret(b);
        return srp.calculateClientEvidenceMessage().toString(16);
      } catch (CryptoException e) {
        throw new ServerAuthenticationException("the server sent an invalid B: " + e.getMessage());
      }
    }

    void verifyServer(String m2Hex) {
      boolean ok;
      try {
        ok = srp.verifyServerEvidenceMessage(new BigInteger(m2Hex, 16));
      } catch (CryptoException | NumberFormatException e) {
        ok = false;
      }
      if (!ok) {
        throw new ServerAuthenticationException(
            "the server's M2 does not prove it knows this account's verifier; not trusting it");
      }
    }
  }

  /** Bouncy Castle's client wants the salt before A, but the salt arrives with B: set x later. */
  private static final class LateSaltClient extends SRP6Client {
    void salt(byte[] salt, byte[] identity, byte[] password) {
      this.x = SRP6Util.calculateX(digest, N, salt, identity, password);
    }
  }

  private static String text(JsonNode node, String field) {
    JsonNode v = node == null ? null : node.get(field);
    if (v == null || !v.isTextual()) {
      throw new ApiException(200, "malformed_answer", "the answer has no string '" + field + "'");
    }
    return v.asText();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
