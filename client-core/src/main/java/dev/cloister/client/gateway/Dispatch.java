package dev.cloister.client.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.Message;
import dev.cloister.client.http.RestClient;

/**
 * One event for the listener: a gateway dispatch ({@code t}, {@code s}, {@code d}), or a
 * MESSAGE_CREATE rebuilt from history after the session was lost ({@code backfilled}, seq 0).
 */
public record Dispatch(String type, long seq, JsonNode data, boolean backfilled) {

  public static final String MESSAGE_CREATE = "MESSAGE_CREATE";
  public static final String MESSAGE_UPDATE = "MESSAGE_UPDATE";

  /** The message of a MESSAGE_CREATE, or the edited one of a MESSAGE_UPDATE. */
  public Message message() {
    if (!MESSAGE_CREATE.equals(type) && !MESSAGE_UPDATE.equals(type)) {
      throw new IllegalStateException(type + " carries no message");
    }
    return RestClient.read(data, Message.class);
  }

  /** The frame as the gateway sends it, with {@code "backfilled": true} added for rebuilt ones. */
  public JsonNode toJson() {
    var o = RestClient.JSON.createObjectNode().put("op", "dispatch").put("t", type);
    if (backfilled) {
      o.put("backfilled", true);
    } else {
      o.put("s", seq);
    }
    o.set("d", data);
    return o;
  }
}
