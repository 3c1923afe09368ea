package dev.cloister.guild.user;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Rejection;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.wire.MlsWireException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A user's devices: each one's MLS credential and signature key, and the key packages it uploaded
 * for the server to claim when it adds the device to a group. Pure rules; {@link User} persists
 * them. One-time packages are handed out once each; the last-resort one is handed out whenever
 * the one-time ones have run out (RFC 9420 section 16.8).
 */
public record Devices(Map<String, Device> byId) implements CborSerializable {

  public static final int MAX_DEVICES = 16;
  public static final int MAX_ONE_TIME_PACKAGES = 100;
  /** Below this many one-time packages the device is told to upload more. */
  public static final int LOW_STOCK = 5;
  public static final int MAX_KEY_PACKAGE_BYTES = 4096;
  public static final int SIGNATURE_KEY_BYTES = 32;
  private static final Pattern DEVICE_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

  public static final Devices NONE = new Devices(Map.of());

  public Devices {
    byId = byId == null ? Map.of() : byId;
  }

  /** A key package as stored: its KeyPackageRef and its MLSMessage bytes. */
  public record StoredKeyPackage(byte[] ref, byte[] message) implements CborSerializable {}

  public record Device(
      String deviceId, byte[] credential, byte[] signatureKey, long createdAtMillis,
      List<StoredKeyPackage> oneTime, StoredKeyPackage lastResort) implements CborSerializable {

    public DeviceInfo info() {
      return new DeviceInfo(deviceId, credential, signatureKey, createdAtMillis);
    }

    public KeyPackageStock stock() {
      return new KeyPackageStock(deviceId, oneTime.size(), lastResort != null);
    }
  }

  /** What anyone may know of a device: its id and public keys (for safety numbers). */
  public record DeviceInfo(String deviceId, byte[] credential, byte[] signatureKey,
      long createdAtMillis) implements CborSerializable {}

  /** A user's devices, as one message (a bare list would not travel between nodes). */
  public record DeviceList(List<DeviceInfo> devices) implements CborSerializable {}

  public record KeyPackageStock(String deviceId, int available, boolean lastResort)
      implements CborSerializable {}

  /** A claimed key package; {@code remaining} one-time ones are left after this claim. */
  public record ClaimedKeyPackage(String deviceId, byte[] message, boolean lastResort, int remaining)
      implements CborSerializable {}

  public Device device(String deviceId) {
    return byId.get(deviceId);
  }

  public List<DeviceInfo> infos() {
    return byId.values().stream().map(Device::info).toList();
  }

  // -- rules --

  /** Null when the device may be added as given; a repeat with the same key is fine (and a no-op). */
  public Rejection checkAdd(String userId, String deviceId, byte[] credential, byte[] signatureKey) {
    if (deviceId == null || !DEVICE_ID.matcher(deviceId).matches()) {
      return Rejection.invalid("deviceId must be 1 to 64 characters of A-Z a-z 0-9 _ -");
    }
    if (signatureKey == null || signatureKey.length != SIGNATURE_KEY_BYTES) {
      return Rejection.invalid("signatureKey must be a " + SIGNATURE_KEY_BYTES + "-byte Ed25519 key");
    }
    try {
      DeviceCredential c = DeviceCredential.decode(credential == null ? new byte[0] : credential);
      if (!c.equals(new DeviceCredential(userId, deviceId))) {
        return Rejection.invalid("credential names " + c + ", not " + userId + "/" + deviceId);
      }
    } catch (MlsWireException | IllegalArgumentException e) {
      return Rejection.invalid("credential is not a Cloister device credential: " + e.getMessage());
    }
    Device existing = byId.get(deviceId);
    if (existing != null) {
      return Arrays.equals(existing.signatureKey(), signatureKey) ? null
          : Rejection.conflict("device " + deviceId + " exists with another signature key");
    }
    if (byId.size() >= MAX_DEVICES) {
      return Rejection.conflict("a user has at most " + MAX_DEVICES + " devices; remove one first");
    }
    return null;
  }

  /**
   * Null when these packages (already checked against the device's credential and key by the
   * caller, with mls-groups' bounded parser) may be stored.
   */
  public Rejection checkUpload(String deviceId, List<StoredKeyPackage> oneTime,
      StoredKeyPackage lastResort) {
    Device d = byId.get(deviceId);
    if (d == null) {
      return Rejection.notFound("unknown device " + deviceId);
    }
    if (oneTime.isEmpty() && lastResort == null) {
      return Rejection.invalid("no key packages given");
    }
    int fresh = (int) oneTime.stream().filter(k -> !holds(d, k.ref())).count();
    if (d.oneTime().size() + fresh > MAX_ONE_TIME_PACKAGES) {
      return Rejection.invalid("a device holds at most " + MAX_ONE_TIME_PACKAGES
          + " one-time key packages on the server; it has " + d.oneTime().size());
    }
    return null;
  }

  private static boolean holds(Device d, byte[] ref) {
    return d.oneTime().stream().anyMatch(k -> Arrays.equals(k.ref(), ref));
  }

  /** The package a claim hands out now: the oldest one-time one, else the last-resort one. */
  public ClaimedKeyPackage nextClaim(String deviceId) {
    Device d = byId.get(deviceId);
    if (d == null) {
      return null;
    }
    if (!d.oneTime().isEmpty()) {
      return new ClaimedKeyPackage(deviceId, d.oneTime().get(0).message(), false,
          d.oneTime().size() - 1);
    }
    return d.lastResort() == null ? null
        : new ClaimedKeyPackage(deviceId, d.lastResort().message(), true, 0);
  }

  // -- changes --

  public Devices withDevice(String deviceId, byte[] credential, byte[] signatureKey, long at) {
    Map<String, Device> next = new LinkedHashMap<>(byId);
    next.put(deviceId, new Device(deviceId, credential, signatureKey, at, List.of(), null));
    return new Devices(next);
  }

  public Devices withoutDevice(String deviceId) {
    Map<String, Device> next = new LinkedHashMap<>(byId);
    next.remove(deviceId);
    return new Devices(next);
  }

  public Devices withPackages(String deviceId, List<StoredKeyPackage> oneTime,
      StoredKeyPackage lastResort) {
    Device d = byId.get(deviceId);
    if (d == null) {
      return this;
    }
    List<StoredKeyPackage> stock = new ArrayList<>(d.oneTime());
    for (StoredKeyPackage k : oneTime) {
      if (!holds(d, k.ref())) {
        stock.add(k);
      }
    }
    return replace(new Device(d.deviceId(), d.credential(), d.signatureKey(), d.createdAtMillis(),
        List.copyOf(stock), lastResort != null ? lastResort : d.lastResort()));
  }

  /** Drops the oldest one-time package (the one {@link #nextClaim} handed out). */
  public Devices withOneTimeClaimed(String deviceId, byte[] ref) {
    Device d = byId.get(deviceId);
    if (d == null) {
      return this;
    }
    return replace(new Device(d.deviceId(), d.credential(), d.signatureKey(), d.createdAtMillis(),
        d.oneTime().stream().filter(k -> !Arrays.equals(k.ref(), ref)).toList(), d.lastResort()));
  }

  private Devices replace(Device d) {
    Map<String, Device> next = new LinkedHashMap<>(byId);
    next.put(d.deviceId(), d);
    return new Devices(next);
  }
}
