package dev.cloister.client.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.client.Channel;
import dev.cloister.client.Guild;
import dev.cloister.client.Message;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import java.net.URI;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A client of the real-time gateway (README "Real-time gateway"): hello, identify or resume,
 * heartbeats at the announced interval, dispatches to a {@link GatewayListener} in order.
 *
 * <p>A dropped connection is reconnected with jittered exponential backoff and the session
 * resumed (session id and last {@code s}), so nothing is missed or seen twice. When the server
 * can no longer resume it ({@code invalid_session}, close 4000/4007), the client identifies again
 * and runs a {@link Backfill}: each followed text channel's history after the last message seen,
 * delivered as MESSAGE_CREATEs and de-duplicated by message id, so a message is never missed.
 *
 * <p>Threads: one runs the protocol (socket events, heartbeats, reconnects), another delivers
 * to the listener and runs backfills, so a slow listener or a long backfill never delays a
 * heartbeat.
 */
public final class GatewayClient implements AutoCloseable {

  public enum State {
    CONNECTING, IDENTIFYING, RESUMING, CONNECTED, WAITING_TO_RECONNECT, OFFLINE, CLOSED
  }

  /**
   * Reconnect backoff: the first wait after a drop, doubled per failed attempt up to the longest;
   * each wait jittered to between half and all of it so clients do not reconnect in step.
   */
  public record Settings(Duration firstReconnectWait, Duration longestReconnectWait,
      Duration connectTimeout) {
    public static final Settings DEFAULT =
        new Settings(Duration.ofMillis(250), Duration.ofSeconds(30), Duration.ofSeconds(10));
  }

  private static final System.Logger LOG = System.getLogger(GatewayClient.class.getName());

  // close codes the README says not to resume after
  private static final int AUTHENTICATION_FAILED = 4004;
  private static final int SESSION_REPLACED = 4011;
  private static final int UNKNOWN_ERROR = 4000;
  private static final int NOT_AUTHENTICATED = 4003;
  private static final int INVALID_SEQ = 4007;

  private final RestClient rest;
  private final String deviceId;
  private final GatewayListener listener;
  private final Backfill backfill;
  private final Settings settings;
  private final URI uri;
  private final ScheduledExecutorService loop;
  private final ExecutorService delivery;
  private final CompletableFuture<Ready> firstReady = new CompletableFuture<>();
  private volatile Thread deliveryThread;

  // Protocol state: touched on the loop thread only.
  private int generation;
  private WebSocket socket;
  private CompletableFuture<?> sending = CompletableFuture.completedFuture(null);
  private ScheduledFuture<?> heartbeat;
  private ScheduledFuture<?> reconnect;
  private long heartbeatMillis;
  private long lastAckNanos;
  private String sessionId;
  private long seq;
  private boolean hadSession;
  private boolean sessionLost;
  private int failedAttempts;
  private boolean offline;
  private long nonces;
  private final Map<String, CompletableFuture<Message>> pendingSends = new HashMap<>();
  private final Map<String, CompletableFuture<JsonNode>> pendingVoice = new HashMap<>();
  private final Map<String, CompletableFuture<Map<String, String>>> pendingPresences =
      new HashMap<>();
  private volatile State state = State.CONNECTING;
  private volatile String lastProblem = "not connected yet";

  // Delivery state: touched on the delivery thread only.
  private final ChannelCursors cursors = new ChannelCursors();
  private boolean backfillOwed;

