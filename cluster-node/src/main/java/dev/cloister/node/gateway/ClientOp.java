package dev.cloister.node.gateway;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Base64;

/**
 * What a client's text frame asks for (README "Client ops"), read from untrusted JSON with every
 * field checked and bounded: {@link #parse} answers an op, or throws {@link Malformed} (close
 * 4002). No state here: whether the op is allowed now is the connection's business.
 */
sealed interface ClientOp {

  /** Longest id (channel, guild, group, session, device) and nonce a frame may carry. */
  int MAX_ID_LENGTH = 64;

  /** Longest session token. */
  int MAX_TOKEN_LENGTH = 1024;

  /** Most users one {@code request_presences} may ask about: a page of members. */
  int MAX_PRESENCES_ASKED = 1000;

  record Heartbeat() implements ClientOp {}

  record Identify(String token, String deviceId) implements ClientOp {}

  record Resume(String token, String sessionId, long seq) implements ClientOp {}

  record Typing(String channelId) implements ClientOp {}

  record Presence(String status) implements ClientOp {}

  /** The presence of {@code userIds} in {@code guildId}: a large guild's page of members. */
  record RequestPresences(String guildId, java.util.List<String> userIds, String nonce)
      implements ClientOp {}

  record Send(String channelId, byte[] ciphertext, String nonce) implements ClientOp {}

  record MlsCommit(String groupId, String deviceId, byte[] commit, byte[] welcome,
      byte[] groupInfo, String nonce) implements ClientOp {}

  record MlsReset(String groupId, String deviceId, String nonce) implements ClientOp {}

  /** {@code channelId} null: leave. */
  record VoiceStateUpdate(String guildId, String channelId, boolean selfMute, boolean selfDeaf,
      String nonce) implements ClientOp {}

  /** An op this gateway does not know (close 4001). */
  record Unknown(String op) implements ClientOp {}

  /** Well-formed but refused with a 400 error frame (bad base64): the connection stays. */
  record BadRequest(String nonce, String message) implements ClientOp {}

  /** The frame is not what the README says a frame is (close 4002). */
  final class Malformed extends RuntimeException {
    Malformed(String message) {
      super(message, null, false, false);
    }
  }

  // One JSON value per frame: anything after it ("{...} trailing") is not JSON either.
  ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).build())
      .build()).enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  static ClientOp parse(String text) {
    JsonNode frame;
    try {
      frame = JSON.readTree(text);
    } catch (Exception e) {
      throw new Malformed("the frame is not JSON");
    }
    if (frame == null || !frame.isObject() || !frame.path("op").isTextual()) {
      throw new Malformed("a frame is a JSON object with a string 'op'");
    }
    JsonNode d = frame.get("d");
    String op = frame.get("op").asText();
    switch (op) {
      case "heartbeat":
        if (d != null && !d.isNull() && !d.isIntegralNumber()) {
          throw new Malformed("heartbeat 'd' must be the last seq received, or null");
        }
        return new Heartbeat();
      case "identify":
        return new Identify(text(d, "token", MAX_TOKEN_LENGTH), text(d, "deviceId", MAX_ID_LENGTH));
      case "resume": {
        String token = text(d, "token", MAX_TOKEN_LENGTH);
        String sessionId = text(d, "sessionId", MAX_ID_LENGTH);
        JsonNode seq = d.get("seq");
        if (seq == null || !seq.isIntegralNumber() || !seq.canConvertToLong() || seq.asLong() < 0) {
          throw new Malformed("'d.seq' must be the last seq received (a whole number >= 0)");
        }
        return new Resume(token, sessionId, seq.asLong());
      }
      case "typing":
        return new Typing(text(d, "channelId", MAX_ID_LENGTH));
      case "presence": {
        String status = text(d, "status", 16);
        if (!status.equals("online") && !status.equals("idle")) {
          throw new Malformed("presence 'status' must be \"online\" or \"idle\"");
        }
        return new Presence(status);
      }
      case "request_presences": {
        String guildId = text(d, "guildId", MAX_ID_LENGTH);
        JsonNode ids = d.get("userIds");
        if (ids == null || !ids.isArray() || ids.isEmpty() || ids.size() > MAX_PRESENCES_ASKED) {
          throw new Malformed("'d.userIds' must be an array of 1 to " + MAX_PRESENCES_ASKED
              + " user ids");
        }
        java.util.List<String> userIds = new java.util.ArrayList<>(ids.size());
        for (JsonNode id : ids) {
          if (!id.isTextual() || id.asText().isEmpty() || id.asText().length() > MAX_ID_LENGTH) {
            throw new Malformed("'d.userIds' must hold user ids of 1 to " + MAX_ID_LENGTH
                + " characters");
          }
          userIds.add(id.asText());
        }
        return new RequestPresences(guildId, java.util.List.copyOf(userIds), nonce(d));
      }
      case "send": {
        String channelId = text(d, "channelId", MAX_ID_LENGTH);
        String nonce = nonce(d);
        try {
          return new Send(channelId,
              Base64.getDecoder().decode(text(d, "ciphertext", Integer.MAX_VALUE)), nonce);
        } catch (IllegalArgumentException e) {
          return new BadRequest(nonce, "'d.ciphertext' must be standard base64");
        }
      }
      case "mls_commit": {
        String groupId = text(d, "groupId", MAX_ID_LENGTH);
        String deviceId = text(d, "deviceId", MAX_ID_LENGTH);
        String nonce = nonce(d);
        try {
          Base64.Decoder b64 = Base64.getDecoder();
          return new MlsCommit(groupId, deviceId, b64.decode(text(d, "commit", Integer.MAX_VALUE)),
              d.hasNonNull("welcome") ? b64.decode(text(d, "welcome", Integer.MAX_VALUE)) : null,
              d.hasNonNull("groupInfo") ? b64.decode(text(d, "groupInfo", Integer.MAX_VALUE))
                  : null,
              nonce);
        } catch (IllegalArgumentException e) {
          return new BadRequest(nonce, "commit, welcome and groupInfo must be standard base64");
        }
      }
      case "mls_reset":
        return new MlsReset(text(d, "groupId", MAX_ID_LENGTH), text(d, "deviceId", MAX_ID_LENGTH),
            nonce(d));
      case "voice_state_update": {
        String guildId = text(d, "guildId", MAX_ID_LENGTH);
        JsonNode channel = d.get("channelId");
        String channelId = channel == null || channel.isNull() ? null
            : text(d, "channelId", MAX_ID_LENGTH);
        return new VoiceStateUpdate(guildId, channelId, flag(d, "selfMute"), flag(d, "selfDeaf"),
            nonce(d));
      }
      default:
        return new Unknown(op);
    }
  }

  /** A string field of {@code d}, 1 to {@code maxLength} characters; {@code d} must be an object. */
  private static String text(JsonNode d, String field, int maxLength) {
    JsonNode v = d == null || !d.isObject() ? null : d.get(field);
    if (v == null || !v.isTextual() || v.asText().isEmpty() || v.asText().length() > maxLength) {
      throw new Malformed("'d." + field + "' must be a string of 1 to " + maxLength + " characters");
    }
    return v.asText();
  }

  private static boolean flag(JsonNode d, String field) {
    JsonNode v = d.get(field);
    if (v == null || v.isNull()) {
      return false;
    }
    if (!v.isBoolean()) {
      throw new Malformed("'d." + field + "' must be true or false");
    }
    return v.booleanValue();
  }

  private static String nonce(JsonNode d) {
    return d != null && d.hasNonNull("nonce") ? text(d, "nonce", MAX_ID_LENGTH) : null;
  }
}
