package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.events.AuditLog;
import dev.cloister.node.events.EmbeddedKafka;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event stream on a real broker, read by a real consumer: every journaled guild, channel and
 * group event arrives once, keyed by its guild, as a CloudEvent without ciphertext; across a node
 * restart, and across a Kafka outage in the middle of traffic.
 */
class EventStreamTest {

  static final List<String> TOPICS =
      List.of("cloister.guild-events", "cloister.channel-events", "cloister.group-events");
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dataDir;

  @TempDir
  Path kafkaDir;

  static Config config(Path dataDir, int port, Map<String, Object> kafka) throws Exception {
    Map<String, Object> m = new HashMap<>(kafka);
    m.put("cloister.kafka.enabled", true);
    return ConfigFactory.parseMap(m)
        .withFallback(TestNodes.config(TestNodes.seedDatabase(dataDir), port, TestNodes.freePort()));
  }

  @Test
  void theEmbeddedBrokerGetsEachEventOnceAcrossARestart() throws Exception {
    int port = TestNodes.freePort();
    Config config = config(dataDir, port, Map.of("cloister.kafka.embedded-port", 0));
    Node node = Node.start(config);
    ApiClient api = new ApiClient("http://127.0.0.1:" + port);
    String guildId;
    List<String> ciphertexts = new ArrayList<>();
    GatewayEndToEndTest.User alice;
    GatewayEndToEndTest.User bob;
    try {
      alice = GatewayEndToEndTest.user(api, "alice");
      bob = GatewayEndToEndTest.user(api, "bob");
      var guild = GatewayEndToEndTest.guild(api, alice, bob);
      guildId = guild.get("id").asText();
      String channel = guild.get("channels").get(0).get("id").asText();
      alice.device().send(channel, "before the restart");
      ciphertexts.addAll(ciphertexts(api, channel, alice.token()));
    } finally {
      node.stop();
    }
    node = Node.start(config); // same data: the broker's log and the projection's offsets
    try {
      assertThat(api.call("PUT", "/api/v1/guilds/" + guildId + "/bans/" + bob.id(), null,
          alice.token()).status()).isEqualTo(204);
      String bootstrap = node.kafkaBootstrap().orElseThrow();
      Set<String> journaled = journaledIds(node.databaseUrl());
      List<JsonNode> events = consumeUntil(bootstrap, journaled, Duration.ofSeconds(90));

      List<String> ids = events.stream().map(e -> e.get("id").asText()).toList();
      assertThat(ids).doesNotHaveDuplicates();
      // Every event journaled before reading is on the stream, and nothing else is (events
      // journaled meanwhile, such as the ban's Remove proposals, may or may not be there yet).
      assertThat(new HashSet<>(ids)).containsAll(journaled);
      assertThat(journaledIds(node.databaseUrl())).containsAll(ids);
      assertThat(events).anySatisfy(e -> {
        assertThat(e.get("type").asText()).isEqualTo("dev.cloister.guild.MemberBanned");
        assertThat(e.get("guildid").asText()).isEqualTo(guildId);
        assertThat(e.get("specversion").asText()).isEqualTo("1.0");
        assertThat(e.get("source").asText()).isEqualTo("/cloister/guilds/" + guildId);
        assertThat(e.get("time").asText()).isNotEmpty();
      });
      assertThat(events).anySatisfy(e -> {
        assertThat(e.get("type").asText()).isEqualTo("dev.cloister.channel.MessagePosted");
        assertThat(e.get("guildid").asText()).isEqualTo(guildId);
        assertThat(e.get("data").get("ciphertextBytes").asInt()).isPositive();
      });
      assertThat(events).anySatisfy(e ->
          assertThat(e.get("type").asText()).isEqualTo("dev.cloister.group.CommitAccepted"));
      assertNoCiphertext(events, ciphertexts);

      // ./cloister audit's view of the same stream: the moderation history, once.
      AuditLog audit = new AuditLog();
      List<String> lines = new ArrayList<>();
      for (JsonNode e : events) {
        String line = audit.line(e);
        if (line != null) {
          lines.add(line);
        }
      }
      events.forEach(e -> assertThat(audit.line(e)).isNull()); // repeats are dropped
      assertThat(lines).anyMatch(l -> l.contains("user " + bob.id() + " joined (invite "));
      assertThat(lines).filteredOn(l -> l.contains(" was banned by ")).singleElement()
          .matches(l -> l.contains("guild " + guildId + "  user " + bob.id()
              + " was banned by user " + alice.id()));
    } finally {
      node.stop();
    }
  }

