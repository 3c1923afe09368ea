package dev.cloister.client.profile;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.http.RestClient;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.group.MlsGroupException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One device's state on disk, in a home directory (default {@code ~/.cloister/<server host>}):
 *
 * <ul>
 *   <li>{@code profile.json}: server, user, device and the session token with its expiry;
 *   <li>{@code device-key}: the device's MLS signature private key, bound to its user and device;
 *   <li>{@code key-packages/<ref hex>}: each key package bundle generated and not used yet;
 *   <li>{@code groups/<groupId>.mls}: the device's MLS state of each group and its place in the
 *       group's log;
 *   <li>{@code messages/<channelId>}: the channel's messages as this device decrypted them (or why
 *       it could not), since forward secrecy means it can never decrypt them again.
 * </ul>
 *
 * Every file is a {@link CheckedFile}: written atomically, mode 600, and refused with a
 * {@link CorruptFileException} when truncated or damaged. The directory is mode 700.
 */
public final class Profile {

  /**
   * What {@code profile.json} holds; {@code deviceRegisteredAt} is null until the server knows the
   * device. The token is a credential: kept out of {@link #toString}.
   */
  public record Account(URI server, String userId, String username, String deviceId, String token,
      Instant tokenExpiresAt, Instant deviceRegisteredAt) {

    public boolean tokenValidAt(Instant now) {
      return token != null && tokenExpiresAt != null && now.isBefore(tokenExpiresAt);
    }

    public Account withToken(String token, Instant expiresAt) {
      return new Account(server, userId, username, deviceId, token, expiresAt, deviceRegisteredAt);
    }

    public Account withDevice(String deviceId, Instant registeredAt) {
      return new Account(server, userId, username, deviceId, token, tokenExpiresAt, registeredAt);
    }

    @Override
    public String toString() {
      return "Account[server=" + server + ", userId=" + userId + ", username=" + username
          + ", deviceId=" + deviceId + ", tokenExpiresAt=" + tokenExpiresAt
          + ", deviceRegisteredAt=" + deviceRegisteredAt + "]";
    }
  }

  /** The unused key packages that could be read, and the files that could not (never used). */
  public record StoredKeyPackages(List<KeyPackageBundle> usable, List<CorruptFileException> corrupt) {}

