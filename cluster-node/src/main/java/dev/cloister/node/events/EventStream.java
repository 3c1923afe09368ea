package dev.cloister.node.events;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's side of the event stream: the embedded broker (dev mode) or an external cluster's
 * bootstrap list, the topics, and one idempotent producer shared by the publishing projections.
 *
 * <p>Nothing here waits for Kafka at start: the topics are made by a background task that
 * retries until the cluster answers, and the projection waits for them. While Kafka is down the
 * projection's batches fail and are retried from its last stored offset, so nothing is lost.
 */
public final class EventStream implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EventStream.class);

  /** What {@code cloister.kafka} says. */
  public record Settings(boolean enabled, String bootstrap, int embeddedPort, String topicPrefix,
      int partitions, short replicationFactor, Duration sendTimeout) {

    public static Settings of(Config kafka) {
      return new Settings(kafka.getBoolean("enabled"), kafka.getString("bootstrap").strip(),
          kafka.getInt("embedded-port"), kafka.getString("topic-prefix"),
          kafka.getInt("partitions"), (short) kafka.getInt("replication-factor"),
          kafka.getDuration("send-timeout"));
    }

    public String topic(CloudEvent.Family family) {
      return topicPrefix + family.name + "-events";
    }
  }

  private final Settings settings;
  private final EmbeddedKafka embedded;
  private final String bootstrap;
  private final KafkaProducer<String, String> producer;
  private final ExecutorService sender;
  private final CompletableFuture<Void> topicsReady = new CompletableFuture<>();
  private volatile boolean closed;

  private EventStream(Settings settings, EmbeddedKafka embedded, String bootstrap,
      String clientId) {
    this.settings = settings;
    this.embedded = embedded;
    this.bootstrap = bootstrap;
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    // A send that cannot reach the cluster fails within the send timeout; the projection retries.
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, Long.toString(settings.sendTimeout().toMillis()));
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG,
        Long.toString(Math.max(settings.sendTimeout().toMillis(), 5005)));
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    this.producer = new KafkaProducer<>(p);
    this.sender = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "cloister-event-stream");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Starts the event stream as configured: null when disabled; the embedded broker under
   * {@code <data-dir>/kafka} when no bootstrap list is given.
   */
  public static EventStream start(Config kafka, Path dataDir, int nodeId) throws Exception {
    Settings settings = Settings.of(kafka);
    if (!settings.enabled()) {
      log.info("Event stream: off (cloister.kafka.enabled)");
      return null;
    }
    EmbeddedKafka embedded = null;
    String bootstrap = settings.bootstrap();
    if (bootstrap.isEmpty()) {
      if (!EmbeddedKafka.available(settings.embeddedPort())) {
        // Serving chat does not depend on the stream, and the stream loses nothing by waiting:
        // its projection starts from its stored offsets whenever it runs again.
        log.error("Event stream: port {} for the embedded Kafka is taken; this node runs WITHOUT "
            + "the event stream (it catches up from the journal when it runs again). Set "
            + "CLOISTER_KAFKA_PORT to a free port, CLOISTER_KAFKA_BOOTSTRAP for an external "
            + "Kafka, or CLOISTER_KAFKA=off.", settings.embeddedPort());
        return null;
      }
      embedded = EmbeddedKafka.start(dataDir.resolve("kafka"), settings.embeddedPort());
      bootstrap = embedded.bootstrap();
    }
    try {
      EventStream s = new EventStream(settings, embedded, bootstrap, "cloister-node-" + nodeId);
      s.sender.execute(s::createTopics);
      return s;
    } catch (RuntimeException e) {
      if (embedded != null) {
        embedded.close();
      }
      throw e;
    }
  }

  /** Creates the topics that do not exist yet, retrying until the cluster answers. */
  private void createTopics() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    long backoff = 500;
    while (!closed) {
      try (Admin admin = Admin.create(p)) {
        Set<String> existing = admin.listTopics().names().get(10, TimeUnit.SECONDS);
        List<NewTopic> missing = new ArrayList<>();
        for (CloudEvent.Family f : CloudEvent.Family.values()) {
          if (!existing.contains(settings.topic(f))) {
            missing.add(new NewTopic(settings.topic(f), settings.partitions(),
                settings.replicationFactor()));
          }
        }
        for (var result : admin.createTopics(missing).values().values()) {
          try {
            result.get(10, TimeUnit.SECONDS);
          } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
              throw e;
            }
          }
        }
        topicsReady.complete(null);
        log.info("Event stream: publishing to {} on {}", Map.of(
            "guild", settings.topic(CloudEvent.Family.GUILD),
            "channel", settings.topic(CloudEvent.Family.CHANNEL),
            "group", settings.topic(CloudEvent.Family.GROUP),
            "voice", settings.topic(CloudEvent.Family.VOICE)), bootstrap);
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (ExecutionException | TimeoutException | RuntimeException e) {
        log.warn("Event stream: Kafka at {} does not answer yet ({}); retrying", bootstrap,
            e.toString());
        try {
          Thread.sleep(backoff);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  public Settings settings() {
    return settings;
  }

  public String bootstrap() {
    return bootstrap;
  }

  KafkaProducer<String, String> producer() {
    return producer;
  }

  ExecutorService sender() {
    return sender;
  }

  CompletableFuture<Void> topicsReady() {
    return topicsReady;
  }

  /** Closes the producer (after the projections stopped), then the embedded broker. */
  @Override
  public void close() {
    closed = true;
    sender.shutdownNow();
    producer.close(Duration.ofSeconds(5));
    if (embedded != null) {
      embedded.close();
    }
  }
}