  @Test
  void kafkaStoppedAndRestartedMidTrafficLosesNothing() throws Exception {
    int kafkaPort = TestNodes.freePort();
    EmbeddedKafka kafka = EmbeddedKafka.start(kafkaDir, kafkaPort);
    int port = TestNodes.freePort();
    Node node = Node.start(config(dataDir, port, Map.of(
        "cloister.kafka.bootstrap", kafka.bootstrap(), "cloister.kafka.send-timeout", "2s")));
    try {
      ApiClient api = new ApiClient("http://127.0.0.1:" + port);
      GatewayEndToEndTest.User alice = GatewayEndToEndTest.user(api, "carol");
      var guild = GatewayEndToEndTest.guild(api, alice);
      String channel = guild.get("channels").get(0).get("id").asText();
      alice.device().send(channel, "while Kafka is up");

      kafka.close();
      for (int i = 0; i < 5; i++) {
        alice.device().send(channel, "while Kafka is down " + i); // the node takes posts
      }
      kafka = EmbeddedKafka.start(kafkaDir, kafkaPort);
      for (int i = 0; i < 3; i++) {
        alice.device().send(channel, "after Kafka came back " + i);
      }
      Set<String> journaled = journaledIds(node.databaseUrl());
      List<JsonNode> events = consumeUntil(kafka.bootstrap(), journaled, Duration.ofSeconds(90));
      Set<String> ids = new HashSet<>();
      events.forEach(e -> ids.add(e.get("id").asText()));
      assertThat(ids).containsAll(journaled);
      assertThat(events.stream().filter(e -> e.get("type").asText()
          .equals("dev.cloister.channel.MessagePosted")).map(e -> e.get("id").asText())
          .distinct().count()).isEqualTo(9);
      assertNoCiphertext(events, ciphertexts(api, channel, alice.token()));
    } finally {
      node.stop();
      kafka.close();
    }
  }

  /** The ids every journaled guild, channel and group event has on the stream. */
  static Set<String> journaledIds(String jdbcUrl) throws Exception {
    Set<String> ids = new HashSet<>();
    try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "");
         Statement s = c.createStatement();
         ResultSet r = s.executeQuery("SELECT persistence_id, sequence_number FROM event_journal"
             + " WHERE persistence_id LIKE 'Guild|%' OR persistence_id LIKE 'TextChannel|%'"
             + " OR persistence_id LIKE 'EncryptionGroup|%'")) {
      while (r.next()) {
        ids.add(r.getString(1) + ":" + r.getLong(2));
      }
    }
    return ids;
  }

  /** Reads every topic from the start until it has seen each of {@code expected} (or times out). */
  static List<JsonNode> consumeUntil(String bootstrap, Set<String> expected, Duration timeout)
      throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    List<JsonNode> events = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    long deadline = System.nanoTime() + timeout.toNanos();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> partitions = new ArrayList<>();
      while (partitions.size() < TOPICS.size() && System.nanoTime() < deadline) {
        partitions.clear();
        for (String t : TOPICS) {
          List<PartitionInfo> info = consumer.partitionsFor(t, Duration.ofSeconds(5));
          if (info == null || info.isEmpty()) {
            break;
          }
          info.forEach(i -> partitions.add(new TopicPartition(t, i.partition())));
        }
        if (partitions.size() < TOPICS.size()) {
          Thread.sleep(500);
        }
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      long quietSince = 0;
      while (System.nanoTime() < deadline) {
        var records = consumer.poll(Duration.ofMillis(500));
        for (ConsumerRecord<String, String> r : records) {
          JsonNode e = JSON.readTree(r.value());
          assertThat(r.key()).as("key of %s", e.get("id")).isEqualTo(e.get("guildid").asText());
          events.add(e);
          seen.add(e.get("id").asText());
        }
        if (seen.containsAll(expected)) {
          // Drain a little longer so that duplicates, if any, show up too.
          if (quietSince == 0) {
            quietSince = System.nanoTime();
          } else if (System.nanoTime() - quietSince > Duration.ofSeconds(2).toNanos()) {
            return events;
          }
        }
      }
    }
    Set<String> missing = new HashSet<>(expected);
    missing.removeAll(seen);
    throw new AssertionError("events never published: " + missing);
  }

  /** The base64 ciphertexts in a channel's history. */
  static List<String> ciphertexts(ApiClient api, String channel, String token) throws Exception {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      var r = api.get("/api/v1/channels/" + channel + "/messages", token);
      if (r.status() == 200) {
        r.body().forEach(m -> out.add(m.get("ciphertext").asText()));
        return out;
      }
      Thread.sleep(200);
    }
    throw new AssertionError("history never answered");
  }

  static void assertNoCiphertext(List<JsonNode> events, List<String> ciphertexts) {
    assertThat(ciphertexts).isNotEmpty();
    for (JsonNode e : events) {
      String text = e.toString();
      for (String c : ciphertexts) {
        assertThat(text).doesNotContain(c.substring(0, Math.min(40, c.length())));
      }
      // No long opaque strings at all: byte fields travel as sizes.
      assertNoLongText(e.get("data"));
    }
  }

  static void assertNoLongText(JsonNode n) {
    if (n.isTextual()) {
      assertThat(n.asText().length()).as("text in an event's data").isLessThan(200);
    }
    n.forEach(EventStreamTest::assertNoLongText);
  }
}
