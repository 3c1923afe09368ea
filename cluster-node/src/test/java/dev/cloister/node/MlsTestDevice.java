package dev.cloister.node;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.group.MlsGroupException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One MLS device of a test user, written from the README's group API: it registers with real key
 * packages, creates or joins its groups, follows their logs, commits pending proposals and
 * encrypts real PrivateMessages. The node's tests post with it now that channels take only MLS;
 * the SDK's full client lives in client-core (which tests against this module, hence this small
 * one here). Not thread-safe: one test thread per device.
 */
public final class MlsTestDevice {

  private static final Base64.Encoder B64 = Base64.getEncoder();
  private static final Base64.Decoder UNB64 = Base64.getDecoder();
  private static final Set<String> RETRY = Set.of("stale_epoch", "roster_pending", "no_group",
      "future_epoch", "wrong_group");

  final ApiClient api;
  public final String token;
  public final String userId;
  final DeviceIdentity identity;
  final List<KeyPackageBundle> packages = new ArrayList<>();
  private final Map<String, GroupMember> groups = new HashMap<>();
  private final Map<String, Long> seqs = new HashMap<>();
  private final Map<String, String> groupOfChannel = new HashMap<>();

  private MlsTestDevice(ApiClient api, String token, String userId) {
    this.api = api;
    this.token = token;
    this.userId = userId;
    this.identity = DeviceIdentity.generate(userId, "d1");
  }