  static final String PROFILE = "profile.json";
  static final String DEVICE_KEY = "device-key";
  static final String KEY_PACKAGES = "key-packages";
  static final String GROUPS = "groups";
  static final String MESSAGES = "messages";
  static final String LOCK = "lock";
  /** Group state and message stores grow with the group and the channel; bounded all the same. */
  static final long MAX_STORE_BYTES = 256L << 20;
  private static final java.util.regex.Pattern STORE_NAME =
      java.util.regex.Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}"); // never "." or ".."
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path home;

  private Profile(Path home) {
    this.home = home;
  }

  /** Opens (creating if needed) a home directory; leftovers of interrupted writes are removed. */
  public static Profile open(Path home) throws IOException {
    Path abs = home.toAbsolutePath();
    CheckedFile.createPrivateDirectory(abs);
    CheckedFile.createPrivateDirectory(abs.resolve(KEY_PACKAGES));
    CheckedFile.createPrivateDirectory(abs.resolve(GROUPS));
    CheckedFile.createPrivateDirectory(abs.resolve(MESSAGES));
    removeTemporaries(abs);
    removeTemporaries(abs.resolve(KEY_PACKAGES));
    removeTemporaries(abs.resolve(GROUPS));
    removeTemporaries(abs.resolve(MESSAGES));
    return new Profile(abs);
  }

  /** {@code ~/.cloister/<host>}, with {@code -<port>} when the URL names a port. */
  public static Path defaultHome(URI server) {
    String host = server.getHost() == null ? "default" : server.getHost();
    String name = server.getPort() > 0 ? host + "-" + server.getPort() : host;
    return Path.of(System.getProperty("user.home"), ".cloister", name.replaceAll("[^A-Za-z0-9._-]", "_"));
  }

  /** A new random device id: 8 bytes, hex. */
  public static String newDeviceId() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  public Path home() {
    return home;
  }

  // ---- profile.json ----

  public Optional<Account> account() throws IOException {
    Path file = home.resolve(PROFILE);
    Optional<byte[]> payload = CheckedFile.read(file);
    if (payload.isEmpty()) {
      return Optional.empty();
    }
    try {
      Account a = RestClient.JSON.readValue(payload.get(), Account.class);
      if (a.server() == null || a.userId() == null || a.username() == null || a.deviceId() == null) {
        throw new CorruptFileException(file, "server, userId, username or deviceId is missing");
      }
      return Optional.of(a);
    } catch (JsonProcessingException e) {
      throw new CorruptFileException(file, "it is not the expected JSON", e);
    }
  }

  public void saveAccount(Account account) throws IOException {
    CheckedFile.write(home.resolve(PROFILE),
        RestClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(account));
  }

  // ---- device-key ----

  /**
   * The device's identity, restored from its private key. The stored user and device ids must be
   * the ones given: a key file from another profile is refused, not used.
   */
  public Optional<DeviceIdentity> deviceIdentity(String userId, String deviceId) throws IOException {
    Path file = home.resolve(DEVICE_KEY);
    Optional<byte[]> payload = CheckedFile.read(file);
    if (payload.isEmpty()) {
      return Optional.empty();
    }
    JsonNode k;
    byte[] key;
    try {
      k = RestClient.JSON.readTree(payload.get());
      key = Base64.getDecoder().decode(k.path("signaturePrivateKey").asText());
    } catch (JsonProcessingException | IllegalArgumentException e) {
      throw new CorruptFileException(file, "it is not the expected JSON", e);
    }
    if (!userId.equals(k.path("userId").asText()) || !deviceId.equals(k.path("deviceId").asText())) {
      throw new CorruptFileException(file, "it belongs to user " + k.path("userId").asText()
          + " device " + k.path("deviceId").asText() + ", not to this profile's " + userId + " "
          + deviceId);
    }
    DeviceIdentity identity;
    try {
      identity = DeviceIdentity.restore(userId, deviceId, key);
    } catch (RuntimeException e) {
      throw new CorruptFileException(file, "the key does not load: " + e.getMessage(), e);
    }
    byte[] publicKey = Base64.getDecoder().decode(k.path("signaturePublicKey").asText(""));
    if (!Arrays.equals(publicKey, identity.signaturePublicKey())) {
      throw new CorruptFileException(file, "its private key does not match its public key");
    }
    return Optional.of(identity);
  }

  public void saveDeviceIdentity(DeviceIdentity identity) throws IOException {
    Map<String, String> k = Map.of(
        "userId", identity.credential().userId(),
        "deviceId", identity.credential().deviceId(),
        "signaturePrivateKey", Base64.getEncoder().encodeToString(identity.signaturePrivateKey()),
        "signaturePublicKey", Base64.getEncoder().encodeToString(identity.signaturePublicKey()));
    CheckedFile.write(home.resolve(DEVICE_KEY),
        RestClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(k));
  }

  // ---- key-packages/ ----

  public void saveKeyPackage(KeyPackageBundle bundle) throws IOException {
    CheckedFile.write(keyPackageFile(bundle.ref()), bundle.toBytes());
  }

  /** The unused bundle with this KeyPackageRef, if the device still has it. */
  public Optional<KeyPackageBundle> keyPackage(byte[] ref) throws IOException {
    Path file = keyPackageFile(ref);
    Optional<byte[]> payload = CheckedFile.read(file);
    return payload.isEmpty() ? Optional.empty() : Optional.of(bundle(file, payload.get()));
  }

  /** Deletes a bundle once claimed (its private keys are in a group now) or revoked. */
  public boolean deleteKeyPackage(byte[] ref) throws IOException {
    boolean deleted = Files.deleteIfExists(keyPackageFile(ref));
    CheckedFile.syncDirectory(home.resolve(KEY_PACKAGES));
    return deleted;
  }

  public StoredKeyPackages keyPackages() throws IOException {
    List<KeyPackageBundle> usable = new ArrayList<>();
    List<CorruptFileException> corrupt = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(home.resolve(KEY_PACKAGES),
        p -> !p.getFileName().toString().startsWith("."))) {
      for (Path file : files) {
        try {
          Optional<byte[]> payload = CheckedFile.read(file);
          if (payload.isPresent()) {
            usable.add(bundle(file, payload.get()));
          }
        } catch (CorruptFileException e) {
          corrupt.add(e);
        }
      }
    }
    return new StoredKeyPackages(usable, corrupt);
  }

  private Path keyPackageFile(byte[] ref) {
    return home.resolve(KEY_PACKAGES).resolve(HexFormat.of().formatHex(ref));
  }

  private static KeyPackageBundle bundle(Path file, byte[] payload) throws CorruptFileException {
    KeyPackageBundle b;
    try {
      b = KeyPackageBundle.fromBytes(payload);
    } catch (MlsGroupException | RuntimeException e) {
      throw new CorruptFileException(file, e.getMessage(), e);
    }
    // The name is the ref: a file renamed or swapped would be deleted under the wrong name.
    if (!file.getFileName().toString().equals(HexFormat.of().formatHex(b.ref()))) {
      throw new CorruptFileException(file, "its name is not the KeyPackageRef of its content");
    }
    return b;
  }

  // ---- groups/ and messages/ ----

  /**
   * Holds this home's MLS state and message stores for one writer (waiting up to 60 s); close it
   * when done. Reentrant within a thread.
   */
  public HomeLock lock() throws IOException {
    return HomeLock.acquire(home.resolve(LOCK), 60);
  }

  /** The saved state of a group, if this device has one. */
  public Optional<byte[]> groupState(String groupId) throws IOException {
    return CheckedFile.read(groupFile(groupId), MAX_STORE_BYTES);
  }

  public void saveGroupState(String groupId, byte[] state) throws IOException {
    CheckedFile.write(groupFile(groupId), state);
  }

  public void deleteGroupState(String groupId) throws IOException {
    Files.deleteIfExists(groupFile(groupId));
    CheckedFile.syncDirectory(home.resolve(GROUPS));
  }

  public Path groupFile(String groupId) {
    return home.resolve(GROUPS).resolve(storeName(groupId) + ".mls");
  }

  /** The stored messages of a channel, if this device has read any. */
  public Optional<byte[]> channelMessages(String channelId) throws IOException {
    return CheckedFile.read(messagesFile(channelId), MAX_STORE_BYTES);
  }

  public void saveChannelMessages(String channelId, byte[] store) throws IOException {
    CheckedFile.write(messagesFile(channelId), store);
  }

  public Path messagesFile(String channelId) {
    return home.resolve(MESSAGES).resolve(storeName(channelId));
  }

  /** An id from the server used as a file name: never a path of its own. */
  private static String storeName(String id) {
    if (id == null || !STORE_NAME.matcher(id).matches()) {
      throw new IllegalArgumentException("not a usable id: " + id);
    }
    return id;
  }

  private static void removeTemporaries(Path dir) throws IOException {
    try (DirectoryStream<Path> tmps = Files.newDirectoryStream(dir, ".*.tmp")) {
      for (Path t : tmps) {
        Files.deleteIfExists(t);
      }
    }
  }

  @Override
  public String toString() {
    return "Profile[" + home + "]";
  }
}
