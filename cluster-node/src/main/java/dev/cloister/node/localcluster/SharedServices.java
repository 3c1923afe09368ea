package dev.cloister.node.localcluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.db.Database;
import dev.cloister.node.events.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the nodes of {@code ./cloister cluster N} share, in a process of its own so that any node
 * can be killed: the embedded PostgreSQL (port {@code CLOISTER_DB_EMBEDDED_PORT}, data under
 * {@code CLOISTER_DATA_DIR}) with the schema created once, and, unless {@code CLOISTER_KAFKA=off},
 * the embedded Kafka broker ({@code CLOISTER_KAFKA_PORT}). Writes the JDBC URL and the bootstrap
 * address to {@code <data-dir>/db-url} and {@code <data-dir>/kafka-bootstrap} for the launcher,
 * then runs until SIGTERM.
 */
public final class SharedServices {

  private static final Logger log = LoggerFactory.getLogger(SharedServices.class);

  private SharedServices() {
  }

  public static void main(String[] args) throws Exception {
    Config config = ConfigFactory.load();
    Config cloister = config.getConfig("cloister");
    Path dataDir = Path.of(cloister.getString("data-dir")).toAbsolutePath();
    Files.createDirectories(dataDir);
    Files.deleteIfExists(dataDir.resolve("db-url"));
    Files.deleteIfExists(dataDir.resolve("kafka-bootstrap"));

    Database database = Database.start(config, dataDir);
    EmbeddedKafka kafka = null;
    try {
      // Once, here: nodes starting together would race to create the same tables.
      database.migrate();
      if (cloister.getBoolean("kafka.enabled")) {
        kafka = EmbeddedKafka.start(dataDir.resolve("kafka"), cloister.getInt("kafka.embedded-port"));
      }
    } catch (Exception | Error e) {
      database.close();
      throw e;
    }
    EmbeddedKafka broker = kafka;
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      if (broker != null) {
        broker.close();
      }
      database.close();
      stopped.countDown();
    }, "cloister-shared-stop"));

    Files.writeString(dataDir.resolve("db-url"), database.url());
    Files.writeString(dataDir.resolve("kafka-bootstrap"), broker == null ? "" : broker.bootstrap());
    log.info("Shared services ready: PostgreSQL at {}, Kafka {}", database.url(),
        broker == null ? "off" : "at " + broker.bootstrap());
    stopped.await();
  }
}
