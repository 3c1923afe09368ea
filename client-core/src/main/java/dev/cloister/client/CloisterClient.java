package dev.cloister.client;

import dev.cloister.client.auth.Login;
import dev.cloister.client.auth.Srp;
import dev.cloister.client.device.DeviceApi;
import dev.cloister.client.device.KeyPackageStock;
import dev.cloister.client.device.KeyPackageUpkeep;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.profile.CorruptFileException;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceIdentity;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One device of one account, as a home directory holds it: log in (enrolling the device on the
 * first run), then the typed REST API, the device's key-package upkeep and the gateway.
 *
 * <p>First login in a home creates the device identity, registers the device and uploads
 * {@link KeyPackageUpkeep#TARGET} one-time key packages and a last-resort one; later logins only
 * log in and top key packages up if they run low. Things a person should know but that do not
 * stop the login (a server without device routes yet, unreadable stored key packages) are
 * collected in {@link #notices()}.
 */
public final class CloisterClient {

  private final Profile profile;
  private final RestClient rest;
  private final List<String> notices = new ArrayList<>();
  private Profile.Account account;
  private DeviceIdentity identity;

  private CloisterClient(Profile profile, Profile.Account account, DeviceIdentity identity) {
    this.profile = profile;
    this.account = account;
    this.identity = identity;
    this.rest = new RestClient(account.server()).authenticated(account.token());
  }

  /** Creates the account, then logs in as {@link #login} does. */
  public static CloisterClient register(URI server, Path home, String username, String password)
      throws IOException {
    Profile profile = Profile.open(home);
    checkHome(profile, server, username); // before the account exists: a mismatch costs nothing
    new Srp(new RestClient(server)).register(username, password);
    return login(server, home, username, password);
  }

  /**
   * Logs in with SRP-6a and keeps the session in the home; on the first run there, enrolls the
   * device.
   *
   * @throws ProfileMismatchException the home belongs to another account or server
   * @throws CorruptFileException a stored file is damaged (it is reported, never used)
   */
  public static CloisterClient login(URI server, Path home, String username, String password)
      throws IOException {
    Profile profile = Profile.open(home);
    Optional<Profile.Account> existing = checkHome(profile, server, username);
    Login login = new Srp(new RestClient(server)).login(username, password);
    if (existing.isPresent() && !existing.get().userId().equals(login.userId())) {
      throw new ProfileMismatchException(profile.home() + " was made for user id "
          + existing.get().userId() + ", but " + username + " is now user id " + login.userId()
          + "; use another home");
    }
    String deviceId = existing.map(Profile.Account::deviceId).orElseGet(Profile::newDeviceId);
    Instant registeredAt = existing.map(Profile.Account::deviceRegisteredAt).orElse(null);
    List<String> notices = new ArrayList<>();
    DeviceIdentity identity = profile.deviceIdentity(login.userId(), deviceId).orElse(null);
    if (identity == null && registeredAt != null) {
      // The key of a registered device is gone: that device can never sign again. Start a new one.
      String lost = deviceId;
      deviceId = Profile.newDeviceId();
      registeredAt = null;
      notices.add("the signature key of device " + lost + " is missing from " + profile.home()
          + "; this home is now device " + deviceId + " (remove the old one from your devices)");
    }
    if (identity == null) {
      identity = newIdentity(login.userId(), deviceId);
      profile.saveDeviceIdentity(identity);
    }
    Profile.Account account = new Profile.Account(server, login.userId(), username, deviceId,
        login.token(), login.expiresAt(), registeredAt);
    profile.saveAccount(account);
    CloisterClient client = new CloisterClient(profile, account, identity);
    client.notices.addAll(notices);
    client.enroll();
    return client;
  }

  /**
   * The session a previous login left in the home.
   *
   * @param server null to take the profile's own; otherwise it must be the profile's
   * @throws NotLoggedInException no profile there, or its token expired
   */
  public static CloisterClient open(Path home, URI server) throws IOException {
    if (!java.nio.file.Files.isDirectory(home)) {
      throw new NotLoggedInException("no profile in " + home.toAbsolutePath()
          + ": register or log in first");
    }
    Profile profile = Profile.open(home);
    Profile.Account account = profile.account().orElseThrow(() -> new NotLoggedInException(
        "no profile in " + profile.home() + ": register or log in first"));
    if (server != null && !sameServer(server, account.server())) {
      throw new ProfileMismatchException(profile.home() + " belongs to " + account.server()
          + ", not " + server + "; use another home");
    }
    if (!account.tokenValidAt(Clock.systemUTC().instant())) {
      throw new NotLoggedInException("the session of " + account.username() + " expired at "
          + account.tokenExpiresAt() + ": log in again");
    }
    DeviceIdentity identity = profile.deviceIdentity(account.userId(), account.deviceId())
        .orElseThrow(() -> new NotLoggedInException("the device key is missing from "
            + profile.home() + ": log in again to enroll a new device"));
    return new CloisterClient(profile, account, identity);
  }

  private static DeviceIdentity newIdentity(String userId, String deviceId) {
    synchronized (dev.cloister.mls.group.MlsSuite.SUITE) { // bcmls: one MLS computation at a time
      return DeviceIdentity.generate(userId, deviceId);
    }
  }

  /** The profile a home holds, refusing one of another account or server. */
  private static Optional<Profile.Account> checkHome(Profile profile, URI server, String username)
      throws IOException {
    Optional<Profile.Account> existing = profile.account();
    if (existing.isPresent() && !(sameServer(server, existing.get().server())
        && existing.get().username().equals(username))) {
      throw new ProfileMismatchException(profile.home() + " holds the device of "
          + existing.get().username() + " on " + existing.get().server()
          + "; use another home for " + username + " on " + server);
    }
    return existing;
  }

  private static boolean sameServer(URI a, URI b) {
    return strip(a.toString()).equalsIgnoreCase(strip(b.toString()));
  }

  private static String strip(String s) {
    return s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
  }

  /** Registers the device the first time, then keeps its key packages stocked. */
  private void enroll() throws IOException {
    DeviceApi devices = devices();
    try {
      if (account.deviceRegisteredAt() == null) {
        try {
          devices.register(identity);
        } catch (ApiException e) {
          if (e.status() != 409) {
            throw e;
          }
          // Our id is registered with another key (this home's key was replaced): a new device.
          String taken = account.deviceId();
          identity = newIdentity(account.userId(), Profile.newDeviceId());
          profile.saveDeviceIdentity(identity);
          account = account.withDevice(identity.credential().deviceId(), null);
          profile.saveAccount(account);
          notices.add("device " + taken + " is registered with another key; this home is now "
              + "device " + account.deviceId());
          devices.register(identity);
        }
        account = account.withDevice(account.deviceId(), Clock.systemUTC().instant());
        profile.saveAccount(account);
        keyPackages().topUp(new KeyPackageStock(0, false));
      } else {
        keyPackages().topUp();
      }
    } catch (ApiException e) {
      if (e.status() != 404 && e.status() != 405) {
        throw e;
      }
      // The server predates devices (issue 9): log in anyway and enroll at a later login.
      notices.add("this server has no device API yet (" + e.status() + " " + e.code()
          + "); the device will be registered at a later login");
      return;
    }
    Profile.StoredKeyPackages stored = profile.keyPackages();
    for (CorruptFileException c : stored.corrupt()) {
      notices.add(c.getMessage());
    }
  }

  public Profile profile() {
    return profile;
  }

  public Profile.Account account() {
    return account;
  }

  public DeviceIdentity identity() {
    return identity;
  }

  public RestClient rest() {
    return rest;
  }

  public CloisterApi api() {
    return new CloisterApi(rest);
  }

  public DeviceApi devices() {
    return new DeviceApi(rest);
  }

  public KeyPackageUpkeep keyPackages() {
    return new KeyPackageUpkeep(devices(), profile, identity);
  }

  /** End-to-end encrypted chat for this device (one instance per thread). */
  public dev.cloister.client.chat.Chat chat() {
    return new dev.cloister.client.chat.Chat(this);
  }

  /** Connects this device to the gateway; the caller closes it. */
  public GatewayClient gateway(GatewayListener listener) {
    return GatewayClient.start(rest, account.deviceId(), listener);
  }

  /** What a person should know about the last login; empty when all went as expected. */
  public List<String> notices() {
    return List.copyOf(notices);
  }
}
