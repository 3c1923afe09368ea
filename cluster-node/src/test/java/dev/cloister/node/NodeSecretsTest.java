package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's secrets (token key, delivery-service key): made once, owner-only from birth. */
class NodeSecretsTest {

  @TempDir
  Path dataDir;

  @Test
  void aGeneratedSecretIsKeptOwnerOnlyAndReadBackTheSame() throws Exception {
    var unset = ConfigFactory.parseMap(Map.of("auth.token-key", "", "mls.ds-key", ""));
    byte[] first = Node.tokenKey(unset, dataDir);
    assertThat(first).hasSize(32);
    assertThat(Node.tokenKey(unset, dataDir)).isEqualTo(first);
    assertThat(PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dataDir.resolve("token-key")))).isEqualTo("rw-------");
    byte[] ds = Node.secretKey(unset, dataDir, "mls.ds-key", "mls-ds-key", new byte[] {1, 2, 3});
    assertThat(Node.secretKey(unset, dataDir, "mls.ds-key", "mls-ds-key", new byte[] {9}))
        .isEqualTo(ds);
    assertThat(PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dataDir.resolve("mls-ds-key")))).isEqualTo("rw-------");
    assertThat(Files.exists(dataDir.resolve("token-key.tmp"))).isFalse();
  }

  @Test
  void aConfiguredTokenKeyWinsAndMustBeLongEnough() throws Exception {
    String key = java.util.Base64.getEncoder().encodeToString(new byte[40]);
    assertThat(Node.tokenKey(ConfigFactory.parseMap(Map.of("auth.token-key", key)), dataDir))
        .hasSize(40);
    assertThatThrownBy(() -> Node.tokenKey(ConfigFactory.parseMap(Map.of("auth.token-key",
        "c2hvcnQ=")), dataDir)).isInstanceOf(IllegalArgumentException.class);
    assertThat(Files.exists(dataDir.resolve("token-key"))).isFalse();
  }
}
