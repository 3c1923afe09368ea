package dev.cloister.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A gateway client written from the README: JSON text frames, heartbeats at the interval from
 * hello (unless told not to), and every frame received kept in order.
 */
final class GatewayClient implements WebSocket.Listener, AutoCloseable {

  static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static final ScheduledExecutorService HEARTBEATS = Executors.newScheduledThreadPool(1, r -> {
    Thread t = new Thread(r, "gateway-client-heartbeats");
    t.setDaemon(true);
    return t;
  });

  final BlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
  final CompletableFuture<Integer> closed = new CompletableFuture<>();
  private final StringBuilder partial = new StringBuilder();
  private final boolean heartbeats;
  private volatile WebSocket ws;
  private volatile long lastSeq;
  private volatile java.util.concurrent.ScheduledFuture<?> beat;

  private GatewayClient(boolean heartbeats) {
    this.heartbeats = heartbeats;
  }

  static GatewayClient connect(int httpPort) throws Exception {
    return connect(httpPort, true);
  }

  static GatewayClient connect(int httpPort, boolean heartbeats) throws Exception {
    GatewayClient c = new GatewayClient(heartbeats);
    c.ws = HTTP.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
        .buildAsync(URI.create("ws://127.0.0.1:" + httpPort + "/gateway"), c)
        .get(10, TimeUnit.SECONDS);
    JsonNode hello = c.next(Duration.ofSeconds(10));
    if (!"hello".equals(hello.path("op").asText())) {
      throw new AssertionError("expected hello, got " + hello);
    }
    if (heartbeats) {
      long every = hello.path("d").path("heartbeatInterval").asLong();
      c.beat = HEARTBEATS.scheduleAtFixedRate(() -> c.sendQuietly(
          "{\"op\":\"heartbeat\",\"d\":" + c.lastSeq + "}"), every, every, TimeUnit.MILLISECONDS);
    }
    return c;
  }

  /** Connects and identifies; returns the ready frame. */
  static GatewayClient identify(int httpPort, String token) throws Exception {
    GatewayClient c = connect(httpPort);
    c.send("{\"op\":\"identify\",\"d\":{\"token\":\"" + token + "\",\"deviceId\":\"test\"}}");
    return c;
  }

  JsonNode ready() throws Exception {
    JsonNode r = until(f -> "ready".equals(f.path("op").asText()), Duration.ofSeconds(20));
    return r;
  }

  void send(String text) {
    ws.sendText(text, true).join();
  }

  void sendQuietly(String text) {
    try {
      ws.sendText(text, true).get(5, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // closed meanwhile
    }
  }

  void sendBinary(byte[] data) {
    ws.sendBinary(ByteBuffer.wrap(data), true).join();
  }

  long lastSeq() {
    return lastSeq;
  }

  JsonNode next(Duration timeout) throws InterruptedException {
    JsonNode f = frames.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (f == null) {
      throw new AssertionError("no frame within " + timeout);
    }
    return f;
  }

  /** The next frame that matches, dropping the others. */
  JsonNode until(Predicate<JsonNode> match, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      JsonNode f = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
      if (f == null) {
        throw new AssertionError("no matching frame within " + timeout);
      }
      if (match.test(f)) {
        return f;
      }
    }
  }

  JsonNode dispatch(String t, Duration timeout) throws InterruptedException {
    return until(f -> "dispatch".equals(f.path("op").asText()) && t.equals(f.path("t").asText()),
        timeout);
  }

  /** Every frame that arrives within {@code window}. */
  List<JsonNode> drain(Duration window) throws InterruptedException {
    List<JsonNode> out = new ArrayList<>();
    long deadline = System.nanoTime() + window.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      JsonNode f = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
      if (f == null) {
        return out;
      }
      out.add(f);
    }
  }

  int awaitClose(Duration timeout) throws Exception {
    return closed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Drops the TCP connection without a close handshake, as a network failure would. */
  void abort() {
    stopBeating();
    ws.abort();
  }

  private void stopBeating() {
    if (beat != null) {
      beat.cancel(false);
    }
  }

  @Override
  public void close() {
    stopBeating();
    if (!ws.isOutputClosed()) {
      ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").exceptionally(t -> null);
    }
    ws.abort();
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    partial.append(data);
    if (last) {
      try {
        JsonNode f = JSON.readTree(partial.toString());
        if (f.has("s") && f.get("s").isNumber()) {
          lastSeq = f.get("s").asLong();
        }
        frames.add(f);
      } catch (Exception e) {
        frames.add(JSON.createObjectNode().put("op", "unparsable").put("text", partial.toString()));
      }
      partial.setLength(0);
    }
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    stopBeating();
    closed.complete(statusCode);
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    stopBeating();
    closed.complete(-1);
  }

  /**
   * Resumes a session on this connection and returns the dispatches replayed before
   * {@code resumed}, after checking they carry the numbers right after {@code seq}: nothing lost,
   * nothing twice.
   */
  java.util.List<JsonNode> resume(String token, String sessionId, long seq, Duration wait)
      throws InterruptedException {
    send("{\"op\":\"resume\",\"d\":{\"token\":\"" + token + "\",\"sessionId\":\""
        + sessionId + "\",\"seq\":" + seq + "}}");
    java.util.List<JsonNode> replayed = new java.util.ArrayList<>();
    JsonNode f;
    while (!"resumed".equals((f = next(wait)).path("op").asText())) {
      if ("dispatch".equals(f.path("op").asText())) {
        replayed.add(f);
      }
    }
    for (int i = 0; i < replayed.size(); i++) {
      org.assertj.core.api.Assertions.assertThat(replayed.get(i).get("s").asLong())
          .as("replayed dispatch %d", i).isEqualTo(seq + 1 + i);
    }
    return replayed;
  }

  /** The ids of the MESSAGE_CREATE dispatches among {@code frames}, in order. */
  static java.util.List<String> createdMessageIds(java.util.List<JsonNode> frames) {
    return frames.stream().filter(r -> "MESSAGE_CREATE".equals(r.get("t").asText()))
        .map(r -> r.at("/d/id").asText()).toList();
  }
}
