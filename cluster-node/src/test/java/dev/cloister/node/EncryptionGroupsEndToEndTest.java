package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The delivery service end to end on a real node: devices register and upload real key packages,
 * the roster driver (a projection over the guild's and users' events) turns a join into an Add
 * and a kick into a Remove, members commit over HTTP, the joiner fetches its Welcome, and the
 * kicked device cannot decrypt what is sent after its removal.
 */
class EncryptionGroupsEndToEndTest {

  private static final Base64.Encoder B64 = Base64.getEncoder();
  private static final Base64.Decoder UNB64 = Base64.getDecoder();

  @TempDir
  Path dataDir;
  private Node node;
  private ApiClient api;
  private int httpPort;
  private int managementPort;

  /** One signed-in user with one device, as a client keeps them. */
  private final class Device {
    final String token;
    final String userId;
    final DeviceIdentity identity;
    final List<KeyPackageBundle> packages = new ArrayList<>();
    GroupMember member;

    Device(String username) throws Exception {
      assertThat(api.register(username, "pw-" + username).status()).isEqualTo(201);
      var login = api.login(username, "pw-" + username);
      token = login.body().get("token").asText();
      userId = login.body().get("userId").asText();
      identity = DeviceIdentity.generate(userId, "d1");
      var added = api.post("/api/v1/users/@me/devices", Map.of("deviceId", "d1",
          "credential", B64.encodeToString(identity.credential().encode()),
          "signatureKey", B64.encodeToString(identity.signaturePublicKey())), token);
      assertThat(added.status()).as(String.valueOf(added.body())).isEqualTo(201);
      List<String> oneTime = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        KeyPackageBundle kp = identity.newKeyPackage(false);
        packages.add(kp);
        oneTime.add(B64.encodeToString(kp.message()));
      }
      KeyPackageBundle last = identity.newKeyPackage(true);
      packages.add(last);
      var stored = api.post("/api/v1/users/@me/devices/d1/key-packages", Map.of(
          "keyPackages", oneTime, "lastResort", B64.encodeToString(last.message())), token);
      assertThat(stored.status()).as(String.valueOf(stored.body())).isEqualTo(200);
      assertThat(stored.body().get("available").asInt()).isEqualTo(3);
    }

    JsonNode group(String groupId) throws Exception {
      var r = api.get("/api/v1/groups/" + groupId + "?deviceId=d1", token);
      assertThat(r.status()).as(String.valueOf(r.body())).isEqualTo(200);
      return r.body();
    }

    /** Takes the pending proposals, commits them, and applies its own commit once accepted. */
    void commitPending(String groupId) throws Exception {
      for (JsonNode p : group(groupId).get("pendingProposals")) {
        member.processProposal(UNB64.decode(p.asText()));
      }
      GroupMember.CommitBundle b = member.commit();
      var body = new java.util.HashMap<String, Object>(Map.of("deviceId", "d1",
          "commit", B64.encodeToString(b.commit())));
      if (b.welcome() != null) {
        body.put("welcome", B64.encodeToString(b.welcome()));
      }
      var r = api.post("/api/v1/groups/" + groupId + "/commits", body, token);
      assertThat(r.status()).as(String.valueOf(r.body())).isEqualTo(201);
      member.processCommit(b.commit());
      var info = api.post("/api/v1/groups/" + groupId + "/group-info", Map.of("deviceId", "d1",
          "groupInfo", B64.encodeToString(member.groupInfo())), token);
      assertThat(info.status()).as(String.valueOf(info.body())).isEqualTo(200);
    }

