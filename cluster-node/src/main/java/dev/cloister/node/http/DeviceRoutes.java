package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.Snowflake;
import dev.cloister.guild.group.RosterDriver;
import dev.cloister.guild.user.Devices;
import dev.cloister.guild.user.User;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.ds.KeyPackageCheck;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * A user's devices (each with its own MLS signature key) and the key packages they upload for the
 * server to claim when it adds them to a group. Public keys are readable by anyone signed in, for
 * safety numbers; only the user changes their own devices.
 */
final class DeviceRoutes extends JsonRoutes {

  static final int MAX_UPLOAD = 50;

  private final ApiContext ctx;
  private final RosterDriver rosters;

  DeviceRoutes(ApiContext ctx) {
    this.ctx = ctx;
    this.rosters = new RosterDriver(ctx.system(), ctx.askTimeout());
  }

  Route route(String me) {
    return pathPrefix(segment("users").slash(segment()), user -> concat(
        pathEnd(() -> get(() -> reply(() -> profile(user.equals("@me") ? me : user)))),
        path("devices", () -> concat(
            get(() -> reply(() -> devices(user.equals("@me") ? me : user))),
            post(() -> body(b -> onlyMe(user, () -> addDevice(me, b)))))),
        pathPrefix(segment("devices").slash(segment()), deviceId -> concat(
            pathEnd(() -> delete(() -> discardingBody(() -> onlyMe(user, () ->
                removeDevice(me, deviceId))))),
            path("key-packages", () -> concat(
                get(() -> reply(() -> onlyMe(user, () -> ctx.<Devices.KeyPackageStock>user(me,
                    r -> new User.GetKeyPackageStock(deviceId, r)).thenApply(s ->
                    response(200, stock(s)))))),
                post(() -> body(b -> onlyMe(user, () -> upload(me, deviceId, b))))))))));
  }

  private static CompletionStage<HttpResponse> onlyMe(String user,
      java.util.function.Supplier<CompletionStage<HttpResponse>> call) {
    if (!user.equals("@me")) {
      throw new ApiError(403, "forbidden", "only your own devices can be changed: use /users/@me");
    }
    return call.get();
  }

  /** A user's public name, so that clients show who wrote what; any signed-in user may ask. */
  private CompletionStage<HttpResponse> profile(String userId) {
    if (Snowflake.parse(userId).isEmpty()) {
      throw new ApiError(404, "not_found", "unknown user '" + userId + "'");
    }
    return ctx.<User.Profile>user(userId, User.GetProfile::new).thenApply(p ->
        response(200, obj().put("id", p.userId()).put("username", p.username())));
  }

  private CompletionStage<HttpResponse> devices(String userId) {
    if (Snowflake.parse(userId).isEmpty()) {
      throw new ApiError(404, "not_found", "unknown user '" + userId + "'");
    }
    return ctx.<Devices.DeviceList>user(userId, User.GetDevices::new).thenApply(list -> {
      ArrayNode out = JsonBody.MAPPER.createArrayNode();
      list.devices().forEach(d -> out.add(device(d)));
      return response(200, out);
    });
  }

  /**
   * Removes the device, then proposes its Remove in every group of the user's guilds before
   * answering: from the 204 on, those groups take no message of the old epoch (a Remove is
   * pending), so nothing accepted afterwards is readable by the removed device. The roster
   * driver would get there too, but later.
   */
  private CompletionStage<HttpResponse> removeDevice(String me, String deviceId) {
    return ctx.<User.Profile>user(me, r -> new User.RemoveDevice(deviceId,
            System.currentTimeMillis(), r))
        .thenCompose(p -> rosters.syncUser(me).handle((done, failure) -> {
          if (failure != null) {
            throw ApiError.unavailable("the device is removed; its groups are still being told, "
                + "which the server finishes by itself", 2);
          }
          return noContent();
        }));
  }

