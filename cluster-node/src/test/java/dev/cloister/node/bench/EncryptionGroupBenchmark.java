package dev.cloister.node.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import dev.cloister.node.ApiClient;
import dev.cloister.node.MlsTestDevice;
import dev.cloister.node.Node;
import dev.cloister.node.auth.SessionTokens;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * What end-to-end encryption costs a guild: a guild of {@code bench.members} (the first
 * {@code bench.live} with live devices that commit, the rest dormant devices that only left key
 * packages) and {@code bench.channels} text channels of which {@code bench.private} are private;
 * then {@code bench.joins} newcomers, one at a time: from the invite to the first decrypted read
 * and to the first accepted send, commits per join, the Welcome's size and the commit round trip;
 * then chat send-to-delivery at a live member over the gateway with the MLS work (encrypt,
 * decrypt) and without it (the same ciphertexts made ahead, delivery only).
 *
 * <p>All MLS work runs on the main thread (bcmls's suites are not thread-safe). Not run by
 * {@code verify}:
 * {@code mvn -B -q -pl cluster-node exec:java -Dexec.classpathScope=test
 * -Dexec.mainClass=dev.cloister.node.bench.EncryptionGroupBenchmark}.
 */
public final class EncryptionGroupBenchmark {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static void main(String[] args) throws Exception {
    int members = Integer.getInteger("bench.members", 1_000);
    int live = Integer.getInteger("bench.live", 20);
    int channels = Integer.getInteger("bench.channels", 20);
    int privateChannels = Integer.getInteger("bench.private", 2);
    int joins = Integer.getInteger("bench.joins", 50);
    int messages = Integer.getInteger("bench.messages", 200);
    byte[] key = new byte[32];
    new java.security.SecureRandom().nextBytes(key);
    SessionTokens tokens = new SessionTokens(key, Duration.ofHours(4), Clock.systemUTC());
    Path dir = Files.createTempDirectory("cloister-e2ee-bench");
    Node node = Node.start(ConfigFactory.parseMap(Map.ofEntries(
            Map.entry("cloister.data-dir", dir.toString()),
            Map.entry("cloister.http.host", "127.0.0.1"),
            Map.entry("cloister.http.port", 0),
            Map.entry("pekko.remote.artery.canonical.port", 0),
            Map.entry("pekko.management.http.port", 0),
            Map.entry("cloister.auth.token-key", Base64.getEncoder().encodeToString(key)),
            Map.entry("cloister.rate-limits.rest-per-ip.burst", 1_000_000),
            Map.entry("cloister.rate-limits.rest-per-ip.per-second", 1_000_000),
            Map.entry("cloister.rate-limits.gateway-connects-per-ip.burst", 1_000_000),
            Map.entry("cloister.rate-limits.gateway-connects-per-ip.per-second", 1_000_000)))
        .withFallback(ConfigFactory.load()));
    String base = "http://127.0.0.1:" + node.httpAddress().getPort();
    try {
      run(new ApiClient(base), base, tokens, members, live, channels, privateChannels, joins,
          messages);
    } finally {
      node.stop();
      try (var files = Files.walk(dir)) {
        files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static void run(ApiClient api, String base, SessionTokens tokens, int members,
      int live, int channels, int privateChannels, int joins, int messages) throws Exception {
    System.out.printf("E2EE benchmark: %d cores; %d members (%d live), %d channels (%d private),"
            + " %d joins, %d messages%n", Runtime.getRuntime().availableProcessors(), members,
        live, channels, privateChannels, joins, messages);
    MlsTestDevice owner = device(api, tokens, "owner");
    JsonNode guild = ok(api.call("POST", "/api/v1/guilds", "{\"name\":\"Bench\"}", owner.token));
    String guildId = guild.get("id").asText();
    String general = guild.get("channels").get(0).get("id").asText();
    String groupId = "g" + guildId;
    String role = ok(api.call("POST", "/api/v1/guilds/" + guildId + "/roles",
        "{\"name\":\"inner\",\"permissions\":[]}", owner.token)).get("id").asText();
    for (int i = 1; i < channels; i++) {
      String id = ok(api.call("POST", "/api/v1/guilds/" + guildId + "/channels",
          "{\"name\":\"c" + i + "\",\"type\":\"text\"}", owner.token)).get("id").asText();
      if (i <= privateChannels) {
        ok(api.call("PUT", "/api/v1/channels/" + id + "/overwrites/" + guildId,
            "{\"type\":\"role\",\"deny\":[\"VIEW_CHANNEL\"]}", owner.token));
        ok(api.call("PUT", "/api/v1/channels/" + id + "/overwrites/" + role,
            "{\"type\":\"role\",\"allow\":[\"VIEW_CHANNEL\"]}", owner.token));
      }
    }
    String code = ok(api.call("POST", "/api/v1/guilds/" + guildId + "/invites",
        "{\"maxUses\":0}", owner.token)).get("code").asText();

    long t0 = System.nanoTime();
    List<MlsTestDevice> liveDevices = new ArrayList<>(List.of(owner));
    for (int i = 1; i < members; i++) {
      MlsTestDevice d = device(api, tokens, "m" + i);
      ok(api.call("POST", "/api/v1/invites/" + code, null, d.token));
      if (i < live) {
        liveDevices.add(d);
      }
      if (i % 10 == 0) {
        owner.sync(groupId); // commits the Adds pending so far, as an online member would
      }
    }
    // Dormant members' Adds trickle in as their key packages are claimed: allow a minute per 100.
    MlsTestDevice.converge(Duration.ofSeconds(Math.max(30, members * 6 / 10)), groupId,
        liveDevices.toArray(MlsTestDevice[]::new));
    System.out.printf("setup: %d members joined and their devices are in the guild group in"
        + " %.1f s (epoch %d)%n", members, (System.nanoTime() - t0) / 1e9,
        owner.member(groupId).epoch());

    // Newcomers, one at a time; live members keep the group moving.
    long[] toRead = new long[joins];
    long[] toSend = new long[joins];
    long[] commitRoundTrip = new long[joins];
    long[] welcomeBytes = new long[joins];
    long epochBefore = owner.member(groupId).epoch();
    long nodeCpuBefore = nodeCpuNanos();
    for (int j = 0; j < joins; j++) {
      MlsTestDevice joiner = device(api, tokens, "new" + j);
      long start = System.nanoTime();
      ok(api.call("POST", "/api/v1/invites/" + code, null, joiner.token));
      long commitStart = 0;
      while (joiner.member(groupId) == null) {
        long c = System.nanoTime();
        owner.sync(groupId);
        if (commitStart == 0 && owner.member(groupId).epoch() > epochBefore + j) {
          commitRoundTrip[j] = System.nanoTime() - c;
          commitStart = c;
        }
        joiner.sync(groupId);
      }
      JsonNode w = api.call("GET", "/api/v1/groups/" + groupId + "/welcome?deviceId=d1", null,
          joiner.token).body();
      welcomeBytes[j] = w != null && w.has("welcome")
          ? Base64.getDecoder().decode(w.get("welcome").asText()).length : 0;
      owner.sync(groupId); // the newcomer may have joined by external commit meanwhile
      owner.send(general, "welcome, newcomer " + j);
      JsonNode newest = ok(api.call("GET", "/api/v1/channels/" + general + "/messages?limit=1",
          null, joiner.token)).get(0);
      joiner.sync(groupId); // a reader follows the group's log before it decrypts
      String text = joiner.decrypt(general, newest.get("ciphertext").asText());
      if (!text.equals("welcome, newcomer " + j)) {
        throw new IllegalStateException("read back " + text);
      }
      toRead[j] = System.nanoTime() - start;
      joiner.send(general, "hello from newcomer " + j);
      toSend[j] = System.nanoTime() - start;
    }
    long nodeCpu = nodeCpuNanos() - nodeCpuBefore;
    long commits = owner.member(groupId).epoch() - epochBefore;
    System.out.printf("join -> first decrypted read: p50 %.0f ms, p95 %.0f ms; -> first accepted"
            + " send: p50 %.0f ms, p95 %.0f ms (%d joins)%n", pct(toRead, 50), pct(toRead, 95),
        pct(toSend, 50), pct(toSend, 95), joins);
    long external = Arrays.stream(welcomeBytes).filter(b -> b == 0).count();
    System.out.printf("commits per join: %.2f (%d of %d joined by external commit); a member's"
            + " sync that commits an Add (status, log, commit with the server's validation and"
            + " journal write, GroupInfo upload) p50 %.1f ms, p95 %.1f ms; Welcome p50 %d bytes%n",
        (double) commits / joins, external, joins, pct(commitRoundTrip, 50),
        pct(commitRoundTrip, 95), median(welcomeBytes));
    System.out.printf("server CPU (the node's threads, not PostgreSQL) per join:"
        + " %.1f ms; per commit: %.1f ms%n", nodeCpu / 1e6 / joins,
        nodeCpu / 1e6 / Math.max(1, commits));

    // Chat: send to decrypted delivery at a live member, against delivery alone.
    MlsTestDevice reader = liveDevices.get(liveDevices.size() - 1);
    owner.sync(groupId);
    reader.sync(groupId);
    BlockingQueue<JsonNode> arrivals = new LinkedBlockingQueue<>();
    WebSocket ws = listen(base, reader.token, arrivals);
    try {
      long[] withMls = new long[messages];
      for (int i = 0; i < messages; i++) {
        long s = System.nanoTime();
        String sealed = MlsTestDevice.b64(owner.encrypt(general, "chat " + i));
        ok(api.call("POST", "/api/v1/channels/" + general + "/messages",
            "{\"ciphertext\":\"" + sealed + "\"}", owner.token));
        JsonNode d = next(arrivals);
        reader.decrypt(general, d.at("/d/ciphertext").asText());
        withMls[i] = System.nanoTime() - s;
      }
      List<String> ahead = new ArrayList<>();
      for (int i = 0; i < messages; i++) {
        ahead.add(MlsTestDevice.b64(owner.encrypt(general, "chat " + i)));
      }
      long[] transportOnly = new long[messages];
      for (int i = 0; i < messages; i++) {
        long s = System.nanoTime();
        ok(api.call("POST", "/api/v1/channels/" + general + "/messages",
            "{\"ciphertext\":\"" + ahead.get(i) + "\"}", owner.token));
        next(arrivals);
        transportOnly[i] = System.nanoTime() - s;
      }
      System.out.printf("send -> decrypted delivery (encrypt, POST, gateway, decrypt): p50 %.1f ms,"
              + " p95 %.1f ms; the same path without the MLS work: p50 %.1f ms, p95 %.1f ms%n",
          pct(withMls, 50), pct(withMls, 95), pct(transportOnly, 50), pct(transportOnly, 95));
    } finally {
      ws.abort();
    }
  }

  /** A user with a minted token and an enrolled device (made-up verifier: nobody logs in). */
  private static MlsTestDevice device(ApiClient api, SessionTokens tokens, String prefix)
      throws Exception {
    String name = prefix + "_" + Long.toString(System.nanoTime() % 1_000_000_000L, 36);
    String id = ok(api.call("POST", "/api/v1/auth/register",
        "{\"username\":\"" + name + "\",\"salt\":\"00\",\"verifier\":\"02\"}", null))
        .get("userId").asText();
    return MlsTestDevice.enroll(api, tokens.issue(id).token(), id);
  }

  /**
   * CPU time of the node's threads (Pekko's dispatchers, HTTP and journal all run on
   * {@code cloister-*} threads; callbacks of asks on the common pool), not the benchmark's clients,
   * which run on the main thread and the HTTP client's own; not PostgreSQL's processes either.
   */
  private static long nodeCpuNanos() {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (java.lang.management.ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds())) {
      if (t != null && (t.getThreadName().startsWith("cloister-")
          || t.getThreadName().startsWith("ForkJoinPool.commonPool"))) {
        sum += Math.max(0, mx.getThreadCpuTime(t.getThreadId()));
      }
    }
    return sum;
  }

  private static JsonNode ok(ApiClient.Response r) {
    if (r.status() >= 300) {
      throw new IllegalStateException(r.status() + " " + r.body());
    }
    return r.body();
  }

  private static WebSocket listen(String base, String token, BlockingQueue<JsonNode> out)
      throws Exception {
    String identify = "{\"op\":\"identify\",\"d\":{\"token\":\"" + token
        + "\",\"deviceId\":\"d1\"}}";
    CompletableFuture<Void> ready = new CompletableFuture<>();
    WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder()
        .buildAsync(URI.create(base.replace("http", "ws") + "/gateway"), new WebSocket.Listener() {
          private final StringBuilder sb = new StringBuilder();

          @Override
          public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            sb.append(data);
            if (last) {
              String f = sb.toString();
              sb.setLength(0);
              if (f.startsWith("{\"op\":\"hello\"")) {
                ws.sendText(identify, true);
              } else if (f.startsWith("{\"op\":\"ready\"")) {
                ready.complete(null);
              } else if (f.contains("\"t\":\"MESSAGE_CREATE\"")) {
                try {
                  out.add(JSON.readTree(f));
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              }
            }
            ws.request(1);
            return null;
          }
        }).get(30, TimeUnit.SECONDS);
    ready.get(30, TimeUnit.SECONDS); // a session gets what is published after its ready, not before
    return socket;
  }

  private static JsonNode next(BlockingQueue<JsonNode> q) throws InterruptedException {
    JsonNode d = q.poll(30, TimeUnit.SECONDS);
    if (d == null) {
      throw new IllegalStateException("no MESSAGE_CREATE within 30 s");
    }
    return d;
  }

  private static double pct(long[] values, int p) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)]
        / 1e6;
  }

  private static long median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }
}
