package dev.cloister.node.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.ApiClient;
import dev.cloister.node.MlsTestDevice;
import dev.cloister.node.Node;
import dev.cloister.node.events.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Benchmark, not a test: (1) how long the embedded broker takes to start, fresh and again on its
 * data; (2) with a node publishing to it, how long a post takes to reach a Kafka consumer (from
 * the 201 to the MessagePosted record), and how fast a backlog drains. Prints figures.
 *
 * <pre>
 * mvn -B -q -pl cluster-node -am test-compile dependency:build-classpath \
 *   -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java -cp cluster-node/target/test-classes:cluster-node/target/classes:$(cat /tmp/cp.txt) \
 *   dev.cloister.node.bench.EventStreamBenchmark [-Dbench.messages=300]
 * </pre>
 */
public final class EventStreamBenchmark {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    int messages = Integer.getInteger("bench.messages", 300);
    Path kafkaDir = Files.createTempDirectory("cloister-bench-kafka");
    long t0 = System.nanoTime();
    EmbeddedKafka kafka = EmbeddedKafka.start(kafkaDir, 0);
    long fresh = System.nanoTime() - t0;
    kafka.close();
    t0 = System.nanoTime();
    kafka = EmbeddedKafka.start(kafkaDir, 0);
    long again = System.nanoTime() - t0;
    System.out.printf("embedded Kafka start: fresh %d ms, on its data %d ms%n",
        fresh / 1_000_000, again / 1_000_000);

    Path dir = Files.createTempDirectory("cloister-bench");
    Node node = Node.start(ConfigFactory.parseMap(Map.ofEntries(
            Map.entry("cloister.data-dir", dir.toString()),
            Map.entry("cloister.http.host", "127.0.0.1"), Map.entry("cloister.http.port", 0),
            Map.entry("pekko.remote.artery.canonical.port", 0),
            Map.entry("pekko.management.http.port", 0),
            Map.entry("cloister.metrics.host", "127.0.0.1"), Map.entry("cloister.metrics.port", 0),
            Map.entry("cloister.kafka.bootstrap", kafka.bootstrap()),
            Map.entry("cloister.rate-limits.rest-per-ip.burst", 1_000_000),
            Map.entry("cloister.rate-limits.rest-per-ip.per-second", 1_000_000)))
        .withFallback(ConfigFactory.load()));
    Map<String, Long> postedAt = new ConcurrentHashMap<>();
    List<Long> lagMicros = Collections.synchronizedList(new ArrayList<>());
    try (KafkaConsumer<String, String> consumer = consumer(kafka.bootstrap())) {
      ApiClient api = new ApiClient("http://127.0.0.1:" + node.httpAddress().getPort());
      api.register("bench", "bench password");
      String token = api.token("bench", "bench password");
      JsonNode guild = api.call("POST", "/api/v1/guilds", "{\"name\":\"Bench\"}", token).body();
      String channel = guild.get("channels").get(0).get("id").asText();
      MlsTestDevice device = MlsTestDevice.enroll(api, token, guild.get("ownerId").asText());
      device.send(channel, "warm-up");
      waitForTopic(consumer, "cloister.channel-events");

      // (2a) one post at a time: post-to-consumer delay.
      for (int i = 0; i < messages; i++) {
        String id = device.send(channel, "m" + i);
        postedAt.put(id, System.nanoTime());
        long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (postedAt.containsKey(id) && System.nanoTime() < until) {
          drain(consumer, postedAt, lagMicros, Duration.ofMillis(5));
        }
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (lagMicros.size() < messages && System.nanoTime() < deadline) {
        drain(consumer, postedAt, lagMicros, Duration.ofMillis(200));
      }
      List<Long> sorted = new ArrayList<>(lagMicros);
      Collections.sort(sorted);
      System.out.printf("post (201) to MessagePosted at a consumer, %d posts one at a time: "
              + "p50 %d ms, p90 %d ms, p99 %d ms, max %d ms%n", sorted.size(),
          pct(sorted, 50) / 1000, pct(sorted, 90) / 1000, pct(sorted, 99) / 1000,
          sorted.get(sorted.size() - 1) / 1000);

      // (2b) a backlog: Kafka away while posts come in, then back.
      kafka.close();
      int backlog = messages;
      for (int i = 0; i < backlog; i++) {
        device.send(channel, "b" + i);
      }
      postedAt.clear();
      lagMicros.clear();
      long back = System.nanoTime();
      kafka = EmbeddedKafka.start(kafkaDir, Integer.parseInt(kafka.bootstrap().split(":")[1]));
      int seen = 0;
      deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      while (seen < backlog && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          if (JSON.readTree(r.value()).get("type").asText().endsWith("MessagePosted")) {
            seen++;
          }
        }
      }
      double s = (System.nanoTime() - back) / 1e9;
      System.out.printf("backlog of %d posts made while Kafka was down: on the consumer %.1f s "
          + "after the broker was started again (broker start included), %d seen%n",
          backlog, s, seen);
    } finally {
      node.stop();
      kafka.close();
    }
  }

  private static KafkaConsumer<String, String> consumer(String bootstrap) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    return new KafkaConsumer<>(p);
  }

  private static void waitForTopic(KafkaConsumer<String, String> c, String topic)
      throws InterruptedException {
    for (int i = 0; i < 120; i++) {
      var info = c.partitionsFor(topic, Duration.ofSeconds(5));
      if (info != null && !info.isEmpty()) {
        List<TopicPartition> parts = info.stream()
            .map(x -> new TopicPartition(topic, x.partition())).toList();
        c.assign(parts);
        c.seekToEnd(parts);
        parts.forEach(c::position);
        return;
      }
      Thread.sleep(500);
    }
    throw new IllegalStateException("topic " + topic + " never appeared");
  }

  private static void drain(KafkaConsumer<String, String> c, Map<String, Long> postedAt,
      List<Long> lagMicros, Duration wait) throws Exception {
    for (ConsumerRecord<String, String> r : c.poll(wait)) {
      long now = System.nanoTime();
      JsonNode e = JSON.readTree(r.value());
      if (e.get("type").asText().endsWith("MessagePosted")) {
        Long at = postedAt.remove(e.get("data").get("messageId").asText());
        if (at != null) {
          lagMicros.add((now - at) / 1000);
        }
      }
    }
  }

  private static long pct(List<Long> sorted, int p) {
    return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
  }

  private EventStreamBenchmark() {}
}
