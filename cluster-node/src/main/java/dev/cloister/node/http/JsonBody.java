package dev.cloister.node.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigInteger;
import java.util.Base64;
import java.util.HexFormat;

/** Reading request bodies: every missing or malformed field becomes a 400 that names it. */
final class JsonBody {

  static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(32).build())
      .build());

  private final JsonNode node;

  private JsonBody(JsonNode node) {
    this.node = node;
  }

  static JsonBody parse(byte[] bytes) {
    if (bytes.length == 0) {
      throw ApiError.badRequest("the request body is empty; send a JSON object");
    }
    JsonNode node;
    try {
      node = MAPPER.readTree(bytes);
    } catch (JsonProcessingException e) {
      throw new ApiError(400, "malformed_json",
          "the request body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new ApiError(400, "malformed_json", "the request body could not be read");
    }
    if (node == null || !node.isObject()) {
      throw ApiError.badRequest("the request body must be a JSON object");
    }
    return new JsonBody(node);
  }

  String string(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      throw ApiError.badRequest("field '" + field + "' is required");
    }
    if (!v.isTextual()) {
      throw ApiError.badRequest("field '" + field + "' must be a string");
    }
    return v.asText();
  }

  byte[] hex(String field, int maxBytes) {
    String text = string(field);
    if (text.isEmpty() || text.length() > maxBytes * 2 + 2) {
      throw ApiError.badRequest("field '" + field + "' must be 1 to " + maxBytes + " bytes of hex");
    }
    String even = text.length() % 2 == 0 ? text : "0" + text;
    try {
      return HexFormat.of().parseHex(even);
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest("field '" + field + "' must be hexadecimal");
    }
  }

  /** An unsigned big-endian integer in hex. */
  BigInteger bigInteger(String field, int maxBytes) {
    return new BigInteger(1, hex(field, maxBytes));
  }

  byte[] base64(String field) {
    String text = string(field);
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest("field '" + field + "' must be standard base64");
    }
  }
}
