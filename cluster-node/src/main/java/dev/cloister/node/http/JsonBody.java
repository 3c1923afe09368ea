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
import dev.cloister.guild.Permission;

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

  /** The raw JSON field, or null when absent. */
  JsonNode field(String field) {
    return node.get(field);
  }

  /** True if the field is present at all, even as JSON null. */
  boolean hasField(String field) {
    return node.has(field);
  }

  boolean has(String field) {
    JsonNode v = node.get(field);
    return v != null && !v.isNull();
  }

  /** Null when absent or JSON null. */
  String optionalString(String field) {
    return has(field) ? string(field) : null;
  }

  /** Null when absent or JSON null. */
  Boolean optionalBoolean(String field) {
    if (!has(field)) {
      return null;
    }
    JsonNode v = node.get(field);
    if (!v.isBoolean()) {
      throw ApiError.badRequest("field '" + field + "' must be true or false");
    }
    return v.booleanValue();
  }

  Integer optionalInt(String field, int min, int max) {
    if (!has(field)) {
      return null;
    }
    JsonNode v = node.get(field);
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < min || v.asLong() > max) {
      throw ApiError.badRequest("field '" + field + "' must be a whole number from " + min
          + " to " + max);
    }
    return (int) v.asLong();
  }

  /** A JSON array of permission names, as a bit set. */
  long permissions(String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      throw ApiError.badRequest("field '" + field + "' is required (a list of permission names)");
    }
    if (!v.isArray() || v.size() > 64) {
      throw ApiError.badRequest("field '" + field + "' must be a list of permission names");
    }
    long mask = 0;
    for (JsonNode item : v) {
      String name = item.isTextual() ? item.asText() : "";
      mask |= Permission.byName(name).orElseThrow(() -> ApiError.badRequest("unknown permission '"
          + item.asText() + "' in '" + field + "'; known: " + java.util.Arrays.toString(
              Permission.values()))).bit;
    }
    return mask;
  }

  byte[] hex(String field, int maxBytes) {
    String text = string(field);
    if (text.isEmpty() || text.length() > maxBytes * 2) {
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