  private GatewayClient(RestClient rest, String deviceId, GatewayListener listener,
      Backfill backfill, Settings settings) {
    if (rest.token() == null) {
      throw new IllegalArgumentException("the gateway needs a logged-in RestClient");
    }
    this.rest = rest;
    this.deviceId = deviceId;
    this.listener = listener;
    this.backfill = backfill;
    this.settings = settings;
    this.uri = gatewayUri(rest.server());
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> thread(r, "cloister-gateway"));
    this.delivery = Executors.newSingleThreadExecutor(r -> {
      deliveryThread = thread(r, "cloister-gateway-delivery");
      return deliveryThread;
    });
  }

  /** Connects and identifies in the background; see {@link #awaitReady}. */
  public static GatewayClient start(RestClient rest, String deviceId, GatewayListener listener) {
    return start(rest, deviceId, listener, new HistoryBackfill(rest), Settings.DEFAULT);
  }

  public static GatewayClient start(RestClient rest, String deviceId, GatewayListener listener,
      Backfill backfill, Settings settings) {
    GatewayClient c = new GatewayClient(rest, deviceId, listener, backfill, settings);
    c.onLoop(c::connect);
    return c;
  }

  /** ws://host:port/gateway for http://host:port (wss for https). */
  static URI gatewayUri(URI server) {
    String scheme = "https".equalsIgnoreCase(server.getScheme()) ? "wss" : "ws";
    String path = server.getPath() == null ? "" : server.getPath().replaceAll("/+$", "");
    return URI.create(scheme + "://" + server.getRawAuthority() + path + "/gateway");
  }

  private static Thread thread(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  // ---- public API ----

  /**
   * Waits for the first ready.
   *
   * @throws TimeoutException not ready in time; the message says what went wrong last
   */
  public Ready awaitReady(Duration timeout) throws TimeoutException, InterruptedException {
    try {
      return firstReady.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new TimeoutException("no ready from " + uri + " within " + timeout + ": " + lastProblem);
    }
  }

  public State state() {
    return state;
  }

  /** The last close code, error or refusal seen, for telling a person what went wrong. */
  public String lastProblem() {
    return lastProblem;
  }

  /**
   * Posts a ciphertext over the gateway ({@code send} op, up to about 47 KiB); completes with the
   * stored message on {@code send_ack}, or fails with the REST API's {@link ApiException}. If the
   * connection drops first it fails with {@link IllegalStateException}: the post may or may not
   * have happened (history will tell).
   */
  public CompletableFuture<Message> send(String channelId, byte[] ciphertext) {
    return request(pendingSends, "n", "send", nonce -> RestClient.JSON.createObjectNode()
        .put("channelId", channelId)
        .put("ciphertext", Base64.getEncoder().encodeToString(ciphertext)).put("nonce", nonce));
  }

  /**
   * Sends op {@code op} with {@code d(nonce)} once on the loop, if connected; the result waits in
   * {@code pending} under the nonce for its answer (or fails when the connection goes).
   */
  private <T> CompletableFuture<T> request(Map<String, CompletableFuture<T>> pending,
      String noncePrefix, String op, java.util.function.Function<String, ObjectNode> d) {
    CompletableFuture<T> result = new CompletableFuture<>();
    boolean queued = onLoop(() -> {
      if (state != State.CONNECTED) {
        result.completeExceptionally(new IllegalStateException("not connected (" + state + ")"));
        return;
      }
      String nonce = noncePrefix + (++nonces);
      pending.put(nonce, result);
      sendFrame(op, d.apply(nonce));
    });
    if (!queued) {
      result.completeExceptionally(new IllegalStateException("the client was closed"));
    }
    return result;
  }

  /**
   * Joins (or moves to) a voice channel with these self states; completes with the {@code
   * VOICE_SERVER_UPDATE} dispatch's data (where to send media, the call's group), or fails with
   * the server's refusal ({@link ApiException}) or {@link IllegalStateException} when not
   * connected. The dispatch also reaches the listener.
   */
  public CompletableFuture<JsonNode> joinVoice(String guildId, String channelId, boolean selfMute,
      boolean selfDeaf) {
    return request(pendingVoice, "v", "voice_state_update", nonce -> RestClient.JSON
        .createObjectNode().put("guildId", guildId).put("channelId", channelId)
        .put("selfMute", selfMute).put("selfDeaf", selfDeaf).put("nonce", nonce));
  }

  /** Most users one {@link #requestPresences} asks about (the server's limit per frame). */
  public static final int PRESENCES_PER_REQUEST = 1000;

  /**
   * The status (online, idle, offline) of up to {@link #PRESENCES_PER_REQUEST} members of
   * {@code guildId}, by user id; users who are not members are left out. A large guild's ready
   * carries no presences: ask about the members shown, then follow PRESENCE_BATCH. Fails with
   * {@link ApiException} (an unknown guild) or {@link IllegalStateException} when not connected.
   */
  public CompletableFuture<Map<String, String>> requestPresences(String guildId,
      List<String> userIds) {
    if (userIds.isEmpty() || userIds.size() > PRESENCES_PER_REQUEST) {
      throw new IllegalArgumentException("ask about 1 to " + PRESENCES_PER_REQUEST + " users");
    }
    return request(pendingPresences, "p", "request_presences", nonce -> {
      ObjectNode d = RestClient.JSON.createObjectNode().put("guildId", guildId)
          .put("nonce", nonce);
      userIds.forEach(d.putArray("userIds")::add);
      return d;
    });
  }

  /**
   * Status by user id from a {@code presences} list ({@code [{userId, status}]}): a small guild's
   * in ready or GUILD_CREATE, a PRESENCE_BATCH's, or a {@link #requestPresences} answer's.
   */
  public static Map<String, String> statuses(JsonNode presences) {
    Map<String, String> statuses = new java.util.LinkedHashMap<>();
    presences.forEach(p -> statuses.put(p.path("userId").asText(),
        p.path("status").asText("offline")));
    return statuses;
  }

  /** Leaves the voice channel this session is in in {@code guildId}; dropped when not connected. */
  public void leaveVoice(String guildId) {
    onLoop(() -> {
      if (state == State.CONNECTED) {
        sendFrame("voice_state_update", RestClient.JSON.createObjectNode().put("guildId", guildId)
            .putNull("channelId"));
      }
    });
  }

  /** Tells the channel's viewers you are typing; dropped when not connected. */
  public void typing(String channelId) {
    onLoop(() -> {
      if (state == State.CONNECTED) {
        sendFrame("typing", RestClient.JSON.createObjectNode().put("channelId", channelId));
      }
    });
  }

  /** "online" or "idle"; dropped when not connected. */
  public void presence(String status) {
    if (!status.equals("online") && !status.equals("idle")) {
      throw new IllegalArgumentException("presence is \"online\" or \"idle\"");
    }
    onLoop(() -> {
      if (state == State.CONNECTED) {
        sendFrame("presence", RestClient.JSON.createObjectNode().put("status", status));
      }
    });
  }

  /**
   * Marks a channel as read up to {@code lastSeenMessageId} (for example after showing its
   * history): a backfill starts after it.
   */
  public void follow(String channelId, String guildId, String lastSeenMessageId) {
    long id = Long.parseLong(lastSeenMessageId);
    onDelivery(() -> cursors.follow(channelId, guildId, id));
  }

  /** Drops the connection without a close handshake, as a network failure would; it reconnects. */
  public void dropConnection() {
    onLoop(() -> {
      if (socket != null) {
        socket.abort();
        connectionLost(generation, -1, "connection dropped by the client");
      }
    });
  }

  /**
   * Closes the connection cleanly but keeps the session, and stays offline until
   * {@link #reconnect}: the server keeps the session resumable for a while (README "Limits and
   * resume bounds").
   */
  public void disconnect() {
    onLoop(() -> {
      offline = true;
      cancel(reconnect);
      if (socket != null) {
        closeSocket(socket);
        connectionLost(generation, WebSocket.NORMAL_CLOSURE, "disconnected by the client");
      } else {
        generation++;
        setState(State.OFFLINE, "disconnected by the client");
      }
    });
  }

  /** Comes back after {@link #disconnect}: connects now and resumes (or identifies and backfills). */
  public void reconnect() {
    onLoop(() -> {
      if (state == State.CLOSED || !offline) {
        return;
      }
      offline = false;
      failedAttempts = 0;
      connect();
    });
  }

  /** Closes the connection and stops; the session ends on the server when its resume window passes. */
  @Override
  public void close() {
    CompletableFuture<Void> closed = new CompletableFuture<>();
    boolean queued = onLoop(() -> {
      cancel(reconnect);
      cancel(heartbeat);
      if (socket != null) {
        closeSocket(socket);
        socket = null;
      }
      generation++;
      failPendingSends("the client was closed");
      setState(State.CLOSED, "closed by the client");
      firstReady.completeExceptionally(new IllegalStateException("the client was closed"));
      closed.complete(null);
    });
    try {
      if (queued) {
        closed.get(5, TimeUnit.SECONDS);
      }
    } catch (ExecutionException | TimeoutException e) {
      // the loop is stuck: shut it down regardless
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    loop.shutdown();
    delivery.shutdown();
    if (Thread.currentThread() == deliveryThread) {
      return; // called from the listener: the delivery thread ends once this call returns
    }
    try {
      if (!delivery.awaitTermination(5, TimeUnit.SECONDS)) {
        delivery.shutdownNow();
      }
      loop.awaitTermination(1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- connecting ----

  private void connect() {
    if (state == State.CLOSED || offline) {
      return;
    }
    int gen = ++generation;
    setState(State.CONNECTING, uri.toString());
    rest.http().newWebSocketBuilder()
        .connectTimeout(settings.connectTimeout())
        .buildAsync(uri, new SocketEvents(gen))
        .whenComplete((ws, failure) -> {
          if (failure != null) {
            Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
            onLoop(() -> connectionLost(gen, -1, "cannot connect: " + describe(cause),
                retryAfter(cause)));
          }
        });
  }

  /** The socket of {@code gen} is open; it says hello next. */
  private void opened(int gen, WebSocket ws) {
    if (gen != generation || state == State.CLOSED) {
      ws.abort(); // disconnected or closed meanwhile
    } else {
      socket = ws;
    }
  }

  /** Runs on the protocol thread; after {@link #close} there is nothing left to do. */
  private boolean onLoop(Runnable task) {
    try {
      loop.execute(task);
      return true;
    } catch (java.util.concurrent.RejectedExecutionException closed) {
      return false;
    }
  }

  private static Optional<Duration> retryAfter(Throwable cause) {
    if (cause instanceof WebSocketHandshakeException h && h.getResponse() != null
        && h.getResponse().statusCode() == 429) {
      return h.getResponse().headers().firstValue("Retry-After").map(v -> {
        try {
          return Duration.ofSeconds(Long.parseLong(v.strip()));
        } catch (NumberFormatException e) {
          return null;
        }
      });
    }
    return Optional.empty();
  }

  private static String describe(Throwable t) {
    if (t instanceof WebSocketHandshakeException h && h.getResponse() != null) {
      return "the upgrade was answered " + h.getResponse().statusCode();
    }
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  private void connectionLost(int gen, int code, String reason) {
    connectionLost(gen, code, reason, Optional.empty());
  }

  /** The socket of {@code gen} is gone: decide between resume, identify and giving up. */
  private void connectionLost(int gen, int code, String reason, Optional<Duration> serverWait) {
    if (gen != generation || state == State.CLOSED) {
      return; // an old socket's late news
    }
    generation++;
    socket = null;
    cancel(heartbeat);
    failPendingSends("the connection was lost before the server acknowledged; the message may "
        + "or may not have been posted");
    String detail = (code >= 0 ? "close " + code + ": " : "") + reason;
    lastProblem = detail;
    if (code == AUTHENTICATION_FAILED || code == SESSION_REPLACED) {
      setState(State.CLOSED, detail);
      firstReady.completeExceptionally(new IllegalStateException("the gateway refused us: " + detail));
      return;
    }
    if (code == UNKNOWN_ERROR || code == NOT_AUTHENTICATED || code == INVALID_SEQ) {
      forgetSession();
    }
    if (offline) {
      setState(State.OFFLINE, detail);
      return;
    }
    Duration wait = serverWait.orElseGet(this::nextBackoff);
    setState(State.WAITING_TO_RECONNECT, detail + "; reconnecting in " + wait.toMillis() + " ms");
    reconnect = loop.schedule(this::connect, wait.toMillis(), TimeUnit.MILLISECONDS);
  }

  private Duration nextBackoff() {
    long first = settings.firstReconnectWait().toMillis();
    long longest = settings.longestReconnectWait().toMillis();
    long full = Math.min(longest, first << Math.min(failedAttempts++, 20));
    return Duration.ofMillis(full / 2 + ThreadLocalRandom.current().nextLong(full / 2 + 1));
  }

  /** The server cannot resume this session: the next ready is a new one, after a gap. */
  private void forgetSession() {
    if (sessionId != null || hadSession) {
      sessionLost = true;
    }
    sessionId = null;
    seq = 0;
  }

  // ---- frames from the server (loop thread) ----

  private void onFrame(int gen, String text) {
    if (gen != generation || state == State.CLOSED) {
      return;
    }
    JsonNode f;
    try {
      f = RestClient.JSON.readTree(text);
    } catch (Exception e) {
      LOG.log(System.Logger.Level.WARNING, "ignoring a gateway frame that is not JSON");
      return;
    }
    String op = f.path("op").asText("");
    switch (op) {
      case "hello" -> onHello(f.path("d"));
      case "ready" -> onReady(f);
      case "resumed" -> {
        failedAttempts = 0;
        setState(State.CONNECTED, "resumed session " + sessionId + " after s " + seq);
      }
      case "invalid_session" -> {
        forgetSession();
        setState(State.IDENTIFYING, "the session could not be resumed; identifying again");
        identify();
      }
      case "dispatch" -> onDispatch(f);
      case "heartbeat_ack" -> lastAckNanos = System.nanoTime();
      case "send_ack" -> {
        CompletableFuture<Message> p = pendingSends.remove(f.path("d").path("nonce").asText());
        if (p != null) {
          try {
            p.complete(RestClient.read(f.path("d").path("message"), Message.class));
          } catch (ApiException e) {
            p.completeExceptionally(e);
          }
        }
      }
      case "presences" -> {
        JsonNode d = f.path("d");
        CompletableFuture<Map<String, String>> p = pendingPresences.remove(
            d.path("nonce").asText());
        if (p != null) {
          p.complete(statuses(d.path("presences")));
        }
      }
      case "error" -> {
        JsonNode d = f.path("d");
        refuse(pendingSends, d, "the send was refused");
        refuse(pendingVoice, d, "the join was refused");
        refuse(pendingPresences, d, "the request was refused");
      }
      default -> LOG.log(System.Logger.Level.DEBUG, "ignoring gateway op " + op);
    }
  }

  private void onHello(JsonNode d) {
    heartbeatMillis = Math.max(100, d.path("heartbeatInterval").asLong(30_000));
    lastAckNanos = System.nanoTime();
    cancel(heartbeat);
    heartbeat = loop.scheduleAtFixedRate(this::beat, heartbeatMillis, heartbeatMillis,
        TimeUnit.MILLISECONDS);
    if (sessionId != null) {
      setState(State.RESUMING, "resuming session " + sessionId + " after s " + seq);
      sendFrame("resume", RestClient.JSON.createObjectNode().put("token", rest.token())
          .put("sessionId", sessionId).put("seq", seq));
    } else {
      setState(State.IDENTIFYING, "identifying as device " + deviceId);
      identify();
    }
  }

  private void identify() {
    sendFrame("identify", RestClient.JSON.createObjectNode().put("token", rest.token())
        .put("deviceId", deviceId));
  }

  private void beat() {
    if (socket == null) {
      return;
    }
    // No ack for two and a half intervals: the connection is dead without having said so.
    if (System.nanoTime() - lastAckNanos > heartbeatMillis * 2_500_000L) {
      WebSocket dead = socket;
      dead.abort();
      connectionLost(generation, -1, "no heartbeat_ack for " + (heartbeatMillis * 5 / 2) + " ms");
      return;
    }
    ObjectNode frame = RestClient.JSON.createObjectNode().put("op", "heartbeat");
    if (seq > 0) {
      frame.put("d", seq);
    } else {
      frame.putNull("d");
    }
    sendText(frame.toString());
  }

  private void onReady(JsonNode f) {
    JsonNode d = f.path("d");
    sessionId = d.path("sessionId").asText(null);
    seq = f.path("s").asLong(1);
    boolean afterGap = sessionLost;
    sessionLost = false;
    hadSession = true;
    failedAttempts = 0;
    Ready ready;
    try {
      List<Guild> guilds = RestClient.read(d.path("guilds"),
          new com.fasterxml.jackson.core.type.TypeReference<List<Guild>>() {});
      ready = new Ready(sessionId, seq, d.path("user").path("id").asText(),
          d.path("user").path("username").asText(), guilds, d);
    } catch (ApiException e) {
      LOG.log(System.Logger.Level.WARNING, "a ready with an unexpected shape: " + e.getMessage());
      ready = new Ready(sessionId, seq, d.path("user").path("id").asText(),
          d.path("user").path("username").asText(), List.of(), d);
    }
    setState(State.CONNECTED, "ready: session " + sessionId);
    Ready r = ready;
    onDelivery(() -> deliverReady(r, afterGap));
    firstReady.complete(ready);
  }

  private void onDispatch(JsonNode f) {
    long s = f.path("s").asLong(-1);
    if (s <= seq) {
      return; // already delivered: the server replays only after seq, but never trust a repeat
    }
    seq = s;
    Dispatch d = new Dispatch(f.path("t").asText(), s, f.path("d"), false);
    onDelivery(() -> deliverDispatch(d));
    if (d.type().equals("VOICE_SERVER_UPDATE")) {
      CompletableFuture<JsonNode> v = pendingVoice.remove(d.data().path("nonce").asText());
      if (v != null) {
        v.complete(d.data());
      }
    }
  }

  // ---- sending (loop thread) ----

  private void sendFrame(String op, JsonNode d) {
    ObjectNode frame = RestClient.JSON.createObjectNode().put("op", op);
    frame.set("d", d);
    sendText(frame.toString());
  }

  /** One send at a time, as java.net.http.WebSocket requires: each waits for the one before. */
  private void sendText(String text) {
    WebSocket ws = socket;
    if (ws == null) {
      return;
    }
    int gen = generation;
    sending = sending.handle((x, failure) -> null)
        .thenCompose(x -> ws.sendText(text, true))
        .whenCompleteAsync((x, failure) -> {
          if (failure != null) {
            connectionLost(gen, -1, "send failed: " + describe(failure));
          }
        }, loop);
  }

  private static void closeSocket(WebSocket ws) {
    ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye")
        .orTimeout(2, TimeUnit.SECONDS)
        .whenComplete((x, failure) -> ws.abort());
  }

  /** An error frame: the request waiting under its nonce, if any, fails with the server's word. */
  private static void refuse(Map<String, ? extends CompletableFuture<?>> pending, JsonNode d,
      String fallback) {
    CompletableFuture<?> p = pending.remove(d.path("nonce").asText());
    if (p != null) {
      p.completeExceptionally(new ApiException(d.path("status").asInt(400),
          d.path("code").asText("error"), d.path("message").asText(fallback)));
    }
  }

  private void failPendingSends(String why) {
    for (Map<String, ? extends CompletableFuture<?>> pending
        : List.of(pendingSends, pendingVoice, pendingPresences)) {
      List<CompletableFuture<?>> waiting = new ArrayList<>(pending.values());
      pending.clear();
      waiting.forEach(p -> p.completeExceptionally(new IllegalStateException(why)));
    }
  }

  private static void cancel(ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
  }

  private void setState(State next, String detail) {
    state = next;
    onDelivery(() -> {
      try {
        listener.onStateChange(next, detail);
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.WARNING, "the gateway listener failed on a state change", e);
      }
    });
  }

  // ---- delivery thread ----

  private void onDelivery(Runnable task) {
    try {
      delivery.execute(task);
    } catch (java.util.concurrent.RejectedExecutionException closed) {
      // closed: nobody listens any more
    }
  }

  private void deliverReady(Ready ready, boolean afterGap) {
    try {
      listener.onReady(ready);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "the gateway listener failed on ready", e);
    }
    if (afterGap || backfillOwed) {
      // Channels created or shown to us during the gap are read from where we were in step.
      long since = cursors.newestEver();
      for (Guild g : ready.guilds()) {
        for (Channel c : g.channels()) {
          if (c.isText() && !cursors.follows(c.id())) {
            cursors.follow(c.id(), g.id(), since);
          }
        }
      }
      backfillOwed = !backfill.run(cursors, this::deliverToListener);
    } else {
      for (Guild g : ready.guilds()) {
        followGuild(g);
      }
    }
  }

  private void deliverDispatch(Dispatch d) {
    JsonNode data = d.data();
    switch (d.type()) {
      case Dispatch.MESSAGE_CREATE -> {
        long id;
        try {
          id = Long.parseLong(data.path("id").asText());
        } catch (NumberFormatException e) {
          id = 0;
        }
        if (id > 0 && !cursors.accept(data.path("channelId").asText(),
            data.path("guildId").asText(null), id)) {
          return; // a backfill delivered it already
        }
      }
      case "GUILD_CREATE" -> {
        try {
          followGuild(RestClient.read(data, Guild.class));
        } catch (ApiException e) {
          LOG.log(System.Logger.Level.WARNING, "a GUILD_CREATE with an unexpected shape");
        }
      }
      case "CHANNEL_CREATE" -> {
        if ("text".equals(data.path("type").asText())) {
          follow(data.path("id").asText(), data.path("guildId").asText(null));
        }
      }
      case "CHANNEL_DELETE" -> cursors.unfollow(data.path("id").asText());
      case "GUILD_DELETE" -> cursors.unfollowGuild(data.path("id").asText());
      default -> {
        // nothing to track
      }
    }
    deliverToListener(d);
  }

  private void followGuild(Guild g) {
    for (Channel c : g.channels()) {
      if (c.isText()) {
        follow(c.id(), g.id());
      }
    }
  }

  private void follow(String channelId, String guildId) {
    if (!cursors.follows(channelId)) {
      cursors.follow(channelId, guildId, backfill.newestMessageId(channelId));
    }
  }

  private void deliverToListener(Dispatch d) {
    try {
      listener.onDispatch(d);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, "the gateway listener failed on " + d.type(), e);
    }
  }

  // ---- socket events (the WebSocket's own threads, handed to the loop) ----

  private final class SocketEvents implements WebSocket.Listener {
    private final int gen;
    private final StringBuilder partial = new StringBuilder();

    SocketEvents(int gen) {
      this.gen = gen;
    }

    @Override
    public void onOpen(WebSocket ws) {
      // Before any onText, so the loop knows the socket before it handles hello.
      onLoop(() -> opened(gen, ws));
      ws.request(1);
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      partial.append(data);
      if (last) {
        String text = partial.toString();
        partial.setLength(0);
        onLoop(() -> onFrame(gen, text));
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      ws.request(1); // the gateway sends text only
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      onLoop(() -> connectionLost(gen, statusCode, reason == null || reason.isEmpty()
          ? "closed by the server" : reason));
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      onLoop(() -> connectionLost(gen, -1, describe(error)));
    }
  }
}
