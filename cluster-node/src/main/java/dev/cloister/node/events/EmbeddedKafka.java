package dev.cloister.node.events;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-broker Kafka in KRaft mode (broker and controller in one), in the node's JVM, for dev
 * mode: data under {@code <data-dir>/kafka}, listening on loopback only. Its storage is formatted
 * once, with a cluster id kept beside the data; its topics and offsets survive restarts.
 * Kept cheap: two network and two I/O threads, and no topic is created implicitly.
 */
public final class EmbeddedKafka implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);

  /** Brokers by port: nodes of one JVM (tests) asking for the same port share one. */
  private static final Map<Integer, EmbeddedKafka> RUNNING = new HashMap<>();

  private final KafkaRaftServer server;
  private final String bootstrap;
  private final int port;
  private int users = 1;

  private EmbeddedKafka(KafkaRaftServer server, String bootstrap, int port) {
    this.server = server;
    this.bootstrap = bootstrap;
    this.port = port;
  }

  /**
   * Starts the broker on {@code 127.0.0.1:port} (0: a free port) with data under {@code dir}; a
   * node of this JVM asking for a port whose broker runs here already shares that broker.
   */
  public static EmbeddedKafka start(Path dir, int port) throws IOException {
    synchronized (RUNNING) {
      EmbeddedKafka running = RUNNING.get(port);
      if (running != null) {
        running.users++;
        log.info("Embedded Kafka: sharing the broker on {} of another node in this JVM",
            running.bootstrap);
        return running;
      }
      // Kafka ends its JVM on a fatal error; embedded, that JVM is the node's: it must fail
      // (and the stream retry), never take the node down.
      org.apache.kafka.common.utils.Exit.setExitProcedure((code, message) -> {
        throw new IllegalStateException("the embedded Kafka broker failed (" + code + "): "
            + message);
      });
      org.apache.kafka.common.utils.Exit.setHaltProcedure((code, message) -> {
        throw new IllegalStateException("the embedded Kafka broker failed (" + code + "): "
            + message);
      });
      EmbeddedKafka started = launch(dir, port);
      RUNNING.put(started.port, started);
      return started;
    }
  }

  /** Whether {@code port} on loopback is free to bind, or served by this JVM's broker. */
  public static boolean available(int port) {
    synchronized (RUNNING) {
      if (port == 0 || RUNNING.containsKey(port)) {
        return true;
      }
    }
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static EmbeddedKafka launch(Path dir, int port) throws IOException {
    Path logs = dir.resolve("logs").toAbsolutePath();
    Files.createDirectories(logs);
    int brokerPort = port == 0 ? freePort() : port;
    // The controller's port is the voters' address, read from the configuration at each start
    // (a static quorum), so a fresh one each time is fine.
    int controllerPort = freePort();
    Properties p = new Properties();
    p.put("process.roles", "broker,controller");
    p.put("node.id", "1");
    p.put("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
    p.put("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:"
        + controllerPort);
    p.put("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
    p.put("controller.listener.names", "CONTROLLER");
    p.put("inter.broker.listener.name", "PLAINTEXT");
    p.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.put("log.dirs", logs.toString());
    p.put("num.network.threads", "2");
    p.put("num.io.threads", "2");
    p.put("num.recovery.threads.per.data.dir", "1");
    p.put("background.threads", "2");
    p.put("auto.create.topics.enable", "false");
    p.put("offsets.topic.replication.factor", "1");
    p.put("offsets.topic.num.partitions", "4");
    p.put("transaction.state.log.replication.factor", "1");
    p.put("transaction.state.log.min.isr", "1");
    p.put("transaction.state.log.num.partitions", "4");
    p.put("share.coordinator.state.topic.replication.factor", "1");
    p.put("share.coordinator.state.topic.min.isr", "1");
    p.put("group.initial.rebalance.delay.ms", "0");
    Path properties = dir.resolve("server.properties");
    try (Writer w = Files.newBufferedWriter(properties, StandardCharsets.UTF_8)) {
      p.store(w, "Cloister's embedded Kafka; written at each start");
    }
    if (!Files.exists(logs.resolve("meta.properties"))) {
      format(properties, clusterId(dir));
    }
    KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(p, false), Time.SYSTEM);
    try {
      server.startup();
    } catch (RuntimeException e) {
      server.shutdown();
      throw new IllegalStateException("the embedded Kafka did not start on 127.0.0.1:"
          + brokerPort + " (" + e.getMessage() + "); set CLOISTER_KAFKA_PORT to a free port, "
          + "CLOISTER_KAFKA_BOOTSTRAP for an external Kafka, or CLOISTER_KAFKA=off", e);
    }
    String bootstrap = "127.0.0.1:" + brokerPort;
    log.info("Embedded Kafka (KRaft, one broker) on {}, data in {}", bootstrap, logs);
    return new EmbeddedKafka(server, bootstrap, brokerPort);
  }

  private static String clusterId(Path dir) throws IOException {
    Path file = dir.resolve("cluster-id");
    if (Files.exists(file)) {
      return Files.readString(file).strip();
    }
    String id = Uuid.randomUuid().toString();
    Files.writeString(file, id);
    return id;
  }

  private static void format(Path properties, String clusterId) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int rc = StorageTool.execute(new String[] {"format", "--config", properties.toString(),
        "--cluster-id", clusterId, "--ignore-formatted"},
        new PrintStream(out, true, StandardCharsets.UTF_8));
    if (rc != 0) {
      throw new IllegalStateException("could not format the embedded Kafka's storage: "
          + out.toString(StandardCharsets.UTF_8).strip());
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** {@code host:port} for clients. */
  public String bootstrap() {
    return bootstrap;
  }

  @Override
  public void close() {
    synchronized (RUNNING) {
      if (--users > 0) {
        return;
      }
      RUNNING.remove(port);
    }
    server.shutdown();
    server.awaitShutdown();
  }
}
