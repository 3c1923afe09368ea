package dev.cloister.client.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.client.http.RestClient;
import java.io.IOException;

/**
 * What a chat message's PrivateMessage carries: JSON {@code {"v": 1, "text": "..."}}. Readers
 * take any version that has a {@code text} and ignore fields they do not know, so later clients
 * can add some (replies, attachments) without breaking this one.
 */
public record ChatPayload(int version, String text) {

  public static final int VERSION = 1;
  /** The server takes 256 KiB of ciphertext; leave room for MLS framing. */
  public static final int MAX_TEXT_BYTES = 200 * 1024;

  public static ChatPayload of(String text) {
    if (text == null) {
      throw new IllegalArgumentException("a message needs a text");
    }
    if (text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_TEXT_BYTES) {
      throw new IllegalArgumentException("the text is longer than " + MAX_TEXT_BYTES + " bytes");
    }
    return new ChatPayload(VERSION, text);
  }

  public byte[] encode() {
    ObjectNode o = RestClient.JSON.createObjectNode().put("v", version).put("text", text);
    try {
      return RestClient.JSON.writeValueAsBytes(o);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** @throws IOException the plaintext is not a chat payload */
  public static ChatPayload decode(byte[] plaintext) throws IOException {
    JsonNode o;
    try {
      o = RestClient.JSON.readTree(plaintext);
    } catch (IOException e) {
      throw new IOException("the plaintext is not JSON");
    }
    if (o == null || !o.isObject() || !o.path("text").isTextual()) {
      throw new IOException("the plaintext has no text");
    }
    return new ChatPayload(o.path("v").asInt(VERSION), o.get("text").asText());
  }
}
