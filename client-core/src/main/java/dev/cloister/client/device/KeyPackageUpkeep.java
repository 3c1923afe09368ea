package dev.cloister.client.device;

import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.group.MlsSuite;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps the server stocked with this device's key packages: about {@link #TARGET} one-time ones
 * and one last-resort one. Each bundle is stored in the profile before it is uploaded, so a
 * Welcome that uses it always finds its private keys; one the server refused is deleted again.
 */
public final class KeyPackageUpkeep {

  /** One-time key packages to keep on the server. */
  public static final int TARGET = 20;
  public static final String KEY_PACKAGES_LOW = "KEY_PACKAGES_LOW";

  /** What to generate: this many one-time packages, and a last-resort one or not. */
  public record Plan(int oneTime, boolean lastResort) {
    public boolean isEmpty() {
      return oneTime == 0 && !lastResort;
    }
  }

  private final DeviceApi api;
  private final Profile profile;
  private final DeviceIdentity identity;

  public KeyPackageUpkeep(DeviceApi api, Profile profile, DeviceIdentity identity) {
    this.api = api;
    this.profile = profile;
    this.identity = identity;
  }

  public static Plan plan(KeyPackageStock stock) {
    return new Plan(Math.max(0, TARGET - stock.available()), !stock.lastResort());
  }

  /** Asks the server how many are left and uploads what is missing; returns the new stock. */
  public KeyPackageStock topUp() throws IOException {
    return topUp(api.stock(deviceId()));
  }

  /** Uploads what {@code stock} lacks; returns the stock the server reports afterwards. */
  public KeyPackageStock topUp(KeyPackageStock stock) throws IOException {
    Plan plan = plan(stock);
    if (plan.isEmpty()) {
      return stock;
    }
    List<KeyPackageBundle> oneTime = new ArrayList<>();
    KeyPackageBundle lastResort;
    // bcmls's suite objects share one digest: every MLS computation in a process takes this lock.
    synchronized (MlsSuite.SUITE) {
      for (int i = 0; i < plan.oneTime(); i++) {
        oneTime.add(identity.newKeyPackage(false));
      }
      lastResort = plan.lastResort() ? identity.newKeyPackage(true) : null;
    }
    List<KeyPackageBundle> all = new ArrayList<>(oneTime);
    if (lastResort != null) {
      all.add(lastResort);
    }
    for (KeyPackageBundle b : all) {
      profile.saveKeyPackage(b);
    }
    try {
      return api.upload(deviceId(), oneTime, lastResort);
    } catch (ApiException e) {
      // Refused outright (4xx): nobody can ever use them. A 5xx may have stored them: keep them.
      if (e.status() >= 400 && e.status() < 500) {
        for (KeyPackageBundle b : all) {
          profile.deleteKeyPackage(b.ref());
        }
      }
      throw e;
    }
  }

  /**
   * Handles a gateway dispatch: a {@code KEY_PACKAGES_LOW} for this device tops the stock up;
   * anything else is ignored. Returns the new stock, or null when there was nothing to do.
   */
  public KeyPackageStock onDispatch(Dispatch d) throws IOException {
    if (!KEY_PACKAGES_LOW.equals(d.type())
        || !deviceId().equals(d.data().path("deviceId").asText())) {
      return null;
    }
    return topUp();
  }

  private String deviceId() {
    return identity.credential().deviceId();
  }
}
