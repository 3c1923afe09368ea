package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, finding 11: with {@code cloister.cluster.tls} on, two nodes form a cluster over
 * mutual TLS with certificates from one CA, and the Artery port talks only to peers holding such
 * a certificate: a client with a self-signed one, or none, gets no further than the handshake.
 */
class ArteryTlsTest {

  private static final char[] PASSWORD = "test-secret".toCharArray();

  @Test
  void twoNodesFormAClusterOverMutualTlsAndStrangersAreRefused() throws Exception {
    Path keys = Files.createTempDirectory("cloister-tls");
    Path dirA = TestNodes.dataDir("cloister-tls-a");
    Path dirB = Files.createTempDirectory("cloister-tls-b");
    KeyPair ca = keyPair();
    X509Certificate caCert = certificate("CN=Cloister test cluster CA", ca.getPublic(),
        "CN=Cloister test cluster CA", ca.getPrivate(), true);
    Path trust = trustStore(keys.resolve("trust.p12"), caCert);
    Path storeA = nodeStore(keys.resolve("node-a.p12"), "CN=node-a", ca, caCert);
    Path storeB = nodeStore(keys.resolve("node-b.p12"), "CN=node-b", ca, caCert);
    KeyPair rogue = keyPair();
    X509Certificate rogueCert = certificate("CN=node-a", rogue.getPublic(), "CN=node-a",
        rogue.getPrivate(), false);

    byte[] tokenKey = new byte[32];
    new SecureRandom().nextBytes(tokenKey);
    int arteryA = TestNodes.freePort();
    Node a = null;
    Node b = null;
    try {
      a = Node.start(node(dirA, arteryA, 1, tokenKey, storeA, trust, Map.of()));
      b = Node.start(node(dirB, TestNodes.freePort(), 2, tokenKey, storeB, trust, Map.of(
          "cloister.db.url", a.databaseUrl(),
          "cloister.cluster.seed-nodes", "pekko://cloister@127.0.0.1:" + arteryA)));
      Cluster clusterA = Cluster.get(a.system());
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (upMembers(clusterA) < 2 && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertThat(upMembers(clusterA)).as("members up, seen from node A").isEqualTo(2);

      // A peer with a certificate from the CA gets through, and node A shows its own.
      try (SSLSocket s = connect(arteryA, nodeKeys(storeB), caCert)) {
        s.startHandshake();
        Certificate[] chain = s.getSession().getPeerCertificates();
        assertThat(((X509Certificate) chain[0]).getSubjectX500Principal().getName())
            .isEqualTo("CN=node-a");
      }
      // A self-signed certificate, even one that claims a node's name, does not.
      KeyStore rogueKeys = KeyStore.getInstance("PKCS12");
      rogueKeys.load(null, null);
      rogueKeys.setKeyEntry("node", rogue.getPrivate(), PASSWORD, new Certificate[] {rogueCert});
      assertRefused(arteryA, rogueKeys, caCert);
      // Nor does a client that shows none.
      KeyStore none = KeyStore.getInstance("PKCS12");
      none.load(null, null);
      assertRefused(arteryA, none, caCert);
      // The cluster is unharmed.
      assertThat(upMembers(clusterA)).isEqualTo(2);
    } finally {
      if (b != null) {
        b.stop();
      }
      if (a != null) {
        a.stop();
      }
      TestNodes.delete(dirA);
      TestNodes.delete(dirB);
      TestNodes.delete(keys);
    }
  }

  @Test
  void tlsOnWithoutAKeyStoreIsRefusedAtStartWithAMessageThatSaysWhy() throws Exception {
    Path dir = TestNodes.dataDir("cloister-tls-missing");
    try {
      assertThatThrownBy(() -> Node.start(ConfigFactory.parseMap(Map.of(
              "cloister.cluster.tls.enabled", true,
              "cloister.cluster.tls.key-store", dir.resolve("absent.p12").toString()))
          .withFallback(TestNodes.config(dir, TestNodes.freePort(), TestNodes.freePort()))))
          .hasStackTraceContaining("cloister.cluster.tls.key-store");
    } finally {
      TestNodes.delete(dir);
    }
  }

  private static long upMembers(Cluster cluster) {
    long up = 0;
    for (var m : cluster.state().getMembers()) {
      if (m.status() == MemberStatus.up()) {
        up++;
      }
    }
    return up;
  }

  private static void assertRefused(int port, KeyStore clientKeys, X509Certificate caCert) {
    assertThatThrownBy(() -> {
      try (SSLSocket s = connect(port, clientKeys, caCert)) {
        s.startHandshake();
        // TLS 1.3: the server judges the client's certificate after the client's Finished, so
        // the refusal may arrive on the first read.
        OutputStream out = s.getOutputStream();
        out.write(new byte[] {0});
        out.flush();
        if (s.getInputStream().read() < 0) {
          throw new javax.net.ssl.SSLException("closed by the node");
        }
      }
    }).isInstanceOf(java.io.IOException.class);
  }

  private static SSLSocket connect(int port, KeyStore clientKeys, X509Certificate caCert)
      throws Exception {
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(clientKeys, PASSWORD);
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", caCert);
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext tls = SSLContext.getInstance("TLSv1.3");
    tls.init(kmf.getKeyManagers(), tmf.getTrustManagers(), new SecureRandom());
    SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket("127.0.0.1", port);
    s.setSoTimeout(10_000);
    return s;
  }

  private static com.typesafe.config.Config node(Path dir, int artery, int nodeId, byte[] tokenKey,
      Path keyStore, Path trustStore, Map<String, Object> more) throws Exception {
    Map<String, Object> m = new HashMap<>(more);
    m.put("pekko.remote.artery.canonical.port", artery);
    m.put("cloister.node-id", nodeId);
    m.put("cloister.auth.token-key", Base64.getEncoder().encodeToString(tokenKey));
    m.put("pekko.cluster.jmx.multi-mbeans-in-same-jvm", "on");
    m.put("cloister.cluster.tls.enabled", true);
    m.put("cloister.cluster.tls.key-store", keyStore.toString());
    m.put("cloister.cluster.tls.key-store-password", new String(PASSWORD));
    m.put("cloister.cluster.tls.trust-store", trustStore.toString());
    m.put("cloister.cluster.tls.trust-store-password", new String(PASSWORD));
    return ConfigFactory.parseMap(m)
        .withFallback(TestNodes.config(dir, TestNodes.freePort(), TestNodes.freePort()));
  }

  // ---- a test CA ----

  private static KeyPair keyPair() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
    g.initialize(new ECGenParameterSpec("secp256r1"));
    return g.generateKeyPair();
  }

