package dev.cloister.node;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.cloister.guild.Guild;
import dev.cloister.guild.GuildDirectory;
import dev.cloister.guild.Snowflake;
import dev.cloister.guild.channel.DataSourceSession;
import dev.cloister.guild.channel.MessageHistory;
import dev.cloister.guild.channel.MessageHistoryProjection;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.guild.group.EncryptionGroup;
import dev.cloister.guild.group.RosterDriver;
import dev.cloister.guild.voice.VoiceAccess;
import dev.cloister.node.voice.VoiceService;
import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.guild.user.Account;
import dev.cloister.guild.user.User;
import dev.cloister.node.auth.SessionTokens;
import dev.cloister.node.auth.SrpLogins;
import dev.cloister.node.db.Database;
import dev.cloister.node.db.DatabaseReadinessCheck;
import dev.cloister.node.events.EventStream;
import dev.cloister.node.events.EventStreamProjection;
import dev.cloister.guild.GuildFeed;
import dev.cloister.node.gateway.Gateway;
import dev.cloister.node.gateway.GatewayRoute;
import dev.cloister.node.gateway.GatewaySession;
import dev.cloister.node.gateway.SessionHandovers;
import dev.cloister.node.gateway.GatewaySettings;
import dev.cloister.node.http.ApiContext;
import dev.cloister.node.http.ApiRoutes;
import dev.cloister.node.http.ConnectionGuard;
import dev.cloister.node.limits.TokenBuckets;
import dev.cloister.node.metrics.DatabaseSampler;
import dev.cloister.node.metrics.HttpMetrics;
import dev.cloister.node.metrics.Metrics;
import dev.cloister.node.metrics.MetricsEndpoint;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Props;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.BootstrapSetup;
import org.apache.pekko.actor.setup.ActorSystemSetup;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.apache.pekko.projection.jdbc.javadsl.JdbcProjection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Cloister node: its database, the Pekko cluster member with the sharded entities and
 * projections, Pekko management and the HTTP API. {@link #main} runs it until SIGTERM; tests
 * start and stop it in-process.
 */
public final class Node {

  private static final Logger log = LoggerFactory.getLogger(Node.class);

  private final ActorSystem<Void> system;
  private final Database database;
  private final ServerBinding binding;
  private final ExecutorService blocking;
  private final Uri managementUri;
  private final MetricsEndpoint metrics;
  private final EventStream events;

  private Node(ActorSystem<Void> system, Database database, ServerBinding binding,
      ExecutorService blocking, Uri managementUri, MetricsEndpoint metrics, EventStream events) {
    this.events = events;
    this.system = system;
    this.database = database;
    this.binding = binding;
    this.blocking = blocking;
    this.managementUri = managementUri;
    this.metrics = metrics;
  }

  /**
   * Pekko's Java asks answer Scala's CompletionStage, which runs every {@code thenApply} as
   * {@code thenApplyAsync} on the common pool; when that pool's parallelism is below 2 (any machine
   * of 2 cores or fewer) the JDK starts a new thread for each such callback instead. Must run
   * before anything touches {@code ForkJoinPool}; tests set it on the command line (root pom).
   */
  static void widenCommonPool() {
    String key = "java.util.concurrent.ForkJoinPool.common.parallelism";
    if (System.getProperty(key) == null) {
      System.setProperty(key, Integer.toString(
          Math.max(4, Runtime.getRuntime().availableProcessors())));
    }
  }

  public static void main(String[] args) throws Exception {
    widenCommonPool();
    long t0 = System.nanoTime();
    Node node;
    try {
      node = start(ConfigFactory.load());
    } catch (IllegalStateException e) {
      // Ours: the message says what is wrong and what to do.
      log.error("Cloister could not start: {}", e.getMessage());
      System.exit(1);
      return;
    } catch (Exception e) {
      log.error("Cloister could not start", e);
      System.exit(1);
      return;
    }
    // SIGTERM runs Pekko's coordinated shutdown through its own JVM hook. This hook waits for the
    // actor system to finish (journal writes flushed, pools closed), then stops the database; the
    // JVM waits for every hook before it exits.
    Runtime.getRuntime().addShutdownHook(new Thread(node::awaitTerminationThenCloseDatabase,
        "cloister-database-stop"));
    log.info("Cloister node ready in {} ms: HTTP on {}, management (/ready, /alive) on {}, "
            + "Prometheus metrics on {}, event stream {}",
        (System.nanoTime() - t0) / 1_000_000, "http://" + node.httpAddress().getHostString() + ":"
            + node.httpAddress().getPort(), node.managementUri, node.metricsUri(),
        node.events == null ? "off" : "on Kafka at " + node.events.bootstrap());
    node.system.getWhenTerminated().toCompletableFuture().join();
  }

  /** Starts a node from configuration; returns once it serves requests. */
  public static Node start(Config base) throws Exception {
    Config cloister = base.getConfig("cloister");
    Path dataDir = Path.of(cloister.getString("data-dir")).toAbsolutePath();
    Files.createDirectories(dataDir);
    // Before the actor system: Kamon's agent instruments Pekko's classes as they load.
    Metrics.start(base);

    Database database = Database.start(base, dataDir);
    EventStream events = null;
    try {
      database.migrate();
      events = EventStream.start(cloister.getConfig("kafka"), dataDir, cloister.getInt("node-id"));
      return startWith(base, cloister, dataDir, database, events);
    } catch (Exception | Error e) {
      if (events != null) {
        events.close();
      }
      database.close();
      throw e;
    }
  }

  private static Node startWith(Config base, Config cloister, Path dataDir, Database database,
      EventStream events) throws Exception {
    Map<String, Object> db = new HashMap<>();
    String slick = "pekko-persistence-jdbc.shared-databases.slick.db.";
    db.put(slick + "url", database.url());
    db.put(slick + "user", database.user());
    db.put(slick + "password", database.password());
    String seeds = cloister.getString("cluster.seed-nodes").strip();
    if (!seeds.isEmpty()) {
      db.put("pekko.cluster.seed-nodes", Arrays.stream(seeds.split(",")).map(String::strip).toList());
    }
    db.putAll(ArteryTls.pekkoSettings(cloister.getConfig("cluster.tls")));
    db.put("pekko.cluster.roles", NodeIdGuard.roles(base.getStringList("pekko.cluster.roles"),
        cloister.getInt("node-id")));
    Config config = ConfigFactory.parseMap(db).withFallback(base).resolve();

    String discovery = cloister.getString("cluster.discovery");
    if (!discovery.equals("seed-nodes") && !discovery.equals("kubernetes")) {
      throw new IllegalStateException("cloister.cluster.discovery (CLOISTER_DISCOVERY) is '"
          + discovery + "'; use seed-nodes or kubernetes");
    }
    MetricsEndpoint metrics = startMetricsEndpoint(cloister);
    DatabaseSampler sampler = DatabaseSampler.start(database.dataSource(),
        database.health()::isUp, cloister.getDuration("metrics.sample-interval"));
    AtomicBoolean ready = new AtomicBoolean(false);
    ActorSystem<Void> system;
    try {
      system = ActorSystem.create(Behaviors.empty(), "cloister",
          ActorSystemSetup.create(BootstrapSetup.create(config))
              .withSetup(new ReadinessFlag.Setup(Map.of(
                  DatabaseReadinessCheck.FLAG, database.health()::isUp,
                  ServingReadinessCheck.FLAG, ready::get))));
    } catch (RuntimeException | Error e) {
      sampler.close();
      if (metrics != null) {
        metrics.close();
      }
      throw e;
    }
    ExecutorService blocking = Executors.newFixedThreadPool(
        cloister.getInt("db.pool-size"), r -> {
          Thread t = new Thread(r, "cloister-read-model");
          t.setDaemon(true);
          return t;
        });
    try {
      Cluster cluster = Cluster.get(system);
      CompletionStage<Uri> managementStarted = null;
      if (discovery.equals("kubernetes")) {
        // Bootstrap finds the other pods through the Kubernetes API and probes their management
        // endpoints, so management must listen before this node can join.
        managementStarted = PekkoManagement.get(system).start();
        ClusterBootstrap.get(system).start();
      } else if (seeds.isEmpty()) {
        cluster.manager().tell(Join.create(cluster.selfMember().address()));
      }
      awaitUp(cluster, Duration.ofSeconds(60));
      log.info(discovery.equals("kubernetes") ? "Cluster: joined by Kubernetes bootstrap as {}"
          : seeds.isEmpty() ? "Cluster: formed a one-node cluster as {}"
          : "Cluster: joined through the seed nodes as {}", cluster.selfMember().address());
      system.systemActorOf(ClusterMembershipLog.create(), "membership-log", Props.empty());
      NodeIdGuard.checkUnique(cluster, cloister.getInt("node-id"));
      system.systemActorOf(NodeIdGuard.create(cloister.getInt("node-id")), "node-id-guard",
          Props.empty());

      JdbcProjection.createTablesIfNotExists(() -> new DataSourceSession(database.dataSource()), system)
          .toCompletableFuture().get(30, TimeUnit.SECONDS);

      // The floor keeps ids unique across restarts even if the clock was set back meanwhile.
      Snowflake ids = new Snowflake(cloister.getInt("node-id"),
          dataDir.resolve("id-floor-" + cloister.getInt("node-id")));
      GuildFeed feed = GuildFeed.of(system);
      Account.init(system);
      User.init(system);
      Guild.init(system, feed);
      TextChannel.init(system, ids, feed);
      DeliveryServiceKey dsKey = DeliveryServiceKey.restore("cloister", secretKey(cloister,
          dataDir, "mls.ds-key", "mls-ds-key", DeliveryServiceKey.generate("cloister").privateKey()));
      DeliveryService deliveryService = new DeliveryService(dsKey);
      EncryptionGroup.init(system, deliveryService, feed, new EncryptionGroup.Settings(
          cloister.getDuration("mls.previous-epoch-grace")));
      VoiceService voice = VoiceService.start(system, config, feed,
          cloister.getDuration("http.ask-timeout"));
      CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(),
          "voice-stop", () -> {
            voice.close();
            return CompletableFuture.completedFuture(Done.getInstance());
          });
      // With each batch of guild events: rosters of the encryption groups, and voice channels
      // emptied of members who may no longer CONNECT.
      RosterDriver.init(system, database.dataSource(),
          new RosterDriver(system, cloister.getDuration("http.ask-timeout"),
              java.util.Optional.of(new VoiceAccess(ClusterSharding.get(system),
                  cloister.getDuration("http.ask-timeout")))));
      GatewaySettings gatewaySettings = GatewaySettings.of(cloister.getConfig("gateway"));
      ActorRef<Gateway.Command> gateway = system.systemActorOf(
          Gateway.create(feed, ClusterSharding.get(system), gatewaySettings), "gateway",
          Props.empty());
      SessionHandovers handovers = null;
      if (cloister.getBoolean("gateway.handover.enabled")) {
        handovers = new SessionHandovers(system, database.dataSource(), blocking,
            gatewaySettings.resumeMaxAge(), cloister.getDuration("gateway.handover.lookback"));
        SessionHandovers purged = handovers;
        system.scheduler().scheduleAtFixedRate(Duration.ofSeconds(1),
            gatewaySettings.resumeMaxAge(), () -> purged.purge(), system.executionContext());
      }
      GatewaySession.init(system, gateway, gatewaySettings, voice.settings(), handovers);
      MessageHistoryProjection.init(system, database.dataSource());
      if (events != null) {
        EventStreamProjection.init(system, database.dataSource(), events);
      }

      Uri management = (managementStarted != null ? managementStarted
          : PekkoManagement.get(system).start()).toCompletableFuture().get(30, TimeUnit.SECONDS);

      SessionTokens tokens = new SessionTokens(tokenKey(cloister, dataDir),
          cloister.getDuration("auth.token-ttl"), Clock.systemUTC());
      SrpLogins logins = new SrpLogins(system, tokens, cloister.getDuration("auth.login-timeout"),
          new SrpLogins.Limits(cloister.getInt("auth.max-pending-logins"),
              cloister.getInt("auth.max-pending-logins-per-client"),
              cloister.getInt("auth.free-failed-logins"),
              cloister.getDuration("auth.max-login-backoff")),
          cloister.getDuration("http.ask-timeout"), SrpLogins.workPool(), Clock.systemUTC());
      system.scheduler().scheduleAtFixedRate(Duration.ofSeconds(10), Duration.ofSeconds(10),
          logins::expireStale, system.executionContext());

      ApiContext apiContext = new ApiContext(system, ClusterSharding.get(system),
          new GuildDirectory(database.dataSource()), new MessageHistory(database.dataSource()),
          ids, blocking, cloister.getDuration("http.ask-timeout"),
          cloister.getDuration("history.read-your-writes-wait"));
      ApiRoutes api = new ApiRoutes(apiContext, tokens, logins, ready::get,
          database.health()::isUp,
          TokenBuckets.of(cloister.getConfig("rate-limits.rest-per-ip")),
          TokenBuckets.of(cloister.getConfig("rate-limits.gateway-connects-per-ip")),
          new GatewayRoute(system, ClusterSharding.get(system), apiContext, tokens,
              gatewaySettings), system, dsKey.publicKey());
      ConnectionGuard guard = new ConnectionGuard(new ConnectionGuard.Settings(
          config.getInt("pekko.http.server.max-connections"),
          cloister.getInt("http.max-connections-per-client"),
          cloister.getDuration("http.first-request-timeout")));
      ServerBinding binding = guard.bind(Http.get(system)
              .newServerAt(cloister.getString("http.host"), cloister.getInt("http.port")),
          HttpMetrics.timed(api.route().seal().handler(system)),
          org.apache.pekko.stream.Materializer.matFromSystem(system))
          .toCompletableFuture().get(30, TimeUnit.SECONDS);

      CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
      shutdown.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "http-unbind", () -> {
        log.info("Stopping: finishing the requests in flight, handing off shards");
        ready.set(false);
        return binding.unbind().thenApply(x -> Done.getInstance());
      });
      shutdown.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "http-drain",
          () -> binding.terminate(Duration.ofSeconds(5)).thenApply(x -> Done.getInstance()));
      shutdown.addTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), "read-model-stop",
          () -> {
            blocking.shutdown();
            sampler.close();
            if (metrics != null) {
              metrics.close();
            }
            return CompletableFuture.completedFuture(Done.getInstance());
          });
      ready.set(true);
      return new Node(system, database, binding, blocking, management, metrics, events);
    } catch (Exception | Error e) {
      blocking.shutdownNow();
      sampler.close();
      if (metrics != null) {
        metrics.close();
      }
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      throw e;
    }
  }

  private static MetricsEndpoint startMetricsEndpoint(Config cloister) {
    String host = cloister.getString("metrics.host");
    int port = cloister.getInt("metrics.port");
    try {
      return MetricsEndpoint.start(host, port);
    } catch (IOException e) {
      // The node's work does not depend on being watched: serve without the endpoint, loudly.
      log.error("Metrics: cannot serve Prometheus metrics on {}:{} ({}); this node runs WITHOUT "
          + "its metrics endpoint. Set CLOISTER_METRICS_PORT to a free port (0: any).", host, port,
          e.getMessage());
      return null;
    }
  }

  private static void awaitUp(Cluster cluster, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (cluster.selfMember().status() != MemberStatus.up()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("this node did not join a cluster within " + timeout);
      }
      Thread.sleep(50);
    }
  }

  /**
   * The token signing key: configured, or generated once into {@code <data-dir>/token-key} so
   * that tokens outlive restarts.
   */
  static byte[] tokenKey(Config cloister, Path dataDir) throws IOException {
    byte[] fresh = new byte[32];
    new SecureRandom().nextBytes(fresh);
    byte[] key = secretKey(cloister, dataDir, "auth.token-key", "token-key", fresh);
    if (key.length < 32) {
      throw new IllegalArgumentException("cloister.auth.token-key must be base64 of 32+ bytes");
    }
    return key;
  }

  /**
   * A secret of the node's: configured under {@code cloister.<key>} (base64), or made once from
   * {@code fresh} and kept in {@code <data-dir>/<file>}, readable by the node's user only. Every
   * node of a cluster needs the same one.
   */
  static byte[] secretKey(Config cloister, Path dataDir, String key, String file, byte[] fresh)
      throws IOException {
    String configured = cloister.getString(key).strip();
    if (!configured.isEmpty()) {
      return Base64.getDecoder().decode(configured);
    }
    Path path = dataDir.resolve(file);
    if (Files.exists(path)) {
      return Base64.getDecoder().decode(Files.readString(path).strip());
    }
    Path tmp = dataDir.resolve(file + ".tmp");
    Files.deleteIfExists(tmp);
    try {
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(
          PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      Files.createFile(tmp); // not a POSIX file system; the data directory protects it
    }
    Files.writeString(tmp, Base64.getEncoder().encodeToString(fresh));
    Files.move(tmp, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return fresh;
  }

  public InetSocketAddress httpAddress() {
    return binding.localAddress();
  }

  /** Where Prometheus scrapes this node: {@code http://host:port/metrics}. */
  public String metricsUri() {
    if (metrics == null) {
      return "(not served: the port was taken)";
    }
    InetSocketAddress a = metrics.address();
    return "http://" + a.getHostString() + ":" + a.getPort() + "/metrics";
  }


  /** The Kafka bootstrap list the node publishes its event stream to; empty when it is off. */
  public java.util.Optional<String> kafkaBootstrap() {
    return java.util.Optional.ofNullable(events).map(EventStream::bootstrap);
  }

  /** The JDBC URL of this node's database (embedded or external), for another node to share. */
  public String databaseUrl() {
    return database.url();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  /** Runs coordinated shutdown, as SIGTERM does, and waits for it; then stops the database. */
  public void stop() {
    CompletionStage<Done> done = CoordinatedShutdown.get(system)
        .runAll(CoordinatedShutdown.unknownReason());
    done.toCompletableFuture().join();
    awaitTerminationThenCloseDatabase();
  }

  private void awaitTerminationThenCloseDatabase() {
    try {
      system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      log.warn("The actor system did not terminate within 60 s; stopping the database anyway");
    }
    if (events != null) {
      events.close(); // after the projections that publish stopped with the actor system
    }
    database.close();
  }
}
