package dev.cloister.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.auth.Srp;
import dev.cloister.client.device.KeyPackageStock;
import dev.cloister.client.device.KeyPackageUpkeep;
import dev.cloister.client.profile.CheckedFile;
import dev.cloister.client.profile.CorruptFileException;
import dev.cloister.client.profile.Profile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Logging a device in against a real node: the first run enrolls it, later runs reuse it. */
@ExtendWith(TestServer.Shared.class)
class CloisterClientTest {

  private static TestServer server;

  @TempDir(factory = TestServer.Scratch.class) // homes fsync every save: on tmpfs when there is one
  Path tmp;

  @BeforeAll
  static void start(TestServer shared) {
    server = shared; // the tests make their own users and homes: no node of their own needed
  }

  @Test
  void theFirstLoginEnrollsTheDeviceAndLaterOnesReuseIt() throws Exception {
    Path home = tmp.resolve("alice");
    CloisterClient first = CloisterClient.register(server.url(), home, "alice_cc", "pw one");
    Profile.Account a = first.account();
    assertThat(a.username()).isEqualTo("alice_cc");
    assertThat(a.deviceId()).matches("[0-9a-f]{16}");
    assertThat(first.identity().credential().userId()).isEqualTo(a.userId());
    assertThat(Files.exists(home.resolve("device-key"))).isTrue();
    assertThat(first.notices()).isEmpty();
    assertThat(a.deviceRegisteredAt()).isNotNull();
    assertThat(first.devices().devices(a.userId())).extracting(d -> d.deviceId())
        .containsExactly(a.deviceId());
    assertThat(first.devices().stock(a.deviceId()))
        .isEqualTo(new KeyPackageStock(KeyPackageUpkeep.TARGET, true));
    assertThat(first.profile().keyPackages().usable()).hasSize(KeyPackageUpkeep.TARGET + 1);

    // A later run only logs in (its stock is full, so nothing is uploaded).
    CloisterClient again = CloisterClient.login(server.url(), home, "alice_cc", "pw one");
    assertThat(again.account().deviceId()).isEqualTo(a.deviceId());
    assertThat(again.account().deviceRegisteredAt()).isEqualTo(a.deviceRegisteredAt());
    assertThat(again.identity().signaturePublicKey()).isEqualTo(first.identity().signaturePublicKey());
    assertThat(again.devices().devices(a.userId())).hasSize(1);
    assertThat(again.profile().keyPackages().usable()).as("nothing new was needed")
        .hasSize(KeyPackageUpkeep.TARGET + 1);

    CloisterClient reopened = CloisterClient.open(home, null);
    assertThat(reopened.account().userId()).isEqualTo(a.userId());
    assertThat(reopened.api().createGuild("Works").ownerId()).isEqualTo(a.userId());
  }

  @Test
  void aHomeIsOneAccountOnOneServer() throws Exception {
    Path home = tmp.resolve("bob");
    CloisterClient.register(server.url(), home, "bob_cc", "pw");
    new Srp(server.rest()).register("carol_cc", "pw");
    assertThatThrownBy(() -> CloisterClient.login(server.url(), home, "carol_cc", "pw"))
        .isInstanceOf(ProfileMismatchException.class).hasMessageContaining("bob_cc");
    assertThatThrownBy(() -> CloisterClient.open(home, java.net.URI.create("http://example.org")))
        .isInstanceOf(ProfileMismatchException.class);
    assertThatThrownBy(() -> CloisterClient.open(tmp.resolve("empty"), null))
        .isInstanceOf(NotLoggedInException.class).hasMessageContaining("register or log in");
  }

  @Test
  void aDamagedDeviceKeyStopsTheLoginAndSaysWhy() throws Exception {
    Path home = tmp.resolve("dave");
    CloisterClient.register(server.url(), home, "dave_cc", "pw");
    Path key = home.resolve("device-key");
    byte[] all = Files.readAllBytes(key);
    Files.write(key, java.util.Arrays.copyOf(all, all.length - 10));
    assertThatThrownBy(() -> CloisterClient.login(server.url(), home, "dave_cc", "pw"))
        .isInstanceOf(CorruptFileException.class).hasMessageContaining("device-key is corrupt");
    assertThatThrownBy(() -> CloisterClient.open(home, null))
        .isInstanceOf(CorruptFileException.class);
    // Readable files stay usable: a rewrite of the same content heals nothing by itself.
    assertThat(CheckedFile.read(home.resolve("profile.json"))).isPresent();
    assertThat(List.of(home.toFile().list())).contains("profile.json", "device-key");
  }
}