  private static X509Certificate certificate(String subject, java.security.PublicKey key,
      String issuer, PrivateKey signer, boolean ca) throws Exception {
    Instant now = Instant.now();
    JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new X500Name(issuer),
        new BigInteger(64, new SecureRandom()), Date.from(now.minus(Duration.ofHours(1))),
        Date.from(now.plus(Duration.ofDays(1))), new X500Name(subject), key);
    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
    return new JcaX509CertificateConverter().getCertificate(
        b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
  }

  private static Path nodeStore(Path file, String subject, KeyPair ca, X509Certificate caCert)
      throws Exception {
    KeyPair node = keyPair();
    X509Certificate cert = certificate(subject, node.getPublic(),
        caCert.getSubjectX500Principal().getName(), ca.getPrivate(), false);
    KeyStore ks = nodeKeysOf(node.getPrivate(), cert, caCert);
    try (OutputStream out = Files.newOutputStream(file)) {
      ks.store(out, PASSWORD);
    }
    return file;
  }

  private static KeyStore nodeKeysOf(PrivateKey key, X509Certificate cert, X509Certificate caCert)
      throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setKeyEntry("node", key, PASSWORD, new Certificate[] {cert, caCert});
    return ks;
  }

  private static KeyStore nodeKeys(Path file) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (var in = Files.newInputStream(file)) {
      ks.load(in, PASSWORD);
    }
    return ks;
  }

  private static Path trustStore(Path file, X509Certificate caCert) throws Exception {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setCertificateEntry("cluster-ca", caCert);
    try (OutputStream out = Files.newOutputStream(file)) {
      ks.store(out, PASSWORD);
    }
    return file;
  }
}
