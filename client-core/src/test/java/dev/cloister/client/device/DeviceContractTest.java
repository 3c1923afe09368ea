package dev.cloister.client.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.TestServer;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.wire.MlsWireException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device and key-package contract from the client's side, offline: what goes on the wire,
 * what is read back, and how many packages the upkeep makes. The calls themselves are tested
 * against a real node in {@link DeviceEndToEndTest}.
 */
class DeviceContractTest {

  private static final Base64.Decoder B64 = Base64.getDecoder();

  @TempDir
  Path tmp;

  @Test
  void registrationCarriesTheCredentialAndSignatureKey() throws Exception {
    DeviceIdentity id = DeviceIdentity.generate("2500", "0a1b2c3d4e5f6071");
    Map<String, Object> body = DeviceApi.registration(id);
    assertThat(body).containsOnlyKeys("deviceId", "credential", "signatureKey");
    assertThat(body.get("deviceId")).isEqualTo("0a1b2c3d4e5f6071");
    assertThat(DeviceCredential.decode(B64.decode((String) body.get("credential"))))
        .isEqualTo(new DeviceCredential("2500", "0a1b2c3d4e5f6071"));
    assertThat(B64.decode((String) body.get("signatureKey"))).isEqualTo(id.signaturePublicKey());
  }

  @Test
  @SuppressWarnings("unchecked")
  void uploadsAreTheMlsMessagesInBase64() {
    DeviceIdentity id = DeviceIdentity.generate("2500", "d1");
    KeyPackageBundle a = id.newKeyPackage(false);
    KeyPackageBundle b = id.newKeyPackage(false);
    KeyPackageBundle last = id.newKeyPackage(true);
    Map<String, Object> body = DeviceApi.uploadBody(List.of(a, b), last);
    assertThat(body).containsOnlyKeys("keyPackages", "lastResort");
    assertThat((List<Object>) body.get("keyPackages")).containsExactly(
        Base64.getEncoder().encodeToString(a.message()), Base64.getEncoder().encodeToString(b.message()));
    assertThat(body.get("lastResort")).isEqualTo(Base64.getEncoder().encodeToString(last.message()));

    Map<String, Object> noLastResort = DeviceApi.uploadBody(List.of(a), null);
    assertThat(noLastResort).containsEntry("lastResort", null);
    assertThat(RestClient.JSON.valueToTree(noLastResort).toString()).contains("\"lastResort\":null");

    assertThatThrownBy(() -> DeviceApi.uploadBody(List.of(last), null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> DeviceApi.uploadBody(List.of(), a))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void answersAreReadInTheContractsShapes() throws Exception {
    DeviceIdentity id = DeviceIdentity.generate("2500", "d1");
    String enc = Base64.getEncoder().encodeToString(id.credential().encode());
    String key = Base64.getEncoder().encodeToString(id.signaturePublicKey());
    JsonNode list = RestClient.JSON.readTree("[{\"deviceId\":\"d1\",\"credential\":\"" + enc
        + "\",\"signatureKey\":\"" + key + "\",\"createdAt\":\"2026-12-01T10:00:00Z\"}]");
    Device d = RestClient.read(list,
        new com.fasterxml.jackson.core.type.TypeReference<List<Device>>() {}).get(0);
    assertThat(d.deviceId()).isEqualTo("d1");
    assertThat(d.signatureKey()).isEqualTo(id.signaturePublicKey());
    assertThat(d.createdAt()).isEqualTo(Instant.parse("2026-12-01T10:00:00Z"));
    assertThat(d.decodedCredential()).isEqualTo(id.credential());

    Device lying = new Device("d2", d.credential(), d.signatureKey(), d.createdAt());
    assertThatThrownBy(lying::decodedCredential).isInstanceOf(MlsWireException.class);

    KeyPackageStock stock = RestClient.read(
        RestClient.JSON.readTree("{\"available\":7,\"lastResort\":true}"), KeyPackageStock.class);
    assertThat(stock).isEqualTo(new KeyPackageStock(7, true));
  }

  @Test
  void theUpkeepFillsUpToTwentyAndOneLastResort() {
    assertThat(KeyPackageUpkeep.plan(new KeyPackageStock(0, false)))
        .isEqualTo(new KeyPackageUpkeep.Plan(20, true));
    assertThat(KeyPackageUpkeep.plan(new KeyPackageStock(15, true)))
        .isEqualTo(new KeyPackageUpkeep.Plan(5, false));
    assertThat(KeyPackageUpkeep.plan(new KeyPackageStock(20, true)).isEmpty()).isTrue();
    assertThat(KeyPackageUpkeep.plan(new KeyPackageStock(30, false)))
        .isEqualTo(new KeyPackageUpkeep.Plan(0, true));
  }

  @Test
  void onlyThisDevicesLowStockTriggersATopUp() throws Exception {
    // Nothing listens there: any call to the server would fail the test.
    RestClient nowhere = new RestClient(URI.create("http://127.0.0.1:" + TestServer.freePort()))
        .authenticated("t");
    DeviceIdentity id = DeviceIdentity.generate("2500", "mine");
    KeyPackageUpkeep upkeep = new KeyPackageUpkeep(new DeviceApi(nowhere), Profile.open(tmp), id);
    JsonNode other = RestClient.JSON.readTree("{\"deviceId\":\"other\",\"available\":2}");
    assertThat(upkeep.onDispatch(new Dispatch("KEY_PACKAGES_LOW", 5, other, false))).isNull();
    JsonNode message = RestClient.JSON.readTree("{\"id\":\"1\"}");
    assertThat(upkeep.onDispatch(new Dispatch("MESSAGE_CREATE", 6, message, false))).isNull();
    // A full stock needs nothing: no key package is made or stored.
    assertThat(upkeep.topUp(new KeyPackageStock(20, true))).isEqualTo(new KeyPackageStock(20, true));
    assertThat(Profile.open(tmp).keyPackages().usable()).isEmpty();
  }
}