  private CompletionStage<HttpResponse> addDevice(String me, JsonBody b) {
    String deviceId = b.string("deviceId");
    byte[] credential = b.base64("credential");
    byte[] signatureKey = b.base64("signatureKey");
    return ctx.<Devices.DeviceInfo>user(me, r -> new User.AddDevice(deviceId, credential,
        signatureKey, System.currentTimeMillis(), r)).thenApply(d -> response(201, device(d)));
  }

  private CompletionStage<HttpResponse> upload(String me, String deviceId, JsonBody b) {
    JsonNode list = b.field("keyPackages");
    if (list != null && !list.isNull() && !list.isArray()) {
      throw ApiError.badRequest("field 'keyPackages' must be an array of base64 key packages");
    }
    if (list != null && list.size() > MAX_UPLOAD) {
      throw ApiError.badRequest("at most " + MAX_UPLOAD + " key packages per upload");
    }
    List<byte[]> raw = new ArrayList<>();
    if (list != null) {
      for (JsonNode item : list) {
        raw.add(decode(item, "keyPackages"));
      }
    }
    byte[] lastResortRaw = b.has("lastResort") ? decode(b.field("lastResort"), "lastResort")
        : null;
    return ctx.<Devices.DeviceList>user(me, User.GetDevices::new).thenCompose(devices -> {
      Devices.DeviceInfo device = devices.devices().stream().filter(d -> d.deviceId().equals(deviceId))
          .findFirst().orElseThrow(() -> new ApiError(404, "not_found",
              "unknown device '" + deviceId + "'; register it first"));
      List<Devices.StoredKeyPackage> oneTime = new ArrayList<>();
      for (int i = 0; i < raw.size(); i++) {
        oneTime.add(check(raw.get(i), me, device, "keyPackages[" + i + "]"));
      }
      Devices.StoredKeyPackage lastResort = lastResortRaw == null ? null
          : check(lastResortRaw, me, device, "lastResort");
      return ctx.<Devices.KeyPackageStock>user(me,
          r -> new User.UploadKeyPackages(deviceId, oneTime, lastResort, r));
    }).thenApply(s -> response(200, stock(s)));
  }

  private static byte[] decode(JsonNode item, String field) {
    if (item == null || !item.isTextual()) {
      throw ApiError.badRequest("'" + field + "' must hold standard base64 strings");
    }
    try {
      byte[] bytes = Base64.getDecoder().decode(item.asText());
      if (bytes.length > Devices.MAX_KEY_PACKAGE_BYTES) {
        throw ApiError.badRequest("a key package in '" + field + "' is larger than "
            + Devices.MAX_KEY_PACKAGE_BYTES + " bytes");
      }
      return bytes;
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest("'" + field + "' must hold standard base64 strings");
    }
  }

  /**
   * The rules of RFC 9420 sections 7.3 and 10.1 for this device (mls-groups' bounded parser
   * first, then suite, signatures, leaf source, lifetime, distinct keys, credential and key);
   * the delivery service checks the package again when it proposes the Add.
   */
  private static Devices.StoredKeyPackage check(byte[] message, String userId,
      Devices.DeviceInfo device, String field) {
    var checked = KeyPackageCheck.check(message, new DeviceCredential(userId, device.deviceId()),
        device.signatureKey(), Instant.now());
    if (!checked.accepted()) {
      throw ApiError.badRequest(field + ": " + checked.reason());
    }
    return new Devices.StoredKeyPackage(checked.value().ref(), message);
  }

  static ObjectNode device(Devices.DeviceInfo d) {
    Base64.Encoder b64 = Base64.getEncoder();
    return obj().put("deviceId", d.deviceId()).put("credential", b64.encodeToString(d.credential()))
        .put("signatureKey", b64.encodeToString(d.signatureKey()))
        .put("createdAt", Instant.ofEpochMilli(d.createdAtMillis()).toString());
  }

  private static ObjectNode stock(Devices.KeyPackageStock s) {
    return obj().put("deviceId", s.deviceId()).put("available", s.available())
        .put("lastResort", s.lastResort());
  }
}
