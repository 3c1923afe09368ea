package dev.cloister.node.events;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cloister.guild.Guild;
import java.util.List;
import org.junit.jupiter.api.Test;

class CloudEventTest {

  record Inner(String id, byte[] secret) {}

  record Sample(String groupId, byte[] commit, List<byte[]> refs, List<Inner> inners, long epoch,
      Guild.Role role) {}

  @Test
  void theEnvelopeCarriesTheAttributesAndBytesOnlyAsSizes() throws Exception {
    Sample event = new Sample("g81", new byte[] {1, 2, 3}, List.of(new byte[5], new byte[7]),
        List.of(new Inner("x", new byte[11])), 4, new Guild.Role("r1", "mods", 8));
    CloudEvent e = CloudEvent.of(CloudEvent.Family.GROUP, "EncryptionGroup|g81", "g81", 12,
        1_796_171_462_113L, "81", null, event);
    JsonNode n = new ObjectMapper().readTree(e.toJson());

    assertThat(n.get("specversion").asText()).isEqualTo("1.0");
    assertThat(n.get("id").asText()).isEqualTo("EncryptionGroup|g81:12");
    assertThat(n.get("source").asText()).isEqualTo("/cloister/groups/g81");
    assertThat(n.get("type").asText()).isEqualTo("dev.cloister.group.Sample");
    assertThat(n.get("time").asText()).isEqualTo("2026-12-02T00:31:02.113Z");
    assertThat(n.get("guildid").asText()).isEqualTo("81");
    assertThat(n.has("channelid")).isFalse();
    JsonNode d = n.get("data");
    assertThat(d.get("commitBytes").asInt()).isEqualTo(3);
    assertThat(d.has("commit")).isFalse();
    assertThat(d.get("refsBytes").toString()).isEqualTo("[5,7]");
    assertThat(d.get("inners").get(0).get("secretBytes").asInt()).isEqualTo(11);
    assertThat(d.get("epoch").asLong()).isEqualTo(4);
    assertThat(d.get("role").get("name").asText()).isEqualTo("mods");
  }

  @Test
  void theSameEventAlwaysHasTheSameId() {
    Guild.GuildRenamed renamed = new Guild.GuildRenamed("New name");
    assertThat(CloudEvent.of(CloudEvent.Family.GUILD, "Guild|81", "81", 3, 0, "81", null, renamed)
        .id()).isEqualTo(CloudEvent.of(CloudEvent.Family.GUILD, "Guild|81", "81", 3, 99, "81",
        null, renamed).id());
  }

  @Test
  void aVoiceJoinGoesOutWithoutTheEndpointsIcePassword() throws Exception {
    var joined = new dev.cloister.guild.voice.VoiceChannel.ParticipantJoined("81", "u1", "d1",
        "s1", false, false, false, 1, "v7.1", new dev.cloister.guild.voice.VoiceChannel.Endpoint(
            "u1.x", 42, "ufrag", "the-ice-password", "127.0.0.1", 50000, 1), 5);
    CloudEvent e = CloudEvent.of(CloudEvent.Family.VOICE, "VoiceChannel|7", "7", 1, 0, "81", "7",
        joined);
    String json = e.toJson();
    assertThat(json).doesNotContain("the-ice-password").doesNotContain("icePwd");
    JsonNode d = new ObjectMapper().readTree(json).get("data");
    assertThat(d.get("endpoint").get("ssrc").asLong()).isEqualTo(42);
    assertThat(new ObjectMapper().readTree(json).get("type").asText())
        .isEqualTo("dev.cloister.voice.ParticipantJoined");
    assertThat(EventStreamProjection.family("VoiceChannel|7")).isEqualTo(CloudEvent.Family.VOICE);
    assertThat(EventStreamProjection.channelOfGroup("v7.3")).isEqualTo("7");
    assertThat(EventStreamProjection.channelOfGroup("c7")).isEqualTo("7");
  }
}
