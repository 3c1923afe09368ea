package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.node.auth.SrpLogins;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every kind of bad request gets a clear JSON error with the right status, and none of them
 * disturbs what was stored before.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiBadInputTest {

  private Node node;
  private ApiClient api;
  private Path dataDir;
  private String ownerToken;
  private String strangerToken;
  private String guildId;
  private String channelId;
  private String firstMessageId;
  private MlsTestDevice owner;

  private int httpPort;

  @BeforeAll
  void start() throws Exception {
    dataDir = TestNodes.dataDir("cloister-bad-input");
    httpPort = TestNodes.freePort();
    node = Node.start(TestNodes.config(dataDir, httpPort, TestNodes.freePort()));
    api = new ApiClient("http://127.0.0.1:" + httpPort);
    assertThat(api.register("owner", "pw-owner").status()).isEqualTo(201);
    assertThat(api.register("stranger", "pw-stranger").status()).isEqualTo(201);
    ownerToken = api.token("owner", "pw-owner");
    strangerToken = api.token("stranger", "pw-stranger");
    var guild = api.post("/api/v1/guilds", Map.of("name", "Fortress"), ownerToken);
    guildId = guild.body().get("id").asText();
    channelId = guild.body().get("channels").get(0).get("id").asText();
    owner = MlsTestDevice.enroll(api, ownerToken, guild.body().get("ownerId").asText());
    firstMessageId = owner.send(channelId, "first");
  }

  @AfterAll
  void stop() throws Exception {
    node.stop();
    TestNodes.delete(dataDir);
  }

  private String messages() {
    return "/api/v1/channels/" + channelId + "/messages";
  }

  private void assertError(ApiClient.Response r, int status, String code) {
    assertThat(r.status()).as("status of %s", r.body()).isEqualTo(status);
    assertThat(r.raw().headers().firstValue("Content-Type")).hasValue("application/json");
    assertThat(r.body().get("code").asText()).isEqualTo(code);
    assertThat(r.body().get("message").asText()).isNotBlank();
  }

  @Test
  void guessingAPasswordSlowsDownAndAFloodOfLoginStartsIsRefused() throws Exception {
    assertThat(api.register("guessed", "the-right-one").status()).isEqualTo(201);
    for (int i = 0; i < 5; i++) { // the free failures
      assertError(api.login("guessed", "guess" + i), 401, "unauthorized");
    }
    // Then each waits 1 s, 2 s, 4 s ... (the test waits them out, then is told to wait 4 s).
    Thread.sleep(100);
    assertError(api.login("guessed", "guess5"), 401, "unauthorized");
    Thread.sleep(1_100);
    assertError(api.login("guessed", "guess6"), 401, "unauthorized");
    Thread.sleep(2_100);
    assertError(api.login("guessed", "guess7"), 401, "unauthorized");
    ApiClient.Response waiting = api.login("guessed", "the-right-one");
    assertError(waiting, 429, "rate_limited");
    assertThat(waiting.raw().headers().firstValue("Retry-After")).isPresent();
    assertThat(api.token("owner", "pw-owner")).as("other names are not slowed").isNotBlank();

    // Unfinished logins from one address: a few are held, the rest refused before any work.
    int refused = 0;
    java.util.List<String> started = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      var srp = new ApiClient.LateSaltClient();
      srp.init(org.bouncycastle.crypto.agreement.srp.SRP6StandardGroups.rfc5054_2048,
          new org.bouncycastle.crypto.digests.SHA256Digest(), new java.security.SecureRandom());
      ApiClient.Response r = api.startLogin("flooder" + i, srp, "x");
      if (r.status() == 429) {
        refused++;
      } else {
        started.add(r.body().get("loginId").asText());
      }
    }
    assertThat(refused).isEqualTo(40 - 32);
    for (String loginId : started) { // finished (wrongly), they free the address's slots
      assertThat(api.post("/api/v1/auth/login/finish", Map.of("loginId", loginId, "M1", "1"), null)
          .status()).isEqualTo(401);
    }
    assertThat(api.token("stranger", "pw-stranger")).isNotBlank();
  }

  /** Sends raw bytes as one HTTP/1.1 request; answers the status line and the body. */
  private String[] raw(String request) throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", httpPort)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      String statusLine = response.substring(0, response.indexOf("\r\n"));
      String head = response.substring(0, response.indexOf("\r\n\r\n"));
      return new String[] {statusLine, head, response.substring(response.indexOf("\r\n\r\n") + 4)};
    }
  }

  @Test
  void requestsTooMalformedForTheRoutesAreAnsweredInJsonToo() throws Exception {
    String end = "Host: x\r\nConnection: close\r\n\r\n";
    java.util.Map<String, String> cases = new java.util.LinkedHashMap<>();
    cases.put("GET /api/v1/%zz HTTP/1.1\r\n" + end, "400 bad_request");
    cases.put("BREW /api/v1/guilds HTTP/1.1\r\n" + end, "501 not_implemented");
    cases.put("GET /" + "a".repeat(10_000) + " HTTP/1.1\r\n" + end, "414 uri_too_long");
    cases.put("GET /health HTTP/1.1\r\nX-Big: " + "b".repeat(20_000) + "\r\n" + end,
        "431 headers_too_large");
    cases.put("GET /health HTTP/4.2\r\n" + end, "505 http_version_not_supported");
    for (var c : cases.entrySet()) {
      String[] r = raw(c.getKey());
      String[] expected = c.getValue().split(" ");
      assertThat(r[0]).as(c.getValue()).contains(" " + expected[0] + " ");
      assertThat(r[1].toLowerCase()).contains("content-type: application/json");
      var body = ApiClient.JSON.readTree(r[2]);
      assertThat(body.get("code").asText()).isEqualTo(expected[1]);
      assertThat(body.get("message").asText()).isNotBlank();
    }
  }

  @Test
  void malformedJsonAndWrongShapesAre400() throws Exception {
    assertError(api.call("POST", messages(), "{\"ciphertext\": ", ownerToken), 400, "malformed_json");
    assertError(api.call("POST", messages(), "[1,2]", ownerToken), 400, "invalid");
    assertError(api.call("POST", messages(), "", ownerToken), 400, "invalid");
    assertError(api.call("POST", messages(), "{}", ownerToken), 400, "invalid");
    assertError(api.call("POST", messages(), "{\"ciphertext\": 42}", ownerToken), 400, "invalid");
    assertError(api.post(messages(), Map.of("ciphertext", "not base64!!"), ownerToken), 400,
        "invalid");
    assertError(api.post(messages(), Map.of("ciphertext", ""), ownerToken), 400, "invalid");
    assertError(api.call("POST", "/api/v1/auth/register", "{\"username\":\"x\"", null), 400,
        "malformed_json");
    assertError(api.post("/api/v1/guilds", Map.of("name", "  "), ownerToken), 400, "invalid");
    assertError(api.post("/api/v1/guilds/" + guildId + "/channels",
        Map.of("name", "cam", "type", "video"), ownerToken), 400, "invalid");
  }

  @Test
  void onlyAnMlsMessageOfTheChannelsGroupAtACurrentEpochIsTaken() throws Exception {
    // Plaintext, by mistake or on purpose.
    assertError(api.post(messages(), Map.of("ciphertext", NodeEndToEndTest.b64("hello world")),
        ownerToken), 400, "not_mls");
    assertError(api.post(messages(), Map.of("ciphertext", "AA=="), ownerToken), 400, "not_mls");
    // A handshake message is not a chat message.
    String groupId = owner.groupOf(channelId);
    byte[] commit = owner.member(groupId).groupInfo();
    assertError(api.post(messages(), Map.of("ciphertext",
        Base64.getEncoder().encodeToString(commit)), ownerToken), 400, "not_mls");
    // A real message of another group.
    var other = api.post("/api/v1/guilds", Map.of("name", "Elsewhere"), ownerToken);
    String otherChannel = other.body().get("channels").get(0).get("id").asText();
    byte[] elsewhere = owner.encrypt(otherChannel, "misaddressed");
    assertError(api.post(messages(), Map.of("ciphertext",
        Base64.getEncoder().encodeToString(elsewhere)), ownerToken), 400, "wrong_group");
    // The same bytes with the epoch pushed ahead (the header is clear text).
    byte[] ahead = owner.encrypt(channelId, "from the future");
    int epochAt = 2 + 2 + 1 + groupId.length();
    ahead[epochAt + 7] = (byte) (ahead[epochAt + 7] + 5);
    var r = api.post(messages(), Map.of("ciphertext", Base64.getEncoder().encodeToString(ahead)),
        ownerToken);
    assertError(r, 400, "future_epoch");
    // Nothing refused reached the channel.
    var newest = api.get(messages() + "?limit=1", ownerToken).body().get(0);
    assertThat(newest.get("groupId").asText()).isEqualTo(groupId);
  }

  @Test
  void deeplyNestedJsonIsRefusedNotFollowed() throws Exception {
    String deep = "{\"a\":".repeat(5000) + "1" + "}".repeat(5000);
    assertError(api.call("POST", "/api/v1/guilds", deep, ownerToken), 400, "malformed_json");
  }

  @Test
  void oversizedCiphertextIs413AndTheLimitItselfIsAccepted() throws Exception {
    byte[] over = new byte[256 * 1024 + 1];
    assertError(api.post(messages(),
        Map.of("ciphertext", Base64.getEncoder().encodeToString(over)), ownerToken), 413,
        "payload_too_large");
    // An MLS message of exactly 256 KiB: its overhead measured, then a text that fills the rest.
    int overhead = owner.encrypt(channelId, "x".repeat(100_000)).length - 100_000;
    byte[] limit = owner.encrypt(channelId, "x".repeat(256 * 1024 - overhead));
    assertThat(limit).hasSize(256 * 1024);
    assertThat(api.post(messages(),
        Map.of("ciphertext", Base64.getEncoder().encodeToString(limit)), ownerToken).status())
        .isEqualTo(201);
    String huge = "{\"ciphertext\":\"" + "A".repeat(2 * 1024 * 1024) + "\"}";
    assertError(api.call("POST", messages(), huge, ownerToken), 413, "payload_too_large");
  }

  @Test
  void unknownThingsAre404() throws Exception {
    assertError(api.post("/api/v1/channels/12345/messages", Map.of("ciphertext", "AA=="),
        ownerToken), 404, "not_found");
    assertError(api.get("/api/v1/channels/12345/messages", ownerToken), 404, "not_found");
    assertError(api.post("/api/v1/channels/not-an-id/messages", Map.of("ciphertext", "AA=="),
        ownerToken), 404, "not_found");
    assertError(api.get("/api/v1/guilds/987654321", ownerToken), 404, "not_found");
    assertError(api.get("/api/v1/nothing-here", ownerToken), 404, "not_found");
    // The voice channel is listed by the guild but holds no messages.
    String voiceId = api.get("/api/v1/guilds/" + guildId, ownerToken).body().get("channels").get(1)
        .get("id").asText();
    assertError(api.post("/api/v1/channels/" + voiceId + "/messages", Map.of("ciphertext", "AA=="),
        ownerToken), 400, "invalid");
  }

  @Test
  void nonMembersAre403() throws Exception {
    assertError(api.get("/api/v1/guilds/" + guildId, strangerToken), 403, "forbidden");
    assertError(api.post(messages(), Map.of("ciphertext", "AA=="), strangerToken), 403,
        "forbidden");
    assertError(api.get(messages(), strangerToken), 403, "forbidden");
    assertError(api.post("/api/v1/guilds/" + guildId + "/channels",
        Map.of("name", "mine", "type", "text"), strangerToken), 403, "forbidden");
  }

  @Test
  void missingOrBadTokensAre401() throws Exception {
    var none = api.get("/api/v1/guilds/" + guildId, null);
    assertError(none, 401, "unauthorized");
    assertThat(none.raw().headers().firstValue("WWW-Authenticate")).isPresent();
    assertError(api.get("/api/v1/guilds/" + guildId, "garbage"), 401, "unauthorized");
    String[] parts = ownerToken.split("\\.");
    String forged = parts[0] + "." + Base64.getUrlEncoder().withoutPadding()
        .encodeToString(new byte[32]);
    assertError(api.get("/api/v1/guilds/" + guildId, forged), 401, "unauthorized");
  }

  @Test
  void registrationAndLoginRefuseWhatTheyShould() throws Exception {
    assertError(api.register("owner", "another"), 409, "conflict");
    assertError(api.register("Bad Name", "pw"), 400, "invalid");
    assertError(api.post("/api/v1/auth/register",
        Map.of("username", "zed", "salt", "zz", "verifier", "01"), null), 400, "invalid");
    assertError(api.post("/api/v1/auth/register",
        Map.of("username", "zed", "salt", "0102", "verifier", "0"), null), 400, "invalid");
    assertError(api.post("/api/v1/auth/register", Map.of("username", "zed", "salt", "0102",
        "verifier", SrpLogins.GROUP.getN().toString(16)), null), 400, "invalid");

    assertError(api.login("owner", "wrong password"), 401, "unauthorized");
    assertError(api.login("nobody", "whatever"), 401, "unauthorized");
    assertError(api.post("/api/v1/auth/login/start", Map.of("username", "owner", "A", "0"), null),
        400, "invalid");
    BigInteger n = SrpLogins.GROUP.getN();
    assertError(api.post("/api/v1/auth/login/start",
        Map.of("username", "owner", "A", n.toString(16)), null), 400, "invalid");
    assertError(api.post("/api/v1/auth/login/finish",
        Map.of("loginId", "made-up", "M1", "abcd"), null), 401, "unauthorized");
  }

  @Test
  void anUnknownUserCannotBeToldFromAKnownOneAtLoginStart() throws Exception {
    var known = api.post("/api/v1/auth/login/start", Map.of("username", "owner", "A", "05"), null);
    var unknown = api.post("/api/v1/auth/login/start", Map.of("username", "ghost", "A", "05"), null);
    var unknownAgain = api.post("/api/v1/auth/login/start",
        Map.of("username", "ghost", "A", "05"), null);
    assertThat(known.status()).isEqualTo(200);
    assertThat(unknown.status()).isEqualTo(200);
    assertThat(unknown.body().fieldNames()).toIterable()
        .containsExactlyInAnyOrderElementsOf(() -> known.body().fieldNames());
    assertThat(unknown.body().get("salt").asText().length())
        .isEqualTo(known.body().get("salt").asText().length());
    assertThat(unknownAgain.body().get("salt")).as("a stable fake salt")
        .isEqualTo(unknown.body().get("salt"));
  }

  @Test
  void aLoginIdIsGoodForOneTryOnly() throws Exception {
    var srp = new ApiClient.LateSaltClient();
    srp.init(SrpLogins.GROUP, new org.bouncycastle.crypto.digests.SHA256Digest(),
        new java.security.SecureRandom());
    var start = api.startLogin("owner", srp, "pw-owner");
    srp.calculateSecret(new BigInteger(start.body().get("B").asText(), 16));
    String m1 = srp.calculateClientEvidenceMessage().toString(16);
    Map<String, String> finish = Map.of("loginId", start.body().get("loginId").asText(), "M1", m1);
    assertThat(api.post("/api/v1/auth/login/finish", finish, null).status()).isEqualTo(200);
    assertError(api.post("/api/v1/auth/login/finish", finish, null), 401, "unauthorized");
  }

  @Test
  void badPagingParametersAre400() throws Exception {
    assertError(api.get(messages() + "?limit=0", ownerToken), 400, "invalid");
    assertError(api.get(messages() + "?limit=ten", ownerToken), 400, "invalid");
    assertError(api.get(messages() + "?before=yesterday", ownerToken), 400, "invalid");
    assertError(api.get(messages() + "?after=-5", ownerToken), 400, "invalid");
    var capped = api.get(messages() + "?limit=1000", ownerToken);
    assertThat(capped.status()).isEqualTo(200);
    assertThat(capped.body().size()).isLessThanOrEqualTo(100);
  }

  @Test
  void wrongMethodsAre405() throws Exception {
    assertError(api.call("DELETE", messages(), null, ownerToken), 405, "method_not_allowed");
    assertError(api.call("GET", "/api/v1/auth/register", null, null), 405, "method_not_allowed");
  }

  @Test
  void badRequestsLoseNothing() throws Exception {
    malformedJsonAndWrongShapesAre400();
    nonMembersAre403();
    var oldest = api.get(messages() + "?after=1&limit=1", ownerToken);
    assertThat(oldest.body().get(0).get("id").asText()).isEqualTo(firstMessageId);
    assertThat(api.get("/api/v1/guilds/" + guildId, ownerToken).body().get("channels")).hasSize(2);
  }
}
