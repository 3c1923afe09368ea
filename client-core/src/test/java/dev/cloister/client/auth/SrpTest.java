package dev.cloister.client.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigInteger;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.bouncycastle.crypto.agreement.srp.SRP6Server;
import org.bouncycastle.crypto.agreement.srp.SRP6Util;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.junit.jupiter.api.Test;

/** The client's SRP-6a against Bouncy Castle's server side, offline: the same numbers both ways. */
class SrpTest {

  private static final HexFormat HEX = HexFormat.of();

  /** Server side of one login, computed as the README's formulas (via SRP6Server). */
  private static final class ServerSide {
    final SRP6Server srp = new SRP6Server();
    final BigInteger b;

    ServerSide(Srp.Verifier v) {
      srp.init(Srp.GROUP, new BigInteger(v.verifier(), 16), new SHA256Digest(), new SecureRandom());
      b = srp.generateServerCredentials();
    }
  }

  @Test
  void verifierIsGToTheXForTheSaltAndPassword() {
    byte[] salt = HEX.parseHex("9f1c".repeat(16));
    Srp.Verifier v = Srp.verifier(salt, "alice", "pw");
    assertThat(v.salt()).isEqualTo("9f1c".repeat(16));
    // x = H(salt | H("alice:pw")) computed by hand with SHA-256.
    var sha = new SHA256Digest();
    byte[] inner = new byte[32];
    byte[] id = "alice:pw".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    sha.update(id, 0, id.length);
    sha.doFinal(inner, 0);
    byte[] x = new byte[32];
    sha.update(salt, 0, salt.length);
    sha.update(inner, 0, inner.length);
    sha.doFinal(x, 0);
    BigInteger expected = Srp.GROUP.getG().modPow(new BigInteger(1, x), Srp.GROUP.getN());
    assertThat(new BigInteger(v.verifier(), 16)).isEqualTo(expected);
    assertThat(Srp.verifier("alice", "pw").salt()).hasSize(2 * Srp.SALT_BYTES);
  }

  @Test
  void aLoginAgreesWithTheServerAndChecksItsEvidence() throws Exception {
    Srp.Verifier v = Srp.verifier("alice", "pw");
    ServerSide server = new ServerSide(v);
    Srp.Exchange client = new Srp.Exchange("alice", "pw");
    String m1 = client.evidence(v.salt(), server.b.toString(16));
    server.srp.calculateSecret(new BigInteger(client.clientPublic(), 16));
    assertThat(server.srp.verifyClientEvidenceMessage(new BigInteger(m1, 16))).isTrue();
    client.verifyServer(server.srp.calculateServerEvidenceMessage().toString(16));
  }

  @Test
  void aServerThatDoesNotKnowTheVerifierIsNotTrusted() throws Exception {
    // An impostor holds a verifier for another password: its M2 cannot match.
    Srp.Verifier real = Srp.verifier("alice", "pw");
    Srp.Verifier forged = Srp.verifier(HEX.parseHex(real.salt()), "alice", "guess");
    ServerSide impostor = new ServerSide(forged);
    Srp.Exchange client = new Srp.Exchange("alice", "pw");
    String m1 = client.evidence(real.salt(), impostor.b.toString(16));
    BigInteger a = new BigInteger(client.clientPublic(), 16);
    BigInteger s = impostor.srp.calculateSecret(a);
    // M2 = H(PAD(A) | PAD(M1) | PAD(S)) with the impostor's S, as it would answer.
    String m2 = SRP6Util.calculateM2(new SHA256Digest(), Srp.GROUP.getN(), a,
        new BigInteger(m1, 16), s).toString(16);
    assertThatThrownBy(() -> client.verifyServer(m2))
        .isInstanceOf(ServerAuthenticationException.class);
    assertThatThrownBy(() -> client.verifyServer("not hex"))
        .isInstanceOf(ServerAuthenticationException.class);
  }

  @Test
  void aZeroBIsRefusedBeforeAnyEvidenceIsSent() {
    Srp.Exchange client = new Srp.Exchange("alice", "pw");
    assertThatThrownBy(() -> client.evidence("00", Srp.GROUP.getN().toString(16)))
        .isInstanceOf(ServerAuthenticationException.class);
  }
}
