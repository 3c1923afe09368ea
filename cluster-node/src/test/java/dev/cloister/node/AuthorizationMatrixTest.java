package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.guild.Permission;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Every guarded endpoint, called over HTTP by every kind of caller: the owner, an administrator,
 * a member holding exactly the needed permission, a member without it, a member who holds it but
 * whom the channel's overwrite denies it, a stranger and a banned former member. Each call gets
 * fresh targets, so one caller's success cannot change what the next one sees.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthorizationMatrixTest {

  enum Persona { OWNER, ADMIN, GRANTED, PLAIN, DENIED, STRANGER, BANNED }

  /** Fresh objects an endpoint acts on. */
  record Target(String channelId, String messageId, String victimId, String roleId) {}

  interface Prepare {
    Target prepare() throws Exception;
  }

  interface Call {
    ApiClient.Response call(String token, Target t) throws Exception;
  }

  /** {@code permission} null: membership alone suffices. */
  record Endpoint(String name, Permission permission, boolean channelScoped, int success,
      Prepare prepare, Call call) {}

  private Node node;
  private ApiClient api;
  private Path dataDir;
  private String guildId;
  private final Map<Persona, String> tokens = new LinkedHashMap<>();
  private final Map<Persona, String> ids = new LinkedHashMap<>();
  private final Map<String, MlsTestDevice> devices = new LinkedHashMap<>();
  private final AtomicInteger users = new AtomicInteger();

  @BeforeAll
  void start() throws Exception {
    dataDir = TestNodes.dataDir("cloister-authz");
    int httpPort = TestNodes.freePort();
    node = Node.start(TestNodes.config(dataDir, httpPort, TestNodes.freePort()));
    api = new ApiClient("http://127.0.0.1:" + httpPort);
    for (Persona p : Persona.values()) {
      String name = p.name().toLowerCase();
      ids.put(p, api.register(name, "pw-" + name).body().get("userId").asText());
      tokens.put(p, api.token(name, "pw-" + name));
      devices.put(tokens.get(p), MlsTestDevice.enroll(api, tokens.get(p), ids.get(p)));
    }
    String owner = tokens.get(Persona.OWNER);
    guildId = api.post("/api/v1/guilds", Map.of("name", "Matrix"), owner).body().get("id").asText();
    // @everyone may only look, so that every other permission has to be granted.
    assertThat(api.call("PATCH", "/api/v1/guilds/" + guildId + "/roles/" + guildId,
        "{\"permissions\":[\"VIEW_CHANNEL\"]}", owner).status()).isEqualTo(200);
    String invite = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), owner).body()
        .get("code").asText();
    for (Persona p : List.of(Persona.ADMIN, Persona.GRANTED, Persona.PLAIN, Persona.DENIED,
        Persona.BANNED)) {
      assertThat(api.post("/api/v1/invites/" + invite, Map.of(), tokens.get(p)).status())
          .isEqualTo(200);
    }
    String admin = createRole(List.of("ADMINISTRATOR"));
    assign(ids.get(Persona.ADMIN), admin);
    assertThat(api.call("PUT", "/api/v1/guilds/" + guildId + "/bans/" + ids.get(Persona.BANNED),
        null, owner).status()).isEqualTo(204);
  }

  @AfterAll
  void stop() throws Exception {
    node.stop();
    TestNodes.delete(dataDir);
  }

  private String owner() {
    return tokens.get(Persona.OWNER);
  }

  private String createRole(List<String> permissions) throws Exception {
    var r = api.post("/api/v1/guilds/" + guildId + "/roles",
        Map.of("name", "r" + users.incrementAndGet(), "permissions", permissions), owner());
    assertThat(r.status()).as("create role: %s", r.body()).isEqualTo(201);
    return r.body().get("id").asText();
  }

  private void assign(String userId, String roleId) throws Exception {
    assertThat(api.call("PUT", "/api/v1/guilds/" + guildId + "/members/" + userId + "/roles/"
        + roleId, null, owner()).status()).isEqualTo(204);
  }

  private String channel() throws Exception {
    var r = api.post("/api/v1/guilds/" + guildId + "/channels",
        Map.of("name", "c" + users.incrementAndGet(), "type", "text"), owner());
    assertThat(r.status()).isEqualTo(201);
    return r.body().get("id").asText();
  }

  private String message(String channelId) throws Exception {
    return devices.get(owner()).send(channelId, "from the owner");
  }

  /** A freshly registered user who joined the guild. */
  private String victim() throws Exception {
    String name = "victim" + users.incrementAndGet();
    String id = api.register(name, "pw").body().get("userId").asText();
    String code = api.post("/api/v1/guilds/" + guildId + "/invites", Map.of(), owner()).body()
        .get("code").asText();
    assertThat(api.post("/api/v1/invites/" + code, Map.of(), api.token(name, "pw")).status())
        .isEqualTo(200);
    return id;
  }

  /**
   * A post as the caller: a real MLS message from whoever can see the channel (their device in
   * its group), plain bytes from the others; either way the permission is checked first.
   */
  private ApiClient.Response post(String token, String channelId) throws Exception {
    boolean seesIt = api.get("/api/v1/channels/" + channelId + "/group", token).status() == 200;
    return seesIt ? devices.get(token).post(channelId, "hi")
        : api.post("/api/v1/channels/" + channelId + "/messages", Map.of("ciphertext", "AA=="),
            token);
  }

  private List<Endpoint> endpoints() {
    String g = "/api/v1/guilds/";
    String c = "/api/v1/channels/";
    return List.of(
        new Endpoint("GET guild", null, false, 200, () -> new Target(null, null, null, null),
            (tok, t) -> api.get(g + guildId, tok)),
        new Endpoint("PATCH guild", Permission.MANAGE_GUILD, false, 200,
            () -> new Target(null, null, null, null),
            (tok, t) -> api.call("PATCH", g + guildId, "{\"name\":\"Matrix\"}", tok)),
        new Endpoint("POST channel", Permission.MANAGE_CHANNELS, false, 201,
            () -> new Target(null, null, null, null),
            (tok, t) -> api.post(g + guildId + "/channels", Map.of("name", "n", "type", "text"), tok)),
        new Endpoint("PATCH channel", Permission.MANAGE_CHANNELS, true, 200,
            () -> new Target(channel(), null, null, null),
            (tok, t) -> api.call("PATCH", c + t.channelId(), "{\"name\":\"renamed\"}", tok)),
        new Endpoint("DELETE channel", Permission.MANAGE_CHANNELS, true, 204,
            () -> new Target(channel(), null, null, null),
            (tok, t) -> api.call("DELETE", c + t.channelId(), null, tok)),
        new Endpoint("PUT overwrite", Permission.MANAGE_ROLES, true, 204,
            () -> new Target(channel(), null, victim(), null),
            (tok, t) -> api.call("PUT", c + t.channelId() + "/overwrites/" + t.victimId(),
                "{\"type\":\"member\",\"allow\":[],\"deny\":[\"VIEW_CHANNEL\"]}", tok)),
        new Endpoint("POST role", Permission.MANAGE_ROLES, false, 201,
            () -> new Target(null, null, null, null),
            (tok, t) -> api.post(g + guildId + "/roles", Map.of("name", "x", "permissions",
                List.of()), tok)),
        new Endpoint("PATCH role", Permission.MANAGE_ROLES, false, 200,
            () -> new Target(null, null, null, createRole(List.of())),
            (tok, t) -> api.call("PATCH", g + guildId + "/roles/" + t.roleId(),
                "{\"name\":\"renamed\"}", tok)),
        new Endpoint("DELETE role", Permission.MANAGE_ROLES, false, 204,
            () -> new Target(null, null, null, createRole(List.of())),
            (tok, t) -> api.call("DELETE", g + guildId + "/roles/" + t.roleId(), null, tok)),
        new Endpoint("PUT member role", Permission.MANAGE_ROLES, false, 204,
            () -> new Target(null, null, victim(), createRole(List.of())),
            (tok, t) -> api.call("PUT", g + guildId + "/members/" + t.victimId() + "/roles/"
                + t.roleId(), null, tok)),
        new Endpoint("DELETE member (kick)", Permission.KICK_MEMBERS, false, 204,
            () -> new Target(null, null, victim(), null),
            (tok, t) -> api.call("DELETE", g + guildId + "/members/" + t.victimId(), null, tok)),
        new Endpoint("PUT ban", Permission.BAN_MEMBERS, false, 204,
            () -> new Target(null, null, victim(), null),
            (tok, t) -> api.call("PUT", g + guildId + "/bans/" + t.victimId(), null, tok)),
        new Endpoint("GET bans", Permission.BAN_MEMBERS, false, 200,
            () -> new Target(null, null, null, null),
            (tok, t) -> api.get(g + guildId + "/bans", tok)),
        new Endpoint("POST invite", Permission.CREATE_INVITE, false, 201,
            () -> new Target(null, null, null, null),
            (tok, t) -> api.post(g + guildId + "/invites", Map.of("maxUses", 1), tok)),
        new Endpoint("GET invites", Permission.MANAGE_GUILD, false, 200,
            () -> new Target(null, null, null, null),
            (tok, t) -> api.get(g + guildId + "/invites", tok)),
        new Endpoint("POST message", Permission.SEND_MESSAGES, true, 201,
            () -> new Target(channel(), null, null, null),
            (tok, t) -> post(tok, t.channelId())),
        new Endpoint("GET messages", Permission.READ_MESSAGE_HISTORY, true, 200,
            () -> new Target(channel(), null, null, null),
            (tok, t) -> api.get(c + t.channelId() + "/messages", tok)),
        new Endpoint("GET pins", Permission.READ_MESSAGE_HISTORY, true, 200,
            () -> new Target(channel(), null, null, null),
            (tok, t) -> api.get(c + t.channelId() + "/pins", tok)),
        new Endpoint("DELETE another's message", Permission.MANAGE_MESSAGES, true, 204,
            () -> {
              String ch = channel();
              return new Target(ch, message(ch), null, null);
            },
            (tok, t) -> api.call("DELETE", c + t.channelId() + "/messages/" + t.messageId(), null,
                tok)),
        new Endpoint("PUT pin", Permission.MANAGE_MESSAGES, true, 204,
            () -> {
              String ch = channel();
              return new Target(ch, message(ch), null, null);
            },
            (tok, t) -> api.call("PUT", c + t.channelId() + "/pins/" + t.messageId(), null, tok)));
  }

  private int expected(Endpoint e, Persona p) {
    return switch (p) {
      case OWNER, ADMIN, GRANTED -> e.success();
      case PLAIN -> e.permission() == null ? e.success() : 403;
      case DENIED -> e.permission() != null && e.channelScoped() ? 403 : e.success();
      case STRANGER, BANNED -> 403;
    };
  }

  @Test
  void everyEndpointAnswersEveryKindOfCallerAsTheRulesSay() throws Exception {
    List<String> failures = new ArrayList<>();
    int calls = 0;
    for (Endpoint e : endpoints()) {
      String role = e.permission() == null ? null : createRole(List.of(e.permission().name()));
      if (role != null) {
        assign(ids.get(Persona.GRANTED), role);
        assign(ids.get(Persona.DENIED), role);
      }
      for (Persona p : Persona.values()) {
        Target t = e.prepare().prepare();
        if (e.channelScoped() && e.permission() != null) {
          var deny = api.call("PUT", "/api/v1/channels/" + t.channelId() + "/overwrites/"
              + ids.get(Persona.DENIED), "{\"type\":\"member\",\"deny\":[\""
              + e.permission().name() + "\"]}", owner());
          assertThat(deny.status()).as("deny overwrite: %s", deny.body()).isEqualTo(204);
        }
        ApiClient.Response r = e.call().call(tokens.get(p), t);
        calls++;
        int want = expected(e, p);
        if (r.status() != want) {
          failures.add(e.name() + " as " + p + ": expected " + want + ", got " + r.status() + " "
              + r.body());
        } else if (want == 403) {
          JsonNode body = r.body();
          String message = body.get("message").asText();
          boolean named = p == Persona.STRANGER || p == Persona.BANNED
              ? message.contains("not a member")
              : message.contains(e.permission().name());
          if (!body.get("code").asText().equals("forbidden") || !named) {
            failures.add(e.name() + " as " + p + ": 403 without a clear reason: " + body);
          }
        }
      }
      if (role != null) {
        assertThat(api.call("DELETE", "/api/v1/guilds/" + guildId + "/roles/" + role, null,
            owner()).status()).isEqualTo(204);
      }
    }
    assertThat(failures).isEmpty();
    assertThat(calls).isEqualTo(endpoints().size() * Persona.values().length);
  }

  @Test
  void onlyTheAuthorEditsAMessageAndTheAuthorMayDeleteTheirOwn() throws Exception {
    String ch = channel();
    String role = createRole(List.of("SEND_MESSAGES", "READ_MESSAGE_HISTORY"));
    assign(ids.get(Persona.PLAIN), role);
    String plain = tokens.get(Persona.PLAIN);
    MlsTestDevice plainDevice = devices.get(plain);
    String mine = plainDevice.send(ch, "first words");
    String owners = message(ch);

    String second = MlsTestDevice.b64(plainDevice.encrypt(ch, "second thoughts"));
    var edited = api.call("PATCH", "/api/v1/channels/" + ch + "/messages/" + mine,
        "{\"ciphertext\":\"" + second + "\"}", plain);
    assertThat(edited.status()).as(String.valueOf(edited.body())).isEqualTo(200);
    assertThat(edited.body().get("ciphertext").asText()).isEqualTo(second);
    var plaintextEdit = api.call("PATCH", "/api/v1/channels/" + ch + "/messages/" + mine,
        "{\"ciphertext\":\"Ag==\"}", plain);
    assertThat(plaintextEdit.status()).isEqualTo(400);
    assertThat(plaintextEdit.body().get("code").asText()).isEqualTo("not_mls");
    assertThat(edited.body().get("editedAt").isNull()).isFalse();
    var notMine = api.call("PATCH", "/api/v1/channels/" + ch + "/messages/" + owners,
        "{\"ciphertext\":\"Ag==\"}", plain);
    assertThat(notMine.status()).isEqualTo(403);
    var byOwner = api.call("PATCH", "/api/v1/channels/" + ch + "/messages/" + mine,
        "{\"ciphertext\":\"Aw==\"}", owner());
    assertThat(byOwner.status()).as("not even the owner edits another's words").isEqualTo(403);

    assertThat(api.call("DELETE", "/api/v1/channels/" + ch + "/messages/" + owners, null, plain)
        .status()).isEqualTo(403);
    assertThat(api.call("DELETE", "/api/v1/channels/" + ch + "/messages/" + mine, null, plain)
        .status()).isEqualTo(204);
    assertThat(api.call("DELETE", "/api/v1/channels/" + ch + "/messages/" + mine, null, plain)
        .status()).isEqualTo(404);
    var history = api.get("/api/v1/channels/" + ch + "/messages", plain);
    assertThat(NodeEndToEndTest.ids(history.body())).containsExactly(owners);
  }

  @Test
  void aBannedUserCannotRejoinThroughAnyInvite() throws Exception {
    String banned = tokens.get(Persona.BANNED);
    for (int i = 0; i < 3; i++) {
      String code = api.post("/api/v1/guilds/" + guildId + "/invites",
          Map.of("maxUses", 0, "maxAgeSeconds", 0), owner()).body().get("code").asText();
      var r = api.post("/api/v1/invites/" + code, Map.of(), banned);
      assertThat(r.status()).isEqualTo(403);
      assertThat(r.body().get("message").asText()).contains("banned");
    }
    assertThat(api.get("/api/v1/guilds/" + guildId, banned).status()).isEqualTo(403);
  }

  @Test
  void aChannelHiddenByAnOverwriteVanishesFromTheGuildView() throws Exception {
    String ch = channel();
    String plain = tokens.get(Persona.PLAIN);
    assertThat(channelIds(api.get("/api/v1/guilds/" + guildId, plain).body())).contains(ch);
    assertThat(api.call("PUT", "/api/v1/channels/" + ch + "/overwrites/" + guildId,
        "{\"type\":\"role\",\"deny\":[\"VIEW_CHANNEL\"]}", owner()).status()).isEqualTo(204);
    assertThat(channelIds(api.get("/api/v1/guilds/" + guildId, plain).body())).doesNotContain(ch);
    assertThat(channelIds(api.get("/api/v1/guilds/" + guildId, owner()).body())).contains(ch);
    assertThat(api.get("/api/v1/channels/" + ch, plain).status()).isEqualTo(403);
  }

  private static List<String> channelIds(JsonNode guild) {
    List<String> out = new ArrayList<>();
    guild.get("channels").forEach(c -> out.add(c.get("id").asText()));
    return out;
  }
}
