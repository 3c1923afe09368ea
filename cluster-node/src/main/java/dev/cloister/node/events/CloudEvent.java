package dev.cloister.node.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.RecordComponent;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;

/**
 * One journal event as a CloudEvents 1.0 structured-mode JSON document, the value of a record on
 * the event stream. Attributes: {@code specversion}, {@code id} (the persistence id and sequence
 * number: the same event always has the same id, so consumers dedupe by it), {@code source},
 * {@code type}, {@code time} (when the event was journaled), {@code subject} (the entity's id),
 * {@code datacontenttype}, and the extensions {@code guildid} and {@code channelid}.
 *
 * <p>{@code data} holds the event's fields: ids, names, times, counts. Every byte array
 * (ciphertexts, MLS messages, group infos, key packages) is replaced by its size in a field
 * named {@code <field>Bytes}, so no ciphertext or key material ever leaves the node this way;
 * credentials (an SFU endpoint's ICE password) are left out altogether.
 */
public record CloudEvent(String id, String source, String type, String subject, Instant time,
    String guildId, String channelId, long sequence, ObjectNode data) {

  public static final String SPEC_VERSION = "1.0";
  public static final String CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8";

  private static final ObjectMapper JSON = new ObjectMapper();
  /** Fields never put on the stream, whatever record they are in. */
  private static final java.util.Set<String> CREDENTIALS = java.util.Set.of("icePwd");

  /** The entity families on the stream: each has its own topic and type prefix. */
  public enum Family {
    GUILD("guild", "guilds"), CHANNEL("channel", "channels"), GROUP("group", "groups"),
    VOICE("voice", "voice-channels");

    public final String name;
    final String path;

    Family(String name, String path) {
      this.name = name;
      this.path = path;
    }
  }

  /**
   * The envelope of {@code event}, the {@code sequence}-th of entity {@code entityId} of
   * {@code family}; {@code guildId} is the partition key, {@code channelId} may be null.
   */
  public static CloudEvent of(Family family, String persistenceId, String entityId,
      long sequence, long timestampMillis, String guildId, String channelId, Object event) {
    return new CloudEvent(persistenceId + ":" + sequence,
        "/cloister/" + family.path + "/" + entityId,
        "dev.cloister." + family.name + "." + event.getClass().getSimpleName(),
        entityId, Instant.ofEpochMilli(timestampMillis), guildId, channelId, sequence,
        (ObjectNode) fields(event));
  }

  public String toJson() {
    ObjectNode n = JSON.createObjectNode();
    n.put("specversion", SPEC_VERSION);
    n.put("id", id);
    n.put("source", source);
    n.put("type", type);
    n.put("subject", subject);
    n.put("time", time.toString());
    n.put("datacontenttype", "application/json");
    n.put("guildid", guildId);
    if (channelId != null) {
      n.put("channelid", channelId);
    }
    n.put("sequence", sequence);
    n.set("data", data);
    return n.toString();
  }

  /** A record's fields as JSON, byte arrays as their sizes, recursively. */
  static JsonNode fields(Object value) {
    if (value == null) {
      return JSON.nullNode();
    }
    if (value instanceof Record r) {
      ObjectNode o = JSON.createObjectNode();
      for (RecordComponent c : r.getClass().getRecordComponents()) {
        if (CREDENTIALS.contains(c.getName())) {
          continue;
        }
        Object v;
        try {
          v = c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
          throw new IllegalStateException("cannot read " + c.getName() + " of " + r.getClass(), e);
        }
        if (v instanceof byte[] bytes) {
          o.put(c.getName() + "Bytes", bytes.length);
        } else if (v instanceof Collection<?> list && !list.isEmpty()
            && list.iterator().next() instanceof byte[]) {
          ArrayNode sizes = o.putArray(c.getName() + "Bytes");
          list.forEach(b -> sizes.add(((byte[]) b).length));
        } else {
          o.set(c.getName(), fields(v));
        }
      }
      return o;
    }
    if (value instanceof byte[] bytes) {
      return JSON.getNodeFactory().numberNode(bytes.length);
    }
    if (value instanceof Collection<?> list) {
      ArrayNode a = JSON.createArrayNode();
      list.forEach(v -> a.add(fields(v)));
      return a;
    }
    if (value instanceof Map<?, ?> map) {
      ObjectNode o = JSON.createObjectNode();
      map.forEach((k, v) -> o.set(String.valueOf(k), fields(v)));
      return o;
    }
    if (value instanceof Number || value instanceof Boolean || value instanceof String) {
      return JSON.valueToTree(value);
    }
    if (value instanceof Enum<?> e) {
      return JSON.getNodeFactory().textNode(e.name());
    }
    return JSON.getNodeFactory().textNode(value.toString());
  }
}
