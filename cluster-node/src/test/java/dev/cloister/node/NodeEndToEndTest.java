package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drives the REST API of a real node (embedded PostgreSQL, one-node cluster) as a client would,
 * restarts the node on the same data directory and reads everything back.
 */
class NodeEndToEndTest {

  @TempDir
  Path dataDir;

  @Test
  void everythingAcknowledgedSurvivesARestart() throws Exception {
    int httpPort = TestNodes.freePort();
    int mgmtPort = TestNodes.freePort();
    String base = "http://127.0.0.1:" + httpPort;
    ApiClient api = new ApiClient(base);

    TestNodes.seedDatabase(dataDir);
    Node node = Node.start(TestNodes.config(dataDir, httpPort, mgmtPort));
    String guildId;
    String channelId;
    String oldToken;
    List<String> posted = new ArrayList<>();
    List<String> sealed = new ArrayList<>();
    MlsTestDevice device;
    try {
      assertThat(api.get("/health", null).status()).isEqualTo(200);
      var registered = api.register("alice", "correct horse battery staple");
      assertThat(registered.status()).isEqualTo(201);
      String userId = registered.body().get("userId").asText();

      var login = api.login("alice", "correct horse battery staple");
      assertThat(login.status()).isEqualTo(200);
      assertThat(login.body().get("userId").asText()).isEqualTo(userId);
      assertThat(login.body().get("expiresAt").asText()).isNotBlank();
      oldToken = login.body().get("token").asText();

      var guild = api.post("/api/v1/guilds", Map.of("name", "Book Club"), oldToken);
      assertThat(guild.status()).isEqualTo(201);
      guildId = guild.body().get("id").asText();
      assertThat(guild.body().get("ownerId").asText()).isEqualTo(userId);
      JsonNode channels = guild.body().get("channels");
      assertThat(channels).hasSize(2);
      assertThat(channels.get(0).get("type").asText()).isEqualTo("text");
      assertThat(channels.get(0).get("name").asText()).isEqualTo("general");
      assertThat(channels.get(1).get("type").asText()).isEqualTo("voice");
      assertThat(channels.get(1).get("name").asText()).isEqualTo("General");

      var created = api.post("/api/v1/guilds/" + guildId + "/channels",
          Map.of("name", "spoilers", "type", "text"), oldToken);
      assertThat(created.status()).isEqualTo(201);
      channelId = created.body().get("id").asText();
      assertThat(created.body().get("guildId").asText()).isEqualTo(guildId);

      device = MlsTestDevice.enroll(api, oldToken, userId);
      for (int i = 0; i < 120; i++) {
        var m = device.post(channelId, "sealed " + i);
        assertThat(m.status()).as(String.valueOf(m.body())).isEqualTo(201);
        sealed.add(m.body().get("ciphertext").asText());
        assertThat(m.body().get("groupId").asText()).isEqualTo("g" + guildId);
        assertThat(m.body().get("authorId").asText()).isEqualTo(userId);
        assertThat(m.body().get("channelId").asText()).isEqualTo(channelId);
        posted.add(m.body().get("id").asText());
      }
      // Read-your-writes: the newest post is in the very next history read.
      var newest = api.get("/api/v1/channels/" + channelId + "/messages?limit=1", oldToken);
      assertThat(newest.body().get(0).get("id").asText()).isEqualTo(posted.get(119));
    } finally {
      node.stop();
    }

    node = Node.start(TestNodes.config(dataDir, httpPort, mgmtPort));
    try {
      var again = api.get("/api/v1/guilds/" + guildId, oldToken);
      assertThat(again.status()).as("a token survives a restart").isEqualTo(200);
      assertThat(again.body().get("channels")).hasSize(3);

      String token = api.token("alice", "correct horse battery staple");
      List<String> newestFirst = new ArrayList<>(posted);
      java.util.Collections.reverse(newestFirst);
      assertThat(readAll(api, channelId, token)).containsExactlyElementsOf(newestFirst);

      var first = api.get("/api/v1/channels/" + channelId + "/messages?limit=100", token);
      assertThat(first.body()).hasSize(100);
      // What the server hands back is the MLS ciphertext as posted, never the text.
      assertThat(first.body().get(0).get("ciphertext").asText()).isEqualTo(sealed.get(119));
      assertThat(new String(Base64.getDecoder().decode(sealed.get(119)), StandardCharsets.ISO_8859_1))
          .doesNotContain("sealed 119");

      var after = api.get("/api/v1/channels/" + channelId + "/messages?after=" + posted.get(9)
          + "&limit=3", token);
      assertThat(ids(after.body())).containsExactly(posted.get(12), posted.get(11), posted.get(10));
      var between = api.get("/api/v1/channels/" + channelId + "/messages?after=" + posted.get(9)
          + "&before=" + posted.get(14), token);
      assertThat(ids(between.body()))
          .containsExactly(posted.get(13), posted.get(12), posted.get(11), posted.get(10));

      var later = device.post(channelId, "after restart");
      assertThat(Long.parseLong(later.body().get("id").asText()))
          .isGreaterThan(Long.parseLong(posted.get(119)));
    } finally {
      node.stop();
    }
  }

  /** Pages backwards with {@code before} until the channel's start; newest first. */
  static List<String> readAll(ApiClient api, String channelId, String token) throws Exception {
    List<String> all = new ArrayList<>();
    String before = null;
    for (int page = 0; page < 1000; page++) {
      var r = api.get("/api/v1/channels/" + channelId + "/messages?limit=50"
          + (before == null ? "" : "&before=" + before), token);
      assertThat(r.status()).isEqualTo(200);
      if (r.body().isEmpty()) {
        return all;
      }
      all.addAll(ids(r.body()));
      before = all.get(all.size() - 1);
    }
    throw new AssertionError("history paging did not end");
  }

  static List<String> ids(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(m -> out.add(m.get("id").asText()));
    return out;
  }

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }
}
