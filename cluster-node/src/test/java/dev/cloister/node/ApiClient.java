package dev.cloister.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import org.bouncycastle.crypto.agreement.srp.SRP6Client;
import org.bouncycastle.crypto.agreement.srp.SRP6StandardGroups;
import org.bouncycastle.crypto.agreement.srp.SRP6Util;
import org.bouncycastle.crypto.agreement.srp.SRP6VerifierGenerator;
import org.bouncycastle.crypto.digests.SHA256Digest;

/** A client of the REST API written from the README: SRP-6a login, then bearer tokens. Tests and load drivers share it. */
public final class ApiClient {

  public record Response(int status, JsonNode body, HttpResponse<String> raw) {}

  static final ObjectMapper JSON = new ObjectMapper();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).build();
  private final String base;

  public ApiClient(String base) {
    this.base = base;
  }

  public Response call(String method, String path, String body, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
        .timeout(Duration.ofSeconds(30))
        .method(method, body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
        .header("Content-Type", "application/json");
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode json = r.body().isEmpty() ? null : JSON.readTree(r.body());
    return new Response(r.statusCode(), json, r);
  }

  Response post(String path, Object body, String token) throws Exception {
    return call("POST", path, JSON.writeValueAsString(body), token);
  }

  Response get(String path, String token) throws Exception {
    return call("GET", path, null, token);
  }

  public Response register(String username, String password) throws Exception {
    byte[] salt = new byte[16];
    RANDOM.nextBytes(salt);
    SRP6VerifierGenerator gen = new SRP6VerifierGenerator();
    gen.init(SRP6StandardGroups.rfc5054_2048, new SHA256Digest());
    BigInteger v = gen.generateVerifier(salt, utf8(username), utf8(password));
    return post("/api/v1/auth/register", java.util.Map.of(
        "username", username, "salt", HexFormat.of().formatHex(salt), "verifier", v.toString(16)),
        null);
  }

  /** Logs in; returns the finish response after checking the server's evidence M2. */
  Response login(String username, String password) throws Exception {
    LateSaltClient srp = new LateSaltClient();
    srp.init(SRP6StandardGroups.rfc5054_2048, new SHA256Digest(), RANDOM);
    Response start = startLogin(username, srp, password);
    if (start.status() != 200) {
      return start;
    }
    BigInteger s = srp.calculateSecret(new BigInteger(start.body().get("B").asText(), 16));
    BigInteger m1 = srp.calculateClientEvidenceMessage();
    Response finish = post("/api/v1/auth/login/finish", java.util.Map.of(
        "loginId", start.body().get("loginId").asText(), "M1", m1.toString(16)), null);
    if (finish.status() == 200
        && !srp.verifyServerEvidenceMessage(new BigInteger(finish.body().get("M2").asText(), 16))) {
      throw new AssertionError("the server's M2 does not prove it knows the verifier");
    }
    return finish;
  }

  /**
   * SRP-6a's A does not depend on the salt, but the salt only arrives with the answer that carries
   * B; Bouncy Castle's client wants it up front, so x is computed again once it is known.
   */
  static final class LateSaltClient extends SRP6Client {
    void salt(byte[] salt, byte[] identity, byte[] password) {
      this.x = SRP6Util.calculateX(digest, N, salt, identity, password);
    }
  }

  /** Starts a login and primes {@code srp} with the salt the server returned. */
  Response startLogin(String username, LateSaltClient srp, String password) throws Exception {
    BigInteger a = srp.generateClientCredentials(new byte[1], utf8(username), utf8(password));
    Response start = post("/api/v1/auth/login/start",
        java.util.Map.of("username", username, "A", a.toString(16)), null);
    if (start.status() == 200) {
      srp.salt(HexFormat.of().parseHex(start.body().get("salt").asText()), utf8(username),
          utf8(password));
    }
    return start;
  }

  public String token(String username, String password) throws Exception {
    Response r = login(username, password);
    if (r.status() != 200) {
      throw new AssertionError("login failed: " + r.status() + " " + r.body());
    }
    return r.body().get("token").asText();
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
