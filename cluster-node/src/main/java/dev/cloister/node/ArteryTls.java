package dev.cloister.node;

import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * {@code cloister.cluster.tls}: node-to-node traffic (Pekko Artery) over mutual TLS. Off, anyone
 * who reaches a node's Artery port can send entity commands as any user; on, a node accepts only
 * peers whose certificate chains to its trust store, and presents its own.
 */
final class ArteryTls {

  private ArteryTls() {}

  /** The {@code pekko.remote.artery} settings for {@code tls}; none when it is off. */
  static Map<String, Object> pekkoSettings(Config tls) {
    Map<String, Object> out = new HashMap<>();
    if (!tls.getBoolean("enabled")) {
      return out;
    }
    String keyStore = existing(tls, "key-store");
    String trustStore = existing(tls, "trust-store");
    String keyStorePassword = tls.getString("key-store-password");
    String keyPassword = tls.getString("key-password").isEmpty() ? keyStorePassword
        : tls.getString("key-password");
    String engine = "pekko.remote.artery.ssl.config-ssl-engine.";
    out.put("pekko.remote.artery.transport", "tls-tcp");
    out.put("pekko.remote.artery.ssl.ssl-engine-provider",
        "org.apache.pekko.remote.artery.tcp.ConfigSSLEngineProvider");
    out.put(engine + "key-store", keyStore);
    out.put(engine + "key-store-password", keyStorePassword);
    out.put(engine + "key-password", keyPassword);
    out.put(engine + "trust-store", trustStore);
    out.put(engine + "trust-store-password", tls.getString("trust-store-password"));
    out.put(engine + "protocol", tls.getString("protocol"));
    out.put(engine + "enabled-algorithms", tls.getStringList("enabled-algorithms"));
    // Both sides prove themselves: a node without a trusted certificate cannot even connect.
    out.put(engine + "require-mutual-authentication", true);
    out.put(engine + "hostname-verification", tls.getBoolean("hostname-verification"));
    return out;
  }

  private static String existing(Config tls, String key) {
    String file = tls.getString(key);
    if (file.isEmpty() || !Files.isReadable(Path.of(file))) {
      throw new IllegalStateException("cloister.cluster.tls is on but cloister.cluster.tls." + key
          + " ('" + file + "') is not a readable file: give each node a PKCS12 or JKS "
          + (key.equals("key-store") ? "key store with its own key and certificate"
              : "trust store with the certificate of the CA that signed every node's"));
    }
    return file;
  }
}