  /** Registers device {@code d1} of the token's user with a few key packages and a last resort. */
  public static MlsTestDevice enroll(ApiClient api, String token, String userId) throws Exception {
    MlsTestDevice d = new MlsTestDevice(api, token, userId);
    var added = api.post("/api/v1/users/@me/devices", Map.of("deviceId", "d1",
        "credential", B64.encodeToString(d.identity.credential().encode()),
        "signatureKey", B64.encodeToString(d.identity.signaturePublicKey())), token);
    check(added, 201);
    List<String> oneTime = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      KeyPackageBundle kp = d.identity.newKeyPackage(false);
      d.packages.add(kp);
      oneTime.add(B64.encodeToString(kp.message()));
    }
    KeyPackageBundle last = d.identity.newKeyPackage(true);
    d.packages.add(last);
    check(api.post("/api/v1/users/@me/devices/d1/key-packages", Map.of("keyPackages", oneTime,
        "lastResort", B64.encodeToString(last.message())), token), 200);
    return d;
  }

  /** Registers and logs in a user, then enrolls its device. */
  static MlsTestDevice register(ApiClient api, String username) throws Exception {
    check(api.register(username, "pw " + username), 201);
    var login = api.login(username, "pw " + username);
    return enroll(api, login.body().get("token").asText(), login.body().get("userId").asText());
  }

  private static JsonNode check(ApiClient.Response r, int status) {
    if (r.status() != status) {
      throw new AssertionError("expected " + status + ", got " + r.status() + " " + r.body());
    }
    return r.body();
  }

  public String groupOf(String channelId) throws Exception {
    String g = groupOfChannel.get(channelId);
    if (g == null) {
      g = check(api.get("/api/v1/channels/" + channelId + "/group", token), 200)
          .get("groupId").asText();
      groupOfChannel.put(channelId, g);
    }
    return g;
  }

  public GroupMember member(String groupId) {
    return groups.get(groupId);
  }

  /**
   * Brings this device's copy of the group up to date: creates the group if nobody has, joins
   * from its Welcome, follows the log, commits pending proposals. True when it is a member.
   */
  public boolean sync(String groupId) throws Exception {
    String lastRefusal = "none";
    for (int attempt = 0; attempt < 20; attempt++) {
      var r = api.get("/api/v1/groups/" + groupId + "?deviceId=d1", token);
      if (r.status() == 404) {
        return false; // the roster driver has not reached this group yet
      }
      if (r.status() == 403) {
        groups.remove(groupId);
        return false;
      }
      JsonNode s = check(r, 200);
      GroupMember m = groups.get(groupId);
      if (!s.get("created").asBoolean()) {
        if (!s.get("onRoster").asBoolean()) {
          return false;
        }
        JsonNode server = check(api.get("/api/v1/mls/delivery-service", token), 200);
        m = GroupMember.create(identity, groupId.getBytes(StandardCharsets.UTF_8),
            UNB64.decode(server.get("signatureKey").asText()), server.get("name").asText());
        var created = api.post("/api/v1/groups/" + groupId + "/create", Map.of("deviceId", "d1",
            "groupInfo", B64.encodeToString(m.groupInfo())), token);
        if (created.status() == 201) {
          groups.put(groupId, m);
          seqs.put(groupId, created.body().get("seq").asLong());
        } else {
          lastRefusal = "create: " + created.status() + " " + created.body();
        }
        continue;
      }
      if (m == null) {
        long welcomeSeq = s.get("welcomeSeq").asLong();
        if (welcomeSeq == 0) {
          return s.get("groupInfo").isNull() ? false : joinExternally(groupId, s);
        }
        JsonNode w = check(api.get("/api/v1/groups/" + groupId + "/welcome?deviceId=d1", token),
            200);
        m = GroupMember.join(identity, packages, UNB64.decode(w.get("welcome").asText()));
        groups.put(groupId, m);
        seqs.put(groupId, welcomeSeq);
      }
      if (!follow(groupId, m)) {
        return false;
      }
      if (m.pendingProposalCount() == 0 || m.removalProposed()) {
        return true;
      }
      GroupMember.CommitBundle b = m.commit();
      Map<String, Object> body = new HashMap<>(Map.of("deviceId", "d1",
          "commit", B64.encodeToString(b.commit())));
      if (b.welcome() != null) {
        body.put("welcome", B64.encodeToString(b.welcome()));
      }
      var committed = api.post("/api/v1/groups/" + groupId + "/commits", body, token);
      if (committed.status() == 201) {
        m.processCommit(b.commit());
        seqs.put(groupId, committed.body().get("seq").asLong());
        check(api.post("/api/v1/groups/" + groupId + "/group-info", Map.of("deviceId", "d1",
            "groupInfo", B64.encodeToString(m.groupInfo())), token), 200);
        return true;
      }
      lastRefusal = committed.status() + " " + committed.body();
      m.discardPendingCommit(); // another member's commit won the epoch: follow it, try again
    }
    throw new AssertionError("group " + groupId + " did not settle for " + userId
        + "; the last refusal: " + lastRefusal);
  }

  /**
   * Joins from the group's latest GroupInfo without waiting for a member (allowed while this
   * device's Add is pending); false if the server says not now.
   */
  private boolean joinExternally(String groupId, JsonNode status) throws Exception {
    GroupMember.ExternalJoin join = GroupMember.joinExternal(identity,
        UNB64.decode(status.get("groupInfo").asText()));
    var r = api.post("/api/v1/groups/" + groupId + "/commits", Map.of("deviceId", "d1",
        "commit", B64.encodeToString(join.commit())), token);
    if (r.status() != 201) {
      return false;
    }
    join.member().processCommit(join.commit());
    groups.put(groupId, join.member());
    seqs.put(groupId, r.body().get("seq").asLong());
    check(api.post("/api/v1/groups/" + groupId + "/group-info", Map.of("deviceId", "d1",
        "groupInfo", B64.encodeToString(join.member().groupInfo())), token), 200);
    return true;
  }

  /** Applies the log after what this device has seen; false if it was removed. */
  private boolean follow(String groupId, GroupMember m) throws Exception {
    while (true) {
      JsonNode log = check(api.get("/api/v1/groups/" + groupId + "/log?deviceId=d1&after="
          + seqs.get(groupId), token), 200);
      if (log.isEmpty()) {
        return true;
      }
      for (JsonNode e : log) {
        seqs.put(groupId, e.get("seq").asLong());
        String type = e.get("type").asText();
        if (type.equals("proposal")) {
          m.processProposal(UNB64.decode(e.get("message").asText()));
        } else if (type.equals("revoked")) {
          List<byte[]> refs = new ArrayList<>();
          e.get("refs").forEach(ref -> refs.add(UNB64.decode(ref.asText())));
          m.revokeProposals(refs);
        } else if (type.equals("commit")
            && m.processCommit(UNB64.decode(e.get("message").asText()))
                == GroupMember.CommitResult.REMOVED) {
          groups.remove(groupId);
          return false;
        }
      }
    }
  }

  /** Syncs every device until all are members of the group with nothing pending. */
  public static void converge(String groupId, MlsTestDevice... devices) throws Exception {
    converge(Duration.ofSeconds(30), groupId, devices);
  }

  public static void converge(Duration within, String groupId, MlsTestDevice... devices)
      throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    while (System.nanoTime() < deadline) {
      boolean all = true;
      for (MlsTestDevice d : devices) {
        all &= d.sync(groupId);
      }
      if (all) {
        JsonNode s = devices[0].api.get("/api/v1/groups/" + groupId + "?deviceId=d1",
            devices[0].token).body();
        long epoch = s.get("epoch").asLong();
        boolean settled = s.get("pendingProposals").isEmpty();
        for (MlsTestDevice d : devices) {
          settled &= d.member(groupId).epoch() == epoch;
        }
        if (settled) {
          return;
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("group " + groupId + " did not converge");
  }

  /** A real MLS PrivateMessage of the channel's group at this device's epoch. */
  public byte[] encrypt(String channelId, String text) throws Exception {
    String groupId = groupOf(channelId);
    if (groups.containsKey(groupId)) {
      return groups.get(groupId).protect(text.getBytes(StandardCharsets.UTF_8));
    }
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!sync(groupId)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(userId + " did not become a member of " + groupId);
      }
      Thread.sleep(20); // the roster driver has not proposed this device's Add yet
    }
    return groups.get(groupId).protect(text.getBytes(StandardCharsets.UTF_8));
  }

  /** Decrypts with this device's state of the group the message names in its clear header. */
  String decrypt(String channelId, byte[] ciphertext) throws Exception {
    String groupId;
    try {
      groupId = new String(dev.cloister.mls.wire.MlsMessages.parsePrivateMessageHeader(ciphertext)
          .groupId(), StandardCharsets.UTF_8);
    } catch (dev.cloister.mls.wire.MlsWireException e) {
      throw new MlsGroupException("not an MLS message: " + e.getMessage());
    }
    GroupMember m = groups.get(groupId);
    if (m == null) {
      throw new MlsGroupException("this device is not in group " + groupId);
    }
    return new String(m.unprotect(ciphertext), StandardCharsets.UTF_8);
  }

  public String decrypt(String channelId, String base64) throws Exception {
    return decrypt(channelId, UNB64.decode(base64));
  }

  /** Posts {@code text} encrypted; syncs and retries while the group says so. */
  public ApiClient.Response post(String channelId, String text) throws Exception {
    return post(api, channelId, text);
  }

  /** As {@link #post(String, String)}, through {@code via} (another node, say). */
  ApiClient.Response post(ApiClient via, String channelId, String text) throws Exception {
    ApiClient.Response r = null;
    for (int attempt = 0; attempt < 50; attempt++) {
      r = via.post("/api/v1/channels/" + channelId + "/messages",
          Map.of("ciphertext", B64.encodeToString(encrypt(channelId, text))), token);
      if (r.status() < 400 || r.body() == null
          || !RETRY.contains(r.body().path("code").asText())) {
        return r;
      }
      Thread.sleep(20);
      if (r.body().path("code").asText().equals("wrong_group")) {
        groupOfChannel.remove(channelId); // the channel's audience changed: it moved group
      }
      sync(groupOf(channelId)); // behind the group: follow its log (and commit) first
    }
    return r;
  }

  /** Posts and expects 201; returns the message id. */
  public String send(String channelId, String text) throws Exception {
    return send(api, channelId, text);
  }

  String send(ApiClient via, String channelId, String text) throws Exception {
    return check(post(via, channelId, text), 201).get("id").asText();
  }

  public static String b64(byte[] bytes) {
    return B64.encodeToString(bytes);
  }

  void forget(String groupId) throws MlsGroupException {
    groups.remove(groupId);
  }
}