    /** Applies the commits of the log after {@code afterSeq} made by others. */
    void follow(String groupId, long afterSeq) throws Exception {
      var log = api.get("/api/v1/groups/" + groupId + "/log?deviceId=d1&after=" + afterSeq, token);
      assertThat(log.status()).as(String.valueOf(log.body())).isEqualTo(200);
      for (JsonNode e : log.body()) {
        byte[] message = e.has("message") ? UNB64.decode(e.get("message").asText()) : null;
        if (e.get("type").asText().equals("proposal")) {
          member.processProposal(message);
        } else if (e.get("type").asText().equals("commit")) {
          member.processCommit(message);
        }
      }
    }
  }

  @BeforeEach
  void start() throws Exception {
    httpPort = TestNodes.freePort();
    managementPort = TestNodes.freePort();
    TestNodes.seedDatabase(dataDir);
    node = Node.start(TestNodes.config(dataDir, httpPort, managementPort));
    api = new ApiClient("http://127.0.0.1:" + httpPort);
  }

  @AfterEach
  void stop() {
    node.stop();
  }

  private JsonNode await(Device d, String groupId, Predicate<JsonNode> ready) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    JsonNode last = null;
    while (System.nanoTime() < deadline) {
      var r = api.get("/api/v1/groups/" + groupId + "?deviceId=d1", d.token);
      if (r.status() == 200 && ready.test(r.body())) {
        return r.body();
      }
      last = r.body();
      Thread.sleep(50);
    }
    throw new AssertionError("group " + groupId + " never got there: " + last);
  }

  @Test
  void joinsAndKicksDriveTheGroupAndAKickedDeviceIsLockedOutByTheKeys() throws Exception {
    Device alice = new Device("alice");
    Device bob = new Device("bob");
    Device carol = new Device("carol");
    var guild = api.post("/api/v1/guilds", Map.of("name", "Book Club"), alice.token);
    String guildId = guild.body().get("id").asText();
    String channelId = guild.body().get("channels").get(0).get("id").asText();
    String groupId = api.get("/api/v1/channels/" + channelId + "/group", alice.token).body()
        .get("groupId").asText();
    assertThat(groupId).isEqualTo("g" + guildId);

    // The driver puts alice's device on the roster; alice creates the group.
    await(alice, groupId, g -> g.get("onRoster").asBoolean());
    JsonNode server = api.get("/api/v1/mls/delivery-service", alice.token).body();
    alice.member = GroupMember.create(alice.identity, groupId.getBytes(StandardCharsets.UTF_8),
        UNB64.decode(server.get("signatureKey").asText()), server.get("name").asText());
    var created = api.post("/api/v1/groups/" + groupId + "/create", Map.of("deviceId", "d1",
        "groupInfo", B64.encodeToString(alice.member.groupInfo())), alice.token);
    assertThat(created.status()).as(String.valueOf(created.body())).isEqualTo(201);

    // Bob joins the guild: the driver proposes his device's Add with a claimed key package.
    String code = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), alice.token)
        .body().get("code").asText();
    assertThat(api.post("/api/v1/invites/" + code, Map.of(), bob.token).status()).isEqualTo(200);
    assertThat(api.post("/api/v1/invites/" + code, Map.of(), carol.token).status()).isEqualTo(200);
    await(alice, groupId, g -> g.get("pendingProposals").size() == 2);
    alice.commitPending(groupId);
    carol.member = GroupMember.join(carol.identity, carol.packages, UNB64.decode(api.get(
        "/api/v1/groups/" + groupId + "/welcome?deviceId=d1", carol.token).body().get("welcome")
        .asText()));

    JsonNode welcome = api.get("/api/v1/groups/" + groupId + "/welcome?deviceId=d1", bob.token)
        .body();
    bob.member = GroupMember.join(bob.identity, bob.packages,
        UNB64.decode(welcome.get("welcome").asText()));
    assertThat(bob.member.epochAuthenticator()).isEqualTo(alice.member.epochAuthenticator());
    byte[] hello = alice.member.protect("hello bob".getBytes(StandardCharsets.UTF_8));
    assertThat(new String(bob.member.unprotect(hello), StandardCharsets.UTF_8))
        .isEqualTo("hello bob");
    assertThat(api.get("/api/v1/users/@me/devices/d1/key-packages", bob.token).body()
        .get("available").asInt()).isEqualTo(2);

    // Alice kicks bob: a Remove is proposed; alice commits it; bob's device is out.
    long seqBeforeKick = bob.group(groupId).get("seq").asLong();
    assertThat(api.call("DELETE", "/api/v1/guilds/" + guildId + "/members/" + bob.userId, null,
        alice.token).status()).isEqualTo(204);
    await(alice, groupId, g -> g.get("pendingProposals").size() == 1);
    long seqAtKick = alice.group(groupId).get("seq").asLong();
    carol.follow(groupId, seqAtKick - 1);
    alice.commitPending(groupId);
    carol.follow(groupId, seqAtKick);
    assertThat(carol.member.epochAuthenticator()).isEqualTo(alice.member.epochAuthenticator());
    var shutOut = api.get("/api/v1/groups/" + groupId + "?deviceId=d1", bob.token);
    assertThat(shutOut.status()).isEqualTo(403);
    // Bob's client processes what it had seen (a real client would do it before the 403).
    var aliceLog = api.get("/api/v1/groups/" + groupId + "/log?deviceId=d1&after="
        + seqBeforeKick, alice.token).body();
    for (JsonNode e : aliceLog) {
      byte[] m = UNB64.decode(e.get("message").asText());
      if (e.get("type").asText().equals("proposal")) {
        bob.member.processProposal(m);
      } else if (e.get("type").asText().equals("commit")) {
        assertThat(bob.member.processCommit(m)).isEqualTo(GroupMember.CommitResult.REMOVED);
      }
    }
    byte[] secret = alice.member.protect("after the kick".getBytes(StandardCharsets.UTF_8));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> bob.member.unprotect(secret))
        .isInstanceOf(dev.cloister.mls.group.MlsGroupException.class);
    assertThat(new String(carol.member.unprotect(secret), StandardCharsets.UTF_8))
        .isEqualTo("after the kick");
    JsonNode after = alice.group(groupId);
    assertThat(after.get("epoch").asLong()).isEqualTo(2);
    assertThat(after.get("members")).hasSize(2);
  }

  @Test
  void badDevicesKeyPackagesAndCommitsGetClearErrors() throws Exception {
    Device alice = new Device("alice");
    Device carol = new Device("carol");
    // A key package of another device, garbage, and a wrong type.
    var foreign = api.post("/api/v1/users/@me/devices/d1/key-packages", Map.of("keyPackages",
        List.of(B64.encodeToString(carol.identity.newKeyPackage(false).message()))), alice.token);
    assertThat(foreign.status()).isEqualTo(400);
    assertThat(foreign.body().get("message").asText()).contains("belongs to " + carol.userId + "/d1");
    var garbage = api.post("/api/v1/users/@me/devices/d1/key-packages", Map.of("keyPackages",
        List.of(B64.encodeToString(new byte[] {0, 1, 0, 5, 1}))), alice.token);
    assertThat(garbage.status()).isEqualTo(400);
    assertThat(garbage.body().get("message").asText()).contains("malformed key package");
    assertThat(api.post("/api/v1/users/@me/devices/d1/key-packages", Map.of("keyPackages", "x"),
        alice.token).status()).isEqualTo(400);
    assertThat(api.post("/api/v1/users/@me/devices/zz/key-packages", Map.of("keyPackages",
        List.of()), alice.token).status()).isEqualTo(404);
    // Another user's device list is public keys only; nobody changes it but its owner.
    var carolsDevices = api.get("/api/v1/users/" + carol.userId + "/devices", alice.token);
    assertThat(carolsDevices.status()).isEqualTo(200);
    assertThat(carolsDevices.body().get(0).get("signatureKey").asText())
        .isEqualTo(B64.encodeToString(carol.identity.signaturePublicKey()));
    assertThat(api.post("/api/v1/users/" + carol.userId + "/devices", Map.of("deviceId", "x",
        "credential", "", "signatureKey", ""), alice.token).status()).isEqualTo(403);
    // A device whose credential names someone else.
    DeviceIdentity fake = DeviceIdentity.generate(carol.userId, "d2");
    var impostor = api.post("/api/v1/users/@me/devices", Map.of("deviceId", "d2",
        "credential", B64.encodeToString(fake.credential().encode()),
        "signatureKey", B64.encodeToString(fake.signaturePublicKey())), alice.token);
    assertThat(impostor.status()).isEqualTo(400);

    var guild = api.post("/api/v1/guilds", Map.of("name", "G"), alice.token);
    String groupId = "g" + guild.body().get("id").asText();
    await(alice, groupId, g -> g.get("onRoster").asBoolean());
    // Carol is not in the guild: she cannot look at its group or commit to it.
    assertThat(api.get("/api/v1/groups/" + groupId + "?deviceId=d1", carol.token).status())
        .isEqualTo(403);
    assertThat(api.get("/api/v1/groups/nonsense?deviceId=d1", alice.token).status())
        .isEqualTo(404);
    var notCreated = api.post("/api/v1/groups/" + groupId + "/commits", Map.of("deviceId", "d1",
        "commit", B64.encodeToString(new byte[] {0, 1, 0, 1})), alice.token);
    assertThat(notCreated.status()).isEqualTo(409);
    var badInfo = api.post("/api/v1/groups/" + groupId + "/create", Map.of("deviceId", "d1",
        "groupInfo", B64.encodeToString(new byte[] {0, 1, 0, 4, 9})), alice.token);
    assertThat(badInfo.status()).isEqualTo(400);
    assertThat(badInfo.body().get("message").asText()).startsWith("malformed GroupInfo");
  }

  @Test
  void theGatewayCarriesProposalsCommitsAndWelcomesToTheRightDevices() throws Exception {
    Device alice = new Device("alice");
    Device bob = new Device("bob");
    var guild = api.post("/api/v1/guilds", Map.of("name", "Live"), alice.token);
    String guildId = guild.body().get("id").asText();
    String groupId = "g" + guildId;
    await(alice, groupId, g -> g.get("onRoster").asBoolean());
    JsonNode server = api.get("/api/v1/mls/delivery-service", alice.token).body();
    alice.member = GroupMember.create(alice.identity, groupId.getBytes(StandardCharsets.UTF_8),
        UNB64.decode(server.get("signatureKey").asText()), server.get("name").asText());
    assertThat(api.post("/api/v1/groups/" + groupId + "/create", Map.of("deviceId", "d1",
        "groupInfo", B64.encodeToString(alice.member.groupInfo())), alice.token).status())
        .isEqualTo(201);
    try (GatewayClient aliceLive = GatewayClient.identify(httpPort, alice.token);
        GatewayClient bobLive = GatewayClient.identify(httpPort, bob.token)) {
      aliceLive.ready();
      bobLive.ready();
      String code = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), alice.token)
          .body().get("code").asText();
      assertThat(api.post("/api/v1/invites/" + code, Map.of(), bob.token).status())
          .isEqualTo(200);
      // The server's Add proposal reaches alice live; she commits over the gateway.
      JsonNode proposal = aliceLive.dispatch("MLS_PROPOSALS", Duration.ofSeconds(20)).get("d");
      assertThat(proposal.get("groupId").asText()).isEqualTo(groupId);
      alice.member.processProposal(UNB64.decode(proposal.get("message").asText()));
      GroupMember.CommitBundle b = alice.member.commit();
      aliceLive.send("{\"op\":\"mls_commit\",\"d\":{\"nonce\":\"n1\",\"groupId\":\"" + groupId
          + "\",\"deviceId\":\"d1\",\"commit\":\"" + B64.encodeToString(b.commit())
          + "\",\"welcome\":\"" + B64.encodeToString(b.welcome()) + "\"}}");
      // The ack (the ask's reply) and the MLS_COMMIT dispatch (the group's feed) race: take both.
      JsonNode ack = null;
      JsonNode commit = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (ack == null || commit == null) {
        JsonNode f = aliceLive.next(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
        if ("mls_commit_ack".equals(f.path("op").asText())) {
          ack = f.get("d");
        } else if ("MLS_COMMIT".equals(f.path("t").asText())) {
          commit = f.get("d");
        }
      }
      assertThat(ack.get("nonce").asText()).isEqualTo("n1");
      assertThat(ack.get("epoch").asLong()).isEqualTo(1);
      assertThat(commit.get("message").asText()).isEqualTo(B64.encodeToString(b.commit()));
      alice.member.processCommit(b.commit());
      // Bob's session hears that a Welcome waits for his device, and fetches it.
      JsonNode welcome = bobLive.dispatch("MLS_WELCOME", Duration.ofSeconds(10)).get("d");
      assertThat(welcome.get("devices").get(0).asText()).isEqualTo(bob.userId + "/d1");
      bob.member = GroupMember.join(bob.identity, bob.packages, UNB64.decode(api.get(
          "/api/v1/groups/" + groupId + "/welcome?deviceId=d1", bob.token).body()
          .get("welcome").asText()));
      assertThat(bob.member.epochAuthenticator()).isEqualTo(alice.member.epochAuthenticator());
      // The same commit again lost the race: a clear error frame, the connection stays.
      aliceLive.send("{\"op\":\"mls_commit\",\"d\":{\"nonce\":\"n2\",\"groupId\":\"" + groupId
          + "\",\"deviceId\":\"d1\",\"commit\":\"" + B64.encodeToString(b.commit()) + "\"}}");
      JsonNode error = aliceLive.until(f -> "error".equals(f.path("op").asText()),
          Duration.ofSeconds(10)).get("d");
      assertThat(error.get("status").asInt()).isEqualTo(409);
      assertThat(error.get("message").asText()).startsWith("stale_epoch");
    }
  }

  @Test
  void aRestartBetweenProposalAndCommitLosesNothingAndTheDatabaseHoldsNoPlaintext()
      throws Exception {
    MlsTestDevice alice = MlsTestDevice.register(api, "alice");
    MlsTestDevice bob = MlsTestDevice.register(api, "bob");
    var guild = api.post("/api/v1/guilds", Map.of("name", "Vault"), alice.token);
    String guildId = guild.body().get("id").asText();
    String general = guild.body().get("channels").get(0).get("id").asText();
    String groupId = "g" + guildId;
    alice.send(general, "before bob: PERIWINKLE-1");
    String code = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), alice.token)
        .body().get("code").asText();
    assertThat(api.post("/api/v1/invites/" + code, Map.of(), bob.token).status()).isEqualTo(200);
    for (int i = 0; i < 600 && api.get("/api/v1/groups/" + groupId + "?deviceId=d1", alice.token)
        .body().get("pendingProposals").size() != 1; i++) {
      Thread.sleep(50); // the roster driver proposes bob's Add
    }

    // The node stops with bob's Add proposed and not committed; it comes back from the journal.
    node.stop();
    node = Node.start(TestNodes.config(dataDir, httpPort, managementPort));
    MlsTestDevice.converge(groupId, alice, bob);
    String id = alice.send(general, "the secret word is PERIWINKLE-42");
    JsonNode newest = api.get("/api/v1/channels/" + general + "/messages?limit=1", bob.token)
        .body().get(0);
    assertThat(newest.get("id").asText()).isEqualTo(id);
    assertThat(bob.decrypt(general, newest.get("ciphertext").asText()))
        .isEqualTo("the secret word is PERIWINKLE-42");
    bob.send(general, "got it: PERIWINKLE-43");

    // Every table, every column: ciphertexts, handshakes and metadata, never a word of the chat.
    List<String> leaks = new ArrayList<>();
    try (var c = java.sql.DriverManager.getConnection(node.databaseUrl(), "postgres", "");
        var tables = c.createStatement().executeQuery("SELECT tablename FROM pg_tables"
            + " WHERE schemaname = 'public'")) {
      List<String> names = new ArrayList<>();
      while (tables.next()) {
        names.add(tables.getString(1));
      }
      assertThat(names).contains("event_journal", "message_history", "snapshot");
      for (String table : names) {
        try (var rows = c.createStatement().executeQuery("SELECT * FROM " + table)) {
          int columns = rows.getMetaData().getColumnCount();
          while (rows.next()) {
            for (int i = 1; i <= columns; i++) {
              byte[] raw = rows.getBytes(i);
              String asText = raw == null ? "" : new String(raw, StandardCharsets.ISO_8859_1);
              if (asText.contains("PERIWINKLE")) {
                leaks.add(table + "." + rows.getMetaData().getColumnName(i));
              }
            }
          }
        }
      }
    }
    assertThat(leaks).as("plaintext found in PostgreSQL").isEmpty();
  }

  @Test
  void aBannedMemberAndOneAnOverwriteHidesTheChannelFromCannotDecryptTheNextMessage()
      throws Exception {
    MlsTestDevice alice = MlsTestDevice.register(api, "alice");
    MlsTestDevice bob = MlsTestDevice.register(api, "bob");
    MlsTestDevice carol = MlsTestDevice.register(api, "carol");
    MlsTestDevice dave = MlsTestDevice.register(api, "dave");
    var guild = api.post("/api/v1/guilds", Map.of("name", "Strict"), alice.token);
    String guildId = guild.body().get("id").asText();
    String general = guild.body().get("channels").get(0).get("id").asText();
    String code = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), alice.token)
        .body().get("code").asText();
    for (MlsTestDevice d : List.of(bob, carol, dave)) {
      assertThat(api.post("/api/v1/invites/" + code, Map.of(), d.token).status()).isEqualTo(200);
    }
    MlsTestDevice.converge("g" + guildId, alice, bob, carol, dave);
    dave.send(general, "dave was here");
    carol.send(general, "carol was here");

    // A ban: the next message (alice's client commits the Remove first) is closed to carol.
    assertThat(api.call("PUT", "/api/v1/guilds/" + guildId + "/bans/" + carol.userId, null,
        alice.token).status()).isEqualTo(204);
    var afterBan = alice.post(general, "after the ban");
    assertThat(afterBan.status()).isEqualTo(201);
    String sealed = afterBan.body().get("ciphertext").asText();
    bob.sync("g" + guildId);
    assertThat(bob.decrypt(general, sealed)).isEqualTo("after the ban");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> carol.decrypt(general, sealed))
        .isInstanceOf(dev.cloister.mls.group.MlsGroupException.class);

    // An overwrite hides #general from dave: its messages move to a group without his device.
    assertThat(api.call("PUT", "/api/v1/channels/" + general + "/overwrites/" + dave.userId,
        "{\"type\":\"member\",\"deny\":[\"VIEW_CHANNEL\"]}", alice.token).status())
        .isEqualTo(204);
    // Bob in the channel's new group first: a message sent before the roster driver proposed his
    // Add is one he can never read (MLS), and under load alice's post could come first.
    MlsTestDevice.converge("c" + general, alice, bob);
    var hidden = alice.post(general, "not for dave");
    assertThat(hidden.status()).as(String.valueOf(hidden.body())).isEqualTo(201);
    assertThat(hidden.body().get("groupId").asText()).isEqualTo("c" + general);
    String secret = hidden.body().get("ciphertext").asText();
    bob.sync("c" + general);
    assertThat(bob.decrypt(general, secret)).isEqualTo("not for dave");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> dave.decrypt(general, secret))
        .isInstanceOf(dev.cloister.mls.group.MlsGroupException.class);
  }

  @Test
  void aRemovedDeviceLeavesItsGroupsAtTheNextEpoch() throws Exception {
    MlsTestDevice alice = MlsTestDevice.register(api, "alice");
    MlsTestDevice bob = MlsTestDevice.register(api, "bob");
    MlsTestDevice carol = MlsTestDevice.register(api, "carol");
    var guild = api.post("/api/v1/guilds", Map.of("name", "Devices"), alice.token);
    String guildId = guild.body().get("id").asText();
    String general = guild.body().get("channels").get(0).get("id").asText();
    String code = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), alice.token)
        .body().get("code").asText();
    for (MlsTestDevice d : List.of(bob, carol)) {
      assertThat(api.post("/api/v1/invites/" + code, Map.of(), d.token).status()).isEqualTo(200);
    }
    MlsTestDevice.converge("g" + guildId, alice, bob, carol);
    bob.send(general, "from my old laptop");

    assertThat(api.call("DELETE", "/api/v1/users/@me/devices/d1", null, bob.token).status())
        .isEqualTo(204);
    var after = alice.post(general, "after bob's device went");
    assertThat(after.status()).as(String.valueOf(after.body())).isEqualTo(201);
    String sealed = after.body().get("ciphertext").asText();
    carol.sync("g" + guildId);
    assertThat(carol.decrypt(general, sealed)).isEqualTo("after bob's device went");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> bob.decrypt(general, sealed))
        .isInstanceOf(dev.cloister.mls.group.MlsGroupException.class);
    JsonNode group = api.get("/api/v1/groups/g" + guildId + "?deviceId=d1", alice.token).body();
    assertThat(group.get("members")).extracting(m -> m.get("userId").asText())
        .doesNotContain(bob.userId);
  }
}
