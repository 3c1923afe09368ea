package dev.cloister.node.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * An example consumer of the event stream ({@code ./cloister audit}): follows the guild and
 * channel topics and prints what a moderator reads, one line an event: who joined or left, who
 * was kicked, banned or unbanned and by whom, which channels, roles and overwrites changed.
 * Messages are counted, never shown (the server holds only ciphertext). Drops repeats by event id.
 */
public final class AuditLog {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Set<String> seen = new HashSet<>();
  private final Map<String, String> nicknames = new LinkedHashMap<>();

  /** The audit line of a CloudEvent, or null for events a moderator does not need. */
  public String line(JsonNode e) {
    if (!seen.add(e.path("id").asText())) {
      return null;
    }
    String type = e.path("type").asText();
    JsonNode d = e.path("data");
    String what = switch (type.substring(type.lastIndexOf('.') + 1)) {
      case "GuildCreated" -> "guild '" + d.path("name").asText() + "' created by "
          + user(d.path("ownerId"));
      case "GuildRenamed" -> "guild renamed to '" + d.path("name").asText() + "'";
      case "OwnershipTransferred" -> "ownership passed from " + user(d.path("fromId")) + " to "
          + user(d.path("toId"));
      case "MemberJoined" -> user(d.path("userId")) + " joined (invite "
          + d.path("inviteCode").asText() + ")";
      case "MemberLeft" -> user(d.path("userId")) + " left";
      case "MemberKicked" -> user(d.path("userId")) + " was kicked by " + user(d.path("byId"));
      case "MemberBanned" -> user(d.path("userId")) + " was banned by " + user(d.path("byId"));
      case "MemberUnbanned" -> user(d.path("userId")) + " was unbanned by "
          + user(d.path("byId"));
      case "NicknameChanged" -> {
        String before = user(d.path("userId"));
        nicknames.put(d.path("userId").asText(), d.path("nickname").asText());
        yield before + " is now called '" + d.path("nickname").asText() + "'";
      }
      case "ChannelAdded" -> "channel #" + d.path("channel").path("name").asText() + " ("
          + d.path("channel").path("id").asText() + ") created";
      case "ChannelUpdated" -> "channel " + d.path("channelId").asText() + " changed: name '"
          + d.path("name").asText() + "', position " + d.path("position").asInt();
      case "ChannelDeleted" -> "channel " + d.path("channelId").asText() + " deleted";
      case "OverwriteSet" -> "channel " + d.path("channelId").asText()
          + ": permission overwrite set for " + d.path("overwrite").path("targetId").asText();
      case "OverwriteRemoved" -> "channel " + d.path("channelId").asText()
          + ": permission overwrite removed for " + d.path("targetId").asText();
      case "RoleCreated" -> "role '" + d.path("role").path("name").asText() + "' created";
      case "RoleUpdated" -> "role " + d.path("roleId").asText() + " changed: name '"
          + d.path("name").asText() + "', permissions " + d.path("permissions").asLong();
      case "RoleDeleted" -> "role " + d.path("roleId").asText() + " deleted";
      case "MemberRoleAdded" -> user(d.path("userId")) + " given role " + d.path("roleId").asText();
      case "MemberRoleRemoved" -> user(d.path("userId")) + " lost role "
          + d.path("roleId").asText();
      case "InviteCreated" -> "invite " + d.path("invite").path("code").asText() + " created";
      case "InviteRevoked" -> "invite " + d.path("code").asText() + " revoked";
      case "MessageDeleted" -> "a message (" + d.path("messageId").asText() + ") in channel "
          + e.path("channelid").asText() + " deleted by " + user(d.path("byId"));
      default -> null;
    };
    if (what == null) {
      return null;
    }
    return e.path("time").asText() + "  guild " + e.path("guildid").asText() + "  " + what;
  }

  private String user(JsonNode id) {
    String nick = nicknames.get(id.asText());
    return nick == null ? "user " + id.asText() : "'" + nick + "' (user " + id.asText() + ")";
  }

  /**
   * {@code AuditLog <bootstrap> <topic-prefix> [--from-beginning]}: prints until interrupted.
   * Without --from-beginning it starts at the end, as {@code tail -f} does.
   */
  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: AuditLog <bootstrap> <topic-prefix> [--from-beginning]");
      System.exit(2);
    }
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "cloister-audit-" + UUID.randomUUID());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
        List.of(args).contains("--from-beginning") ? "earliest" : "latest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    AuditLog audit = new AuditLog();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of(args[1] + "guild-events", args[1] + "channel-events"));
      while (true) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofSeconds(1))) {
          String line;
          try {
            line = audit.line(JSON.readTree(r.value()));
          } catch (Exception e) {
            line = "(unreadable record at " + r.topic() + "/" + r.partition() + "@" + r.offset()
                + ": " + e.getMessage() + ")";
          }
          if (line != null) {
            System.out.println(line);
            System.out.flush();
          }
        }
      }
    }
  }
}
