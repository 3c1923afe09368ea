package dev.cloister.client.voice.bench;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.mls.GroupApi;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceConfig;
import dev.cloister.client.voice.audio.CapturingSink;
import dev.cloister.client.voice.audio.ToneSource;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Voice join figures (not a test; README, "Voice", for how to run it): a node in its own process
 * (as {@code ./cloister up} runs it, with its SFU), one voice channel per size in
 * {@code bench.sizes}. Of each channel's participants, {@code bench.live} run real clients (a
 * {@link VoiceCall}: MLS, Opus, SFrame, UDP) and the others are dormant: they join over the
 * gateway, so the server puts their devices in the call's MLS group, but they never bind media or
 * process a commit. Three live members speak. Measured:
 *
 * <ul>
 *   <li>join → first decrypted audio of a live listener, {@code bench.joins} times (it leaves
 *       between joins, so each join is a fresh device state in a group of the full size);</li>
 *   <li>the size of the commits and Welcomes those joins caused (from the group's log);</li>
 *   <li>a join storm: {@code bench.storm} dormant members joining within a few seconds, the commits
 *       it took and the time until every live member decrypts again at one epoch;</li>
 *   <li>node CPU (and of it the SFU's threads) per second with three speakers, from /proc.</li>
 * </ul>
 */
public final class VoiceJoinBenchmark {

  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final VoiceConfig CONFIG = VoiceConfig.defaults().withDtx(false).withComplexity(0);

  public static void main(String[] args) throws Exception {
    int[] sizes = Arrays.stream(System.getProperty("bench.sizes", "10,100").split(","))
        .mapToInt(Integer::parseInt).toArray();
    int live = Integer.getInteger("bench.live", 4);
    int joins = Integer.getInteger("bench.joins", 8);
    int storm = Integer.getInteger("bench.storm", 0);
    System.out.printf("machine: %d cores, load average %.1f%n",
        Runtime.getRuntime().availableProcessors(),
        java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    try (NodeProcess node = NodeProcess.start()) {
      Thread.sleep(5_000); // past start-up work
      double idle = node.cpuPercent(10);
      System.out.printf("node CPU with nobody connected: %.1f %% of a core%n", idle);
      for (int size : sizes) {
        new VoiceJoinBenchmark(node, size, live, joins, storm).run();
      }
    }
  }

  private final NodeProcess node;
  private final int size;
  private final int liveCount;
  private final int joins;
  private final int storm;
  private final Path homes;

  private VoiceJoinBenchmark(NodeProcess node, int size, int live, int joins, int storm)
      throws IOException {
    this.node = node;
    this.size = size;
    this.liveCount = live;
    this.joins = joins;
    this.storm = storm;
    this.homes = Files.createTempDirectory("cloister-voice-bench");
  }

  /** A person with a device and a gateway session; live ones also run a call. */
  static final class Person implements AutoCloseable {
    final CloisterClient client;
    final GatewayClient gateway;
    final AtomicReference<VoiceCall> call = new AtomicReference<>();

    Person(CloisterClient client) throws Exception {
      this.client = client;
      this.gateway = client.gateway(new GatewayListener() {
        @Override
        public void onDispatch(Dispatch d) {
          VoiceCall c = call.get();
          if (c != null) {
            c.onDispatch(d);
          }
        }
      });
      gateway.awaitReady(WAIT);
    }

    VoiceCall join(Channel ch, double hz, boolean muted) throws Exception {
      VoiceCall c = VoiceCall.join(client, gateway, ch.guildId(), ch.id(), muted, CONFIG,
          new ToneSource(hz, -12, -1), new CapturingSink(2), new VoiceCall.Listener() {
            @Override
            public void notice(String text) {
              System.out.println("  (" + client.account().userId() + ": " + text + ")");
            }
          }, WAIT);
      call.set(c);
      return c;
    }

    void leave() throws IOException {
      VoiceCall c = call.getAndSet(null);
      if (c != null) {
        c.close();
      }
    }

    @Override
    public void close() throws IOException {
      leave();
      gateway.close();
    }
  }

  private void run() throws Exception {
    System.out.printf("%n== channel of %d participants (%d live, %d dormant) ==%n", size, liveCount,
        size - liveCount);
    long t0 = System.nanoTime();
    List<Person> live = new ArrayList<>();
    List<Person> dormant = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      CloisterClient owner = CloisterClient.register(node.url, homes.resolve("owner"), "owner"
          + size + "x" + System.nanoTime() % 100000, "pw of the owner");
      Guild guild = owner.api().createGuild("Voice bench " + size);
      Channel lounge = owner.api().createChannel(guild.id(), "Lounge", "voice", null);
      String code = owner.api().createInvite(guild.id()).code();
      live.add(new Person(owner));
      List<Future<Person>> made = new ArrayList<>();
      for (int i = 1; i < size; i++) {
        int n = i;
        made.add(pool.submit(() -> {
          String name = "p" + size + "x" + n + "x" + System.nanoTime() % 100000;
          CloisterClient c = CloisterClient.register(node.url, homes.resolve(name), name,
              "pw of " + name);
          c.api().useInvite(code);
          return new Person(c);
        }));
      }
      for (int i = 0; i < made.size(); i++) {
        (i < liveCount - 1 ? live : dormant).add(made.get(i).get());
      }
      System.out.printf("setup: %d users registered, in the guild, on the gateway: %.1f s%n",
          size, (System.nanoTime() - t0) / 1e9);

      // Three speakers first (the first creates the call's group), then the dormant members.
      double[] tones = {440, 700, 1100};
      for (int i = 0; i < 3 && i < live.size() - 1; i++) {
        live.get(i).join(lounge, tones[i], false);
      }
      GroupApi groups = new GroupApi(owner.rest());
      String groupId = live.get(0).call.get().groupId();
      long fill = System.nanoTime();
      int initialDormant = storm > 0 ? Math.max(0, dormant.size() - storm) : dormant.size();
      int wave = Integer.getInteger("bench.wave", 100);
      int speakers = Math.min(3, live.size() - 1);
      for (int from = 0; from < initialDormant; from += wave) {
        int to = Math.min(initialDormant, from + wave);
        long w = System.nanoTime();
        joinDormant(lounge, dormant.subList(from, to));
        awaitMembers(groups, groupId, owner, speakers + to);
        System.out.printf("  wave: %d more in %.1f s (group of %d)%n", to - from,
            (System.nanoTime() - w) / 1e9, speakers + to);
      }
      System.out.printf("fill: %d dormant members in the call's group in %.1f s%n",
          initialDormant, (System.nanoTime() - fill) / 1e9);

      if (storm > 0) {
        stormOf(lounge, groups, groupId, owner, live, dormant.subList(initialDormant,
            dormant.size()));
      }
      measureJoins(lounge, groups, groupId, owner, live);
      cpu(3);
    } finally {
      for (Person p : live) {
        p.close();
      }
      for (Person p : dormant) {
        p.close();
      }
      pool.shutdownNow();
    }
  }

  /** Joins in waves of {@code bench.wave} (100), each answered before the next is sent. */
  private static void joinDormant(Channel lounge, List<Person> who) throws Exception {
    int wave = Integer.getInteger("bench.wave", 100);
    for (int from = 0; from < who.size(); from += wave) {
      List<java.util.concurrent.CompletableFuture<?>> joined = new ArrayList<>();
      for (Person p : who.subList(from, Math.min(who.size(), from + wave))) {
        joined.add(p.gateway.joinVoice(lounge.guildId(), lounge.id(), true, true));
      }
      for (var f : joined) {
        f.get(WAIT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
      }
    }
  }

  private static int awaitMembers(GroupApi groups, String groupId, CloisterClient owner,
      int members) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      GroupApi.GroupStatus s;
      try {
        s = groups.status(groupId, owner.account().deviceId());
      } catch (dev.cloister.client.http.ApiException busy) {
        if (busy.status() != 503 || System.nanoTime() > deadline) {
          throw busy;
        }
        System.out.println("  (the group's entity is busy: " + busy.getMessage() + ")");
        continue;
      }
      if (s.members().size() >= members && s.pendingProposals().isEmpty()) {
        return s.members().size();
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the group has " + s.members().size() + " of " + members
            + " members, " + s.pendingProposals().size() + " proposals pending");
      }
      Thread.sleep(100);
    }
  }

  private void stormOf(Channel lounge, GroupApi groups, String groupId, CloisterClient owner,
      List<Person> live, List<Person> stormers) throws Exception {
    // The live members' joins may not have reached the call's group yet (no fill before).
    long deadline = System.nanoTime() + WAIT.toNanos();
    GroupApi.GroupStatus was = null;
    while (was == null) {
      try {
        was = groups.status(groupId, owner.account().deviceId());
      } catch (dev.cloister.client.http.ApiException notYet) {
        if (notYet.status() != 404 || System.nanoTime() > deadline) {
          throw notYet;
        }
        Thread.sleep(100);
      }
    }
    long seqBefore = was.seq();
    int before = was.members().size();
    long start = System.nanoTime();
    joinDormant(lounge, stormers);
    long joined = System.nanoTime();
    awaitMembers(groups, groupId, owner, before + stormers.size());
    long keyed = System.nanoTime();
    // Every live speaker at the same epoch again, decrypting each other.
    List<VoiceCall> calls = live.stream().map(p -> p.call.get()).filter(c -> c != null).toList();
    long epoch = groups.status(groupId, owner.account().deviceId()).epoch();
    await(() -> calls.stream().allMatch(c -> c.epoch() == epoch));
    long[] decrypted = calls.stream().mapToLong(c -> c.engine().stats().decrypted()).toArray();
    await(() -> {
      for (int i = 0; i < calls.size(); i++) {
        if (calls.get(i).engine().stats().decrypted() < decrypted[i] + 10) {
          return false;
        }
      }
      return true;
    });
    long hearing = System.nanoTime();
    int commits = 0;
    for (var e : groups.log(groupId, owner.account().deviceId(), seqBefore, 500)) {
      if ("commit".equals(e.type())) {
        commits++;
      }
    }
    System.out.printf("storm: %d joins sent in %.1f s; all in the group after %.1f s, using %d "
            + "commits; every live member decrypting at epoch %d after %.1f s%n",
        stormers.size(), (joined - start) / 1e9, (keyed - start) / 1e9, commits, epoch,
        (hearing - start) / 1e9);
  }

  private void measureJoins(Channel lounge, GroupApi groups, String groupId,
      CloisterClient owner, List<Person> live) throws Exception {
    Person listener = live.get(live.size() - 1);
    long[] firstAudio = new long[joins];
    List<Integer> welcomes = new ArrayList<>();
    long seqBefore = groups.status(groupId, owner.account().deviceId()).seq();
    int external = 0;
    for (int j = 0; j < joins; j++) {
      long asked = System.nanoTime();
      VoiceCall c = listener.join(lounge, 1700, true);
      await(() -> c.engine().stats().decrypted() > 0);
      firstAudio[j] = (System.nanoTime() - asked) / 1_000_000;
      try {
        var w = groups.welcome(groupId, listener.client.account().deviceId());
        welcomes.add(w.welcome().length);
      } catch (RuntimeException byExternalCommit) {
        external++;
      }
      listener.leave();
      long left = c.epoch();
      List<VoiceCall> others = live.stream().map(p -> p.call.get()).filter(x -> x != null)
          .toList();
      await(() -> others.stream().allMatch(o -> o.epoch() > left));
    }
    List<Integer> commitSizes = new ArrayList<>();
    for (var e : groups.log(groupId, owner.account().deviceId(), seqBefore, 500)) {
      if ("commit".equals(e.type()) && e.message() != null) {
        commitSizes.add(e.message().length);
      }
    }
    long[] sorted = firstAudio.clone();
    Arrays.sort(sorted);
    System.out.printf("join -> first decrypted audio over %d joins: p50 %d ms, p95 %d ms, "
            + "max %d ms (all: %s)%n", joins, sorted[joins / 2],
        sorted[Math.min(joins - 1, (int) Math.ceil(joins * 0.95) - 1)], sorted[joins - 1],
        Arrays.toString(firstAudio));
    System.out.printf("commits during those joins and leaves: %d, sizes median %d B, max %d B; "
            + "joins by Welcome %d (median %d B), by external commit %d%n", commitSizes.size(),
        median(commitSizes), commitSizes.stream().mapToInt(i -> i).max().orElse(0),
        welcomes.size(), median(welcomes), external);
  }

  private void cpu(int speakers) throws Exception {
    System.out.printf("node CPU with %d participants in the guild on the gateway, none in a call: "
        + "see the idle figure above; ", size);
    Map<String, Long> before = node.cpuByThreadGroup();
    long start = System.nanoTime();
    Thread.sleep(10_000);
    Map<String, Long> after = node.cpuByThreadGroup();
    double seconds = (System.nanoTime() - start) / 1e9;
    double sfu = (after.get("sfu") - before.get("sfu")) / seconds / 100.0;
    double total = (after.get("all") - before.get("all")) / seconds / 100.0;
    System.out.printf("node CPU with %d speakers, %d participants (%d bound to the SFU): %.1f %% "
            + "of a core (%.3f %% per participant), of which the SFU's threads %.1f %%%n",
        speakers, size, liveCount - 1, total * 100, total * 100 / size, sfu * 100);
  }

  private static int median(List<Integer> xs) {
    if (xs.isEmpty()) {
      return 0;
    }
    List<Integer> s = new ArrayList<>(xs);
    s.sort(null);
    return s.get(s.size() / 2);
  }

  private static void await(java.util.function.BooleanSupplier done) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out");
      }
      Thread.sleep(5);
    }
  }

  /** The node as {@code ./cloister up} runs it, in its own JVM, on free loopback ports. */
  static final class NodeProcess implements AutoCloseable {
    final Process process;
    final URI url;
    final Path data;

    private NodeProcess(Process process, URI url, Path data) {
      this.process = process;
      this.url = url;
      this.data = data;
    }

    static NodeProcess start() throws Exception {
      Path root = Path.of(System.getProperty("bench.root", "..")).toAbsolutePath().normalize();
      Path classes = root.resolve("cluster-node/target/classes");
      if (!Files.isDirectory(root.resolve("cluster-node/target/lib"))) {
        throw new IllegalStateException("build the node first: ./cloister build");
      }
      Path data = Files.createTempDirectory("cloister-voice-bench-node");
      int http = freePort();
      int management = freePort();
      List<String> cmd = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-cp", classes + ":" + root.resolve("cluster-node/target/lib") + "/*",
          "-Dcloister.data-dir=" + data, "-Dcloister.http.host=127.0.0.1",
          "-Dcloister.http.port=" + http, "-Dpekko.remote.artery.canonical.port=0",
          "-Dpekko.management.http.port=" + management,
          "-Dpekko.management.http.bind-hostname=127.0.0.1", "-Dcloister.metrics.port=0",
          "-Dcloister.kafka.enabled=off", "-Dcloister.sfu.udp-port=0",
          "-Dcloister.sfu.bind-host=127.0.0.1",
          "-Dcloister.rate-limits.rest-per-ip.burst=1000000",
          "-Dcloister.rate-limits.rest-per-ip.per-second=1000000",
          "-Dcloister.rate-limits.gateway-connects-per-ip.burst=100000",
          "-Dcloister.rate-limits.gateway-connects-per-ip.per-second=100000"));
      // e.g. -Dbench.nodeJvmArgs=-XX:StartFlightRecording=filename=/tmp/node.jfr to profile it
      String extra = System.getProperty("bench.nodeJvmArgs", "").strip();
      if (!extra.isEmpty()) {
        cmd.addAll(1, List.of(extra.split("\\s+")));
      }
      cmd.add("dev.cloister.node.Node");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(data.resolve("node.log").toFile()).start();
      URI url = URI.create("http://127.0.0.1:" + http);
      HttpClient http1 = HttpClient.newHttpClient();
      long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
      while (true) {
        try {
          if (http1.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + management
                  + "/ready")).build(),
              HttpResponse.BodyHandlers.discarding()).statusCode() == 200) {
            break;
          }
        } catch (IOException notYet) {
          // starting
        }
        if (!p.isAlive() || System.nanoTime() > deadline) {
          p.destroy();
          throw new IllegalStateException("the node did not start; see " + data.resolve("node.log"));
        }
        Thread.sleep(200);
      }
      System.out.println("node: pid " + p.pid() + ", " + url + ", log " + data.resolve("node.log"));
      return new NodeProcess(p, url, data);
    }

    /** Percent of a core the node used over the next {@code seconds}. */
    double cpuPercent(int seconds) throws Exception {
      long before = cpuByThreadGroup().get("all");
      long start = System.nanoTime();
      Thread.sleep(seconds * 1000L);
      long after = cpuByThreadGroup().get("all");
      return (after - before) / ((System.nanoTime() - start) / 1e9);
    }

    /** CPU ticks (1/100 s) of the node's threads: "all", and "sfu" for the SFU's own. */
    Map<String, Long> cpuByThreadGroup() throws IOException {
      Map<String, Long> out = new TreeMap<>(Map.of("all", 0L, "sfu", 0L));
      try (var tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
        for (Path task : (Iterable<Path>) tasks::iterator) {
          String stat;
          try {
            stat = Files.readString(task.resolve("stat"));
          } catch (IOException gone) {
            continue;
          }
          String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime
          out.merge("all", ticks, Long::sum);
          if (name.startsWith("sfu-")) {
            out.merge("sfu", ticks, Long::sum);
          }
        }
      }
      return out;
    }

    private static int freePort() throws IOException {
      try (ServerSocket s = new ServerSocket(0)) {
        return s.getLocalPort();
      }
    }

    @Override
    public void close() throws Exception {
      process.destroy(); // SIGTERM: coordinated shutdown
      if (!process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
