package dev.cloister.client.device;

import static dev.cloister.client.http.RestClient.segment;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The device and key-package calls (issue 9, item 1): a device registers its credential and
 * signature key, then keeps the server stocked with key packages that others' commits claim.
 */
public final class DeviceApi {

  private static final TypeReference<List<Device>> DEVICES = new TypeReference<>() {};
  private static final Base64.Encoder B64 = Base64.getEncoder();

  private final RestClient rest;

  public DeviceApi(RestClient rest) {
    this.rest = rest;
  }

  /**
   * Registers this device; repeating it with the same key is harmless (200/201).
   *
   * @throws ApiException 409 when the device id is registered with another key
   */
  public Device register(DeviceIdentity identity) {
    return rest.post("/api/v1/users/@me/devices", registration(identity), Device.class);
  }

  static Map<String, Object> registration(DeviceIdentity identity) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("deviceId", identity.credential().deviceId());
    body.put("credential", B64.encodeToString(identity.credential().encode()));
    body.put("signatureKey", B64.encodeToString(identity.signaturePublicKey()));
    return body;
  }

  public List<Device> devices(String userId) {
    return rest.get("/api/v1/users/" + segment(userId) + "/devices", DEVICES);
  }

  /** Removes one of your devices; it leaves every group at the next epoch. */
  public void delete(String deviceId) {
    rest.delete("/api/v1/users/@me/devices/" + segment(deviceId));
  }

  /**
   * Uploads one-time key packages and optionally a (new) last-resort one.
   *
   * @throws ApiException 400 {@code invalid} naming what is wrong with a package
   */
  public KeyPackageStock upload(String deviceId, List<KeyPackageBundle> oneTime,
      KeyPackageBundle lastResort) {
    return rest.post(keyPackages(deviceId), uploadBody(oneTime, lastResort), KeyPackageStock.class);
  }

  static Map<String, Object> uploadBody(List<KeyPackageBundle> oneTime, KeyPackageBundle lastResort) {
    if (oneTime.stream().anyMatch(KeyPackageBundle::lastResort)) {
      throw new IllegalArgumentException("a last-resort package goes in lastResort, not keyPackages");
    }
    if (lastResort != null && !lastResort.lastResort()) {
      throw new IllegalArgumentException("lastResort must be a last-resort package");
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("keyPackages", oneTime.stream().map(b -> B64.encodeToString(b.message())).toList());
    body.put("lastResort", lastResort == null ? null : B64.encodeToString(lastResort.message()));
    return body;
  }

  public KeyPackageStock stock(String deviceId) {
    return rest.get(keyPackages(deviceId), KeyPackageStock.class);
  }

  private static String keyPackages(String deviceId) {
    return "/api/v1/users/@me/devices/" + segment(deviceId) + "/key-packages";
  }
}
