package dev.cloister.node;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntPredicate;

/**
 * A gateway client that keeps its place the way the README tells clients to: when its connection
 * closes it connects to the next node and resumes its session from the last seq it got; when told
 * {@code invalid_session} it identifies again and reads the channel's history over REST for what
 * it missed. It runs on a thread of its own and records what a test checks: the message ids of
 * one channel in the order they came, every seq that broke the count (a gap or a repeat within a
 * session), how many times it had to identify again, and how long each resume took.
 */
final class RoamingGatewayClient implements AutoCloseable {

  private static final Duration WAIT = Duration.ofSeconds(30);

  private final String name;
  private final String token;
  private final String channelId;
  private final int[] ports;
  private final IntPredicate alive;
  private final Thread thread;
  private volatile boolean stopping;

  /** MESSAGE_CREATE ids of the channel, in the order received (over the gateway or backfilled). */
  final List<String> seen = new CopyOnWriteArrayList<>();
  /**
   * What a backfill after identifying again read from the history: a live MESSAGE_CREATE for one
   * of these is the same message twice on the client's side (any client keeps one), not the
   * server sending it twice.
   */
  private final Set<String> backfilled = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** What went wrong with the numbering, as text (empty: nothing). */
  final List<String> seqProblems = new CopyOnWriteArrayList<>();
  /** Problems of any other kind (a frame not understood, a connection that could not be made). */
  final List<String> problems = new CopyOnWriteArrayList<>();
  /** Where and when each invalid_session came. */
  final List<String> invalidNotes = new CopyOnWriteArrayList<>();
  /** Milliseconds from a lost connection until the resume on another node was answered. */
  final List<Long> resumeMillis = new CopyOnWriteArrayList<>();
  /** When (System.nanoTime) each resume was answered. */
  final List<Long> resumedAtNanos = new CopyOnWriteArrayList<>();
  volatile int invalidSessions;
  volatile int resumes;

  private GatewayClient current;
  private int portIndex;
  private String sessionId;
  private long lastSeq;
  private long lostAtNanos;

  /**
   * {@code ports}: the nodes' HTTP ports, tried in turn from {@code first}; {@code alive} says
   * which may be tried now (a test stops and starts nodes under it).
   */
  RoamingGatewayClient(String name, String token, String channelId, int[] ports, int first,
      IntPredicate alive) {
    this.name = name;
    this.token = token;
    this.channelId = channelId;
    this.ports = ports.clone();
    this.portIndex = first;
    this.alive = alive;
    this.thread = new Thread(this::run, "roaming-" + name);
    this.thread.setDaemon(true);
  }

  /** Connects, identifies and waits for ready; then keeps going on its own thread. */
  RoamingGatewayClient start() throws Exception {
    current = GatewayClient.connect(ports[portIndex]);
    identify();
    thread.start();
    return this;
  }

  private void identify() throws Exception {
    current.send("{\"op\":\"identify\",\"d\":{\"token\":\"" + token
        + "\",\"deviceId\":\"roamer\"}}");
    // After a node's death, ready waits for the guild's state, whose shard may be on the dead node
    // until the cluster has downed it.
    JsonNode ready = current.until(f -> "ready".equals(f.path("op").asText()),
        WAIT.multipliedBy(4));
    sessionId = ready.at("/d/sessionId").asText();
    lastSeq = ready.get("s").asLong();
  }

  int port() {
    return ports[portIndex];
  }

  private void run() {
    while (!stopping) {
      try {
        JsonNode f = current.frames.poll(200, java.util.concurrent.TimeUnit.MILLISECONDS);
        if (f == null) {
          if (current.closed.isDone() && current.frames.isEmpty()) {
            reconnect();
          }
          continue;
        }
        take(f);
      } catch (InterruptedException e) {
        return;
      } catch (Exception | AssertionError e) {
        if (!stopping) {
          problems.add(name + ": " + e);
          try {
            Thread.sleep(200);
          } catch (InterruptedException ie) {
            return;
          }
        }
      }
    }
  }

  private void take(JsonNode f) throws Exception {
    String op = f.path("op").asText();
    if (op.equals("resumed")) {
      resumes++;
      resumeMillis.add((System.nanoTime() - lostAtNanos) / 1_000_000);
      resumedAtNanos.add(System.nanoTime());
      return;
    }
    if (op.equals("invalid_session")) {
      invalidSessions++;
      invalidNotes.add(name + ": invalid_session on port " + ports[portIndex] + " after seq "
          + lastSeq);
      if (!current.closed.isDone()) {
        identify();
        backfill();
      }
      return;
    }
    if (f.has("s") && f.get("s").isNumber()) {
      long s = f.get("s").asLong();
      if (s != lastSeq + 1) {
        seqProblems.add(name + ": seq " + s + " after " + lastSeq + " (" + f.path("t").asText()
            + ")");
      }
      lastSeq = Math.max(lastSeq, s);
    }
    if (op.equals("dispatch") && f.path("t").asText().equals("MESSAGE_CREATE")
        && f.at("/d/channelId").asText().equals(channelId)) {
      String id = f.at("/d/id").asText();
      if (!backfilled.contains(id)) {
        seen.add(id);
      }
    }
  }

  /**
   * The connection closed: the next node that is up, and a resume there. Its answer (resumed or
   * invalid_session) is taken like any frame: after a node's death it may take as long as the
   * cluster needs to down it and bring its shards back.
   */
  private void reconnect() throws Exception {
    long lost = System.nanoTime();
    long deadline = lost + WAIT.toNanos() * 4;
    while (!stopping && System.nanoTime() < deadline) {
      portIndex = (portIndex + 1) % ports.length;
      if (!alive.test(portIndex)) {
        continue;
      }
      try {
        current = GatewayClient.connect(ports[portIndex]);
      } catch (Exception | AssertionError e) {
        Thread.sleep(100);
        continue;
      }
      lostAtNanos = lost;
      current.send("{\"op\":\"resume\",\"d\":{\"token\":\"" + token + "\",\"sessionId\":\""
          + sessionId + "\",\"seq\":" + lastSeq + "}}");
      return;
    }
    if (!stopping) {
      throw new IllegalStateException("no node to reconnect to");
    }
  }

  /** After identifying again: what the channel's history holds that this client has not seen. */
  private void backfill() throws Exception {
    ApiClient api = new ApiClient("http://127.0.0.1:" + ports[portIndex]);
    List<String> history = new ArrayList<>();
    String before = null;
    for (int page = 0; page < 100; page++) {
      JsonNode body = api.get("/api/v1/channels/" + channelId + "/messages?limit=100"
          + (before == null ? "" : "&before=" + before), token).body();
      if (body == null || !body.isArray() || body.isEmpty()) {
        break;
      }
      for (JsonNode m : body) {
        history.add(0, m.get("id").asText());
      }
      before = body.get(body.size() - 1).get("id").asText();
    }
    Set<String> known = new LinkedHashSet<>(seen);
    for (String id : history) {
      if (known.add(id)) {
        seen.add(id);
        backfilled.add(id);
      }
    }
  }

  /** Waits until {@code ids} have all been seen (or the time is up). */
  boolean awaitSeen(List<String> ids, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      if (seen.containsAll(ids)) {
        return true;
      }
      Thread.sleep(100);
    }
    return seen.containsAll(ids);
  }

  @Override
  public void close() {
    stopping = true;
    thread.interrupt();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (current != null) {
      current.close();
    }
  }

  @Override
  public String toString() {
    return name + " (session " + sessionId + ", seq " + lastSeq + ", " + resumes + " resumes, "
        + invalidSessions + " invalid_session " + invalidNotes + ")";
  }
}
