package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** What the gateway hands the engine, and the engine's settings: bad values are refused by name. */
class VoiceServerTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static VoiceServer parse(String json) throws Exception {
    return VoiceServer.fromJson(JSON.readTree(json));
  }

  @Test
  void aVoiceServerUpdateIsRead() throws Exception {
    VoiceServer s = parse("{\"udpHost\":\"127.0.0.1\",\"udpPort\":50000,\"ssrc\":4294967295,"
        + "\"iceUfrag\":\"u1\",\"icePwd\":\"secret-password\",\"audioLevelExtId\":3,\"endpointId\":\"x\"}");
    assertThat(s.ssrc()).isEqualTo(0xFFFF_FFFFL);
    assertThat(s.ssrcInt()).isEqualTo(-1);
    assertThat(s.audioLevelExtId()).isEqualTo(3);
    assertThat(s.toString()).doesNotContain("secret-password");
    assertThat(parse("{\"udpHost\":\"h\",\"udpPort\":1,\"ssrc\":0,\"iceUfrag\":\"u\",\"icePwd\":\"p\"}")
        .audioLevelExtId()).isEqualTo(1);
  }

  @Test
  void eachBadFieldIsNamed() {
    String ok = "\"udpHost\":\"h\",\"udpPort\":1,\"ssrc\":0,\"iceUfrag\":\"u\",\"icePwd\":\"p\"";
    assertThatThrownBy(() -> parse("[]")).hasMessageContaining("not a JSON object");
    assertThatThrownBy(() -> parse("{" + ok.replace("\"udpHost\":\"h\",", "") + "}")).hasMessageContaining("udpHost");
    assertThatThrownBy(() -> parse("{" + ok.replace("\"udpPort\":1", "\"udpPort\":70000") + "}")).hasMessageContaining("udpPort");
    assertThatThrownBy(() -> parse("{" + ok.replace("\"ssrc\":0", "\"ssrc\":-1") + "}")).hasMessageContaining("ssrc");
    assertThatThrownBy(() -> parse("{" + ok.replace("\"ssrc\":0", "\"ssrc\":\"7\"") + "}")).hasMessageContaining("ssrc");
    assertThatThrownBy(() -> parse("{" + ok.replace("\"iceUfrag\":\"u\"", "\"iceUfrag\":\"a:b\"") + "}")).hasMessageContaining("iceUfrag");
    assertThatThrownBy(() -> parse("{" + ok.replace("\"icePwd\":\"p\"", "\"icePwd\":\"\"") + "}")).hasMessageContaining("icePwd");
    assertThatThrownBy(() -> parse("{" + ok + ",\"audioLevelExtId\":15}")).hasMessageContaining("audioLevelExtId");
  }

  @Test
  void settingsOutOfRangeAreRefused() {
    VoiceConfig d = VoiceConfig.defaults();
    assertThat(d.bitrate()).isEqualTo(64_000);
    assertThat(d.inbandFec()).isTrue();
    assertThat(d.dtx()).isTrue();
    assertThatThrownBy(() -> d.withComplexity(11)).hasMessageContaining("complexity");
    assertThatThrownBy(() -> d.withConsent(Duration.ofSeconds(5), Duration.ofSeconds(5)))
        .hasMessageContaining("consentTimeout");
    assertThatThrownBy(() -> d.withEpochGrace(Duration.ofSeconds(-1))).hasMessageContaining("durations");
  }
}
