package dev.cloister.client.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.TestServer;
import dev.cloister.client.auth.Login;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The device and key-package calls against a real node's routes. */
@ExtendWith(TestServer.Shared.class)
class DeviceEndToEndTest {

  private static TestServer server;

  @TempDir(factory = TestServer.Scratch.class) // homes fsync every save: on tmpfs when there is one
  Path tmp;

  @BeforeAll
  static void start(TestServer shared) {
    server = shared; // the tests make their own users and homes: no node of their own needed
  }

  private static DeviceApi api(Login login) {
    return new DeviceApi(server.rest().authenticated(login.token()));
  }

  @Test
  void registersIdempotentlyListsAndDeletes() throws Exception {
    Login alice = server.newUser("alice");
    DeviceApi devices = api(alice);
    DeviceIdentity laptop = DeviceIdentity.generate(alice.userId(), Profile.newDeviceId());
    Device registered = devices.register(laptop);
    assertThat(registered.deviceId()).isEqualTo(laptop.credential().deviceId());
    assertThat(registered.signatureKey()).isEqualTo(laptop.signaturePublicKey());
    assertThat(registered.decodedCredential()).isEqualTo(laptop.credential());
    assertThat(registered.createdAt()).isNotNull();
    assertThat(devices.register(laptop).deviceId()).as("the same key again").isEqualTo(registered.deviceId());

    DeviceIdentity impostor = DeviceIdentity.generate(alice.userId(), laptop.credential().deviceId());
    assertThatThrownBy(() -> devices.register(impostor))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(409));

    // Anyone signed in reads the public keys, for safety numbers.
    List<Device> seenByBob = api(server.newUser("bob")).devices(alice.userId());
    assertThat(seenByBob).extracting(Device::deviceId).containsExactly(registered.deviceId());
    assertThat(seenByBob.get(0).signatureKey()).isEqualTo(laptop.signaturePublicKey());

    devices.delete(registered.deviceId());
    assertThat(devices.devices(alice.userId())).isEmpty();
  }

  @Test
  void theUpkeepStocksTwentyAndALastResortAndTopsUp() throws Exception {
    Login alice = server.newUser("alice");
    DeviceApi devices = api(alice);
    DeviceIdentity phone = DeviceIdentity.generate(alice.userId(), Profile.newDeviceId());
    devices.register(phone);
    Profile profile = Profile.open(tmp.resolve("alice"));
    KeyPackageUpkeep upkeep = new KeyPackageUpkeep(devices, profile, phone);
    // Some already there, no last resort: the upkeep adds only what is missing.
    KeyPackageBundle early = phone.newKeyPackage(false);
    profile.saveKeyPackage(early);
    assertThat(devices.upload(phone.credential().deviceId(), List.of(early), null))
        .isEqualTo(new KeyPackageStock(1, false));

    KeyPackageStock first = upkeep.topUp();
    assertThat(first).isEqualTo(new KeyPackageStock(KeyPackageUpkeep.TARGET, true));
    assertThat(devices.stock(phone.credential().deviceId())).isEqualTo(first);
    assertThat(profile.keyPackages().usable()).hasSize(KeyPackageUpkeep.TARGET + 1)
        .filteredOn(KeyPackageBundle::lastResort).hasSize(1);

    assertThat(upkeep.topUp()).as("nothing to do when full").isEqualTo(first);
    assertThat(profile.keyPackages().usable()).hasSize(KeyPackageUpkeep.TARGET + 1);

    // Without a last resort in the upload (lastResort: null) the stock just grows.
    KeyPackageStock more = devices.upload(phone.credential().deviceId(),
        List.of(phone.newKeyPackage(false)), null);
    assertThat(more).isEqualTo(new KeyPackageStock(KeyPackageUpkeep.TARGET + 1, true));
  }

  @Test
  void aRefusedUploadNamesTheReasonAndLeavesNothingBehind() throws Exception {
    Login alice = server.newUser("alice");
    DeviceApi devices = api(alice);
    String deviceId = Profile.newDeviceId();
    devices.register(DeviceIdentity.generate(alice.userId(), deviceId));
    // Key packages signed by another key than the registered one.
    DeviceIdentity wrongKey = DeviceIdentity.generate(alice.userId(), deviceId);
    Profile profile = Profile.open(tmp.resolve("alice"));
    KeyPackageUpkeep upkeep = new KeyPackageUpkeep(devices, profile, wrongKey);
    assertThatThrownBy(() -> upkeep.topUp(new KeyPackageStock(0, false)))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.status()).isEqualTo(400);
          assertThat(e.code()).isEqualTo("invalid");
          assertThat(e.getMessage()).isNotBlank();
        });
    assertThat(profile.keyPackages().usable()).as("refused bundles are deleted").isEmpty();
    assertThat(devices.stock(deviceId)).isEqualTo(new KeyPackageStock(0, false));

    KeyPackageBundle someone = DeviceIdentity.generate("1", "x").newKeyPackage(false);
    assertThatThrownBy(() -> devices.upload("no-such-device", List.of(someone), null))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.status()).isEqualTo(404));
    assertThat(HexFormat.of().formatHex(someone.ref())).isNotEmpty();
  }
}
