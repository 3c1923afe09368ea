package dev.cloister.client.voice;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetSocketAddress;

/**
 * Where and how this device sends its voice: what the gateway's {@code VOICE_SERVER_UPDATE}
 * carries (issue 11) and what the SFU's control API hands out for an endpoint: the SFU's UDP
 * address, this endpoint's SSRC, its ICE credentials for the STUN binding, and the RFC 8285
 * extension id of the audio level.
 */
public record VoiceServer(String udpHost, int udpPort, long ssrc, String iceUfrag, String icePwd,
    int audioLevelExtId) {

  public VoiceServer {
    if (udpHost == null || udpHost.isBlank()) {
      throw new IllegalArgumentException("voice server: udpHost missing");
    }
    if (udpPort < 1 || udpPort > 65535) {
      throw new IllegalArgumentException("voice server: udpPort " + udpPort + " is not 1..65535");
    }
    if (ssrc < 0 || ssrc > 0xFFFF_FFFFL) {
      throw new IllegalArgumentException("voice server: ssrc " + ssrc + " is not an unsigned 32-bit number");
    }
    if (iceUfrag == null || iceUfrag.isEmpty() || iceUfrag.contains(":") || iceUfrag.length() > 256) {
      throw new IllegalArgumentException("voice server: iceUfrag must be 1..256 characters without ':'");
    }
    if (icePwd == null || icePwd.isEmpty() || icePwd.length() > 256) {
      throw new IllegalArgumentException("voice server: icePwd must be 1..256 characters");
    }
    if (audioLevelExtId < 1 || audioLevelExtId > 14) {
      throw new IllegalArgumentException("voice server: audioLevelExtId " + audioLevelExtId + " is not 1..14");
    }
  }

  /**
   * From a {@code VOICE_SERVER_UPDATE} dispatch's data, or a control API endpoint allocation:
   * {@code {udpHost, udpPort, ssrc, iceUfrag, icePwd, audioLevelExtId?}} (the id defaults to 1).
   *
   * @throws IllegalArgumentException naming the field that is missing or wrong
   */
  public static VoiceServer fromJson(JsonNode d) {
    if (d == null || !d.isObject()) {
      throw new IllegalArgumentException("voice server: not a JSON object");
    }
    return new VoiceServer(text(d, "udpHost"), (int) number(d, "udpPort", 0, 65535),
        number(d, "ssrc", 0, 0xFFFF_FFFFL), text(d, "iceUfrag"), text(d, "icePwd"),
        d.has("audioLevelExtId") ? (int) number(d, "audioLevelExtId", 1, 14) : 1);
  }

  private static String text(JsonNode d, String field) {
    JsonNode v = d.get(field);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("voice server: " + field + " missing or not a string");
    }
    return v.asText();
  }

  private static long number(JsonNode d, String field, long min, long max) {
    JsonNode v = d.get(field);
    if (v == null || !v.isIntegralNumber() || v.asLong() < min || v.asLong() > max) {
      throw new IllegalArgumentException("voice server: " + field + " missing or not an integer in "
          + min + ".." + max);
    }
    return v.asLong();
  }

  public InetSocketAddress address() {
    return new InetSocketAddress(udpHost, udpPort);
  }

  /** The SSRC as RTP carries it (a signed int). */
  int ssrcInt() {
    return (int) ssrc;
  }

  @Override
  public String toString() {
    return "VoiceServer[" + udpHost + ":" + udpPort + ", ssrc=" + ssrc + ", ufrag=" + iceUfrag
        + ", levelExt=" + audioLevelExtId + "]"; // never the password
  }
}
