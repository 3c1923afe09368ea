package dev.cloister.node.gateway;

import dev.cloister.node.metrics.CloisterMetrics;
import org.apache.pekko.actor.typed.PostStop;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.node.auth.SessionTokens;
import dev.cloister.node.http.ApiContext;
import dev.cloister.node.http.ApiError;
import dev.cloister.node.http.Views;
import dev.cloister.node.limits.TokenBuckets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.util.ByteString;

/**
 * One WebSocket connection, on the node the client connected to: the protocol's state machine
 * (hello, identify or resume, heartbeats, client ops, close codes) and a pipe between the client
 * and its {@link GatewaySession}, which may live on another node. Bad input closes only this
 * connection.
 */
public final class GatewayConnection extends AbstractBehavior<GatewayConnection.Command> {

  public sealed interface Command extends CborSerializable {}

  /**
   * A text frame for the client, from the session: {@code head}, then {@code body} (UTF-8 JSON,
   * possibly the very array other sessions' frames carry: never modified), then {@code tail}.
   */
  record Send(String head, byte[] body, String tail) implements Command {
    private static final byte[] NONE = new byte[0];

    static Send of(String text) {
      return new Send(text, NONE, "");
    }

    /** About the bytes it takes on the wire (heads and tails are ASCII JSON, or nearly). */
    long size() {
      return head.length() + body.length + tail.length();
    }

    ByteString utf8() {
      ByteString b = ByteString.fromString(head);
      if (body.length > 0) {
        b = b.concat(ByteString.fromArrayUnsafe(body));
      }
      return tail.isEmpty() ? b : b.concat(ByteString.fromString(tail));
    }

    /** The whole frame as text (a copy: for tests and logs, not for the way out). */
    String text() {
      return utf8().utf8String();
    }
  }

  /** The stream that writes to the client, once the route has made it. */
  record Attached(ActorRef<FrameEvent> out) implements Command {}

  /** The outbound stream took the frame handed to it: the next may go. */
  record Written() implements Command {}

  static final Written WRITTEN = new Written();

  /** The session that now owns this connection. */
  record Bound(ActorRef<GatewaySession.Command> session) implements Command {}

  /** Close the connection with this code. */
  record Kick(int code, String reason) implements Command {}

  /** The session cannot be resumed; the client may identify again on this connection. */
  record InvalidSession() implements Command {}

  /**
   * The session is moving to another node (its node stops): ask for it again from {@code seq},
   * which sharding delivers to its next incarnation. {@code silent}: this connection was bound,
   * and the client asked for nothing.
   */
  record SessionMoving(long seq, boolean silent) implements Command {}

  enum Ack { INSTANCE }

  record FromClient(ActorRef<Ack> ackTo, WebSocketFrames.Inbound inbound) implements Command {}

  record StreamEnded() implements Command {}

  record StreamFailed(String reason) implements Command {}

  private record Tick() implements Command {}

  private record Finish() implements Command {}

  private record SessionLost() implements Command {}

  private record Posted(String nonce, TextChannel.Message message, String error) implements Command {}

  private record TypingIn(String guildId, String channelId) implements Command {}

  /** The answer to an {@code mls_*} op, ready to send. */
  private record MlsAnswered(String frame) implements Command {}

  /** Marks the end of the outbound stream; never sent to the client. */
  static final FrameEvent COMPLETE = WebSocketFrames.close(1000, "complete");

  /** Fails the outbound stream, which cuts the connection; never sent to the client. */
  static final FrameEvent ABORT = WebSocketFrames.close(1011, "abort");

  /** Why the outbound stream was failed: frames could not be written in time. */
  static final class NotWritten extends RuntimeException {
    NotWritten() {
      super("the client did not take its frames in time; connection cut", null, false, false);
    }
  }

  /** How long frames already queued (a close frame among them) may take to leave at the end. */
  private static final Duration FINISH_GRACE = Duration.ofMillis(500);


  /**
   * What a connection needs from its node; {@code open} holds the node's open connections, each
   * closed with 1012 when the node stops (before it hands its shards off: the client resumes on
   * another node while its session still lives, and follows the session's move).
   */
  record Context(ClusterSharding sharding, ApiContext api, SessionTokens tokens,
      GatewaySettings settings, java.util.Set<ActorRef<Command>> open) {}

  /** A connection whose outbound stream arrives in {@link Attached}; until then frames wait. */
  static Behavior<Command> create(Context node) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new GatewayConnection(ctx, timers, node)));
  }

  private record Queued(FrameEvent frame, long size) {}

  private enum State { AWAITING_IDENTIFY, IDENTIFYING, LIVE, CLOSING }

  private final TimerScheduler<Command> timers;
  private final Context node;
  private ActorRef<FrameEvent> out;
  // Frames for the client not yet taken by the outbound stream (the one handed to it included):
  // at most outbound-buffer frames and outbound-max-bytes bytes, else the client is too slow.
  private final ArrayDeque<Queued> queue = new ArrayDeque<>(4);
  private long queuedBytes;
  private Queued writing;
  private final TokenBuckets.Single limit;
  private State state = State.AWAITING_IDENTIFY;
  private String userId;
  private EntityRef<GatewaySession.Command> session;
  private ActorRef<GatewaySession.Command> boundTo;
  private long lastHeartbeatNanos = System.nanoTime();
  private long connectedNanos = System.nanoTime();

  private GatewayConnection(ActorContext<Command> ctx, TimerScheduler<Command> timers,
      Context node) {
    super(ctx);
    this.timers = timers;
    this.node = node;
    node.open().add(ctx.getSelf());
    CloisterMetrics.GATEWAY_CONNECTIONS.increment();
    GatewaySettings s = node.settings();
    this.limit = new TokenBuckets.Single(s.sessionBurst(), s.sessionPerSecond(), System.nanoTime());
    send("{\"op\":\"hello\",\"d\":{\"heartbeatInterval\":" + s.heartbeatInterval().toMillis() + "}}");
    Duration tick = s.heartbeatTimeout().dividedBy(4);
    timers.startTimerWithFixedDelay(new Tick(), tick.compareTo(Duration.ofSeconds(5)) > 0
        ? Duration.ofSeconds(5) : tick);
  }

  @Override
  public Receive<Command> createReceive() {
    // One case for every command (not one per command type): a behaviour's receive is built per
    // instance, and a case per type cost every connection and session about 1 KiB (issue 16).
    return newReceiveBuilder()
        .onMessage(Command.class, this::onCommand)
        .onSignal(PostStop.class, signal -> {
          node.open().remove(getContext().getSelf());
          CloisterMetrics.GATEWAY_CONNECTIONS.decrement();
          CloisterMetrics.GATEWAY_OUTBOUND_BYTES.decrement(queuedBytes);
          return this;
        })
        .build();
  }

  private Behavior<Command> onCommand(Command c) {
    if (c instanceof Send m) {
      if (state != State.CLOSING) {
        ByteString data = m.utf8();
        enqueue(WebSocketFrames.text(data), data.size(), true);
      }
      return this;
    }
    if (c instanceof Written) {
      if (writing != null) {
        release(writing.size());
        writing = null;
      }
      pump();
      return this;
    }
    if (c instanceof FromClient m) {
      Behavior<Command> next = onInbound(m.inbound());
      m.ackTo().tell(Ack.INSTANCE);
      return next;
    }
    if (c instanceof StreamEnded) {
      return gone();
    }
    if (c instanceof StreamFailed) {
      return gone();
    }
    if (c instanceof Attached m) {
      out = m.out();
      pump();
      return this;
    }
    if (c instanceof Bound m) {
      if (state == State.CLOSING) {
        m.session().tell(new GatewaySession.Detach(getContext().getSelf()));
        return this;
      }
      state = State.LIVE;
      if (boundTo != null && !boundTo.equals(m.session())) {
        getContext().unwatch(boundTo);
      }
      boundTo = m.session();
      getContext().watchWith(boundTo, new SessionLost());
      return this;
    }
    if (c instanceof Kick m) {
      return close(m.code(), m.reason());
    }
    if (c instanceof InvalidSession) {
      if (state != State.CLOSING) {
        state = State.AWAITING_IDENTIFY;
        session = null;
        connectedNanos = System.nanoTime();
        send("{\"op\":\"invalid_session\"}");
      }
      return this;
    }
    if (c instanceof SessionMoving m) {
      if (state == State.CLOSING || session == null) {
        return this;
      }
      if (boundTo != null) {
        getContext().unwatch(boundTo);
        boundTo = null;
      }
      connectedNanos = System.nanoTime(); // a connection not yet live gets its full time
      session.tell(new GatewaySession.Resume(userId, m.seq(), getContext().getSelf(),
          m.silent()));
      return this;
    }
    if (c instanceof SessionLost) {
      if (state == State.LIVE) {
        send("{\"op\":\"invalid_session\"}");
        return close(CloseCode.SESSION_TIMED_OUT.code, "the session ended; identify again");
      }
      return this;
    }
    if (c instanceof Tick) {
      return onTick();
    }
    if (c instanceof Posted m) {
      return onPosted(m);
    }
    if (c instanceof MlsAnswered m) {
      if (state != State.CLOSING) {
        send(m.frame());
      }
      return this;
    }
    if (c instanceof TypingIn m) {
      if (state == State.LIVE && session != null) {
        session.tell(new GatewaySession.Typing(m.guildId(), m.channelId()));
      }
      return this;
    }
    if (c instanceof Finish) {
      return finish();
    }
    return Behaviors.unhandled();
  }

  // ---- inbound ----

  private Behavior<Command> onInbound(WebSocketFrames.Inbound in) {
    if (state == State.CLOSING) {
      return this;
    }
    if (in instanceof WebSocketFrames.Refused r) {
      return close(r.code(), r.reason());
    }
    if (in instanceof WebSocketFrames.PeerClosed) {
      return close(1000, "bye");
    }
    // Pings are frames too: a ping flood is rate limited like any other.
    if (!limit.take(System.nanoTime())) {
      CloisterMetrics.RATE_LIMIT_REFUSALS.withTag("limit", "gateway_frames").increment();
      return close(CloseCode.RATE_LIMITED.code, "too many frames; at most "
          + (long) node.settings().sessionBurst() + " in a burst");
    }
    if (in instanceof WebSocketFrames.Ping p) {
      enqueue(WebSocketFrames.pong(p.data()), p.data().size(), true);
      return this;
    }
    ClientOp op;
    try {
      op = ClientOp.parse(((WebSocketFrames.Text) in).text());
    } catch (ClientOp.Malformed e) {
      return close(CloseCode.DECODE_ERROR.code, e.getMessage());
    }
    if (op instanceof ClientOp.Heartbeat) {
      lastHeartbeatNanos = System.nanoTime();
      send("{\"op\":\"heartbeat_ack\"}");
      return this;
    }
    if (op instanceof ClientOp.Unknown) {
      return close(CloseCode.UNKNOWN_OP.code, "unknown op");
    }
    if (op instanceof ClientOp.Identify i) {
      return identify(i);
    }
    if (op instanceof ClientOp.Resume r) {
      return resume(r);
    }
    if (state != State.LIVE) {
      return close(CloseCode.NOT_AUTHENTICATED.code, "identify first");
    }
    if (op instanceof ClientOp.Typing t) {
      return typing(t.channelId());
    } else if (op instanceof ClientOp.Presence p) {
      session.tell(new GatewaySession.SetStatus(p.status()));
    } else if (op instanceof ClientOp.RequestPresences r) {
      session.tell(new GatewaySession.RequestPresences(r.guildId(), r.userIds(), r.nonce(),
          getContext().getSelf()));
    } else if (op instanceof ClientOp.Send m) {
      return sendMessage(m);
    } else if (op instanceof ClientOp.MlsCommit c) {
      return mlsAnswer(c.nonce(), "mls_commit_ack", new dev.cloister.node.http.GroupCommands(
          node.sharding(), node.api().askTimeout()).commit(userId, c.deviceId(), c.groupId(),
          c.commit(), c.welcome(), c.groupInfo()));
    } else if (op instanceof ClientOp.MlsReset r) {
      return mlsAnswer(r.nonce(), "mls_reset_ack", new dev.cloister.node.http.GroupCommands(
          node.sharding(), node.api().askTimeout()).reset(userId, r.deviceId(), r.groupId()));
    } else if (op instanceof ClientOp.VoiceStateUpdate v) {
      session.tell(new GatewaySession.VoiceUpdate(v.guildId(), v.channelId(), v.selfMute(),
          v.selfDeaf(), v.nonce(), getContext().getSelf()));
    } else if (op instanceof ClientOp.BadRequest b) {
      send(errorFrame(b.nonce(), ApiError.badRequest(b.message())));
    }
    return this;
  }

  private Behavior<Command> identify(ClientOp.Identify i) {
    if (state != State.AWAITING_IDENTIFY) {
      return close(CloseCode.ALREADY_AUTHENTICATED.code, "already identified");
    }
    Optional<SessionTokens.Session> who = node.tokens().verify(i.token());
    if (who.isEmpty()) {
      return close(CloseCode.AUTHENTICATION_FAILED.code, "the token is invalid or expired");
    }
    userId = who.get().userId();
    String sessionId = node.api().newId();
    session = node.sharding().entityRefFor(GatewaySession.ENTITY_KEY, sessionId);
    state = State.IDENTIFYING;
    session.tell(new GatewaySession.Identify(userId, i.deviceId(), getContext().getSelf()));
    return this;
  }

  private Behavior<Command> resume(ClientOp.Resume r) {
    if (state != State.AWAITING_IDENTIFY) {
      return close(CloseCode.ALREADY_AUTHENTICATED.code, "already identified");
    }
    Optional<SessionTokens.Session> who = node.tokens().verify(r.token());
    if (who.isEmpty()) {
      return close(CloseCode.AUTHENTICATION_FAILED.code, "the token is invalid or expired");
    }
    userId = who.get().userId();
    session = node.sharding().entityRefFor(GatewaySession.ENTITY_KEY, r.sessionId());
    state = State.IDENTIFYING;
    session.tell(new GatewaySession.Resume(userId, r.seq(), getContext().getSelf(), false));
    return this;
  }

  private Behavior<Command> typing(String channelId) {
    getContext().pipeToSelf(node.api().guildOfChannel(channelId),
        (guildId, failure) -> failure == null ? new TypingIn(guildId, channelId) : new TypingIn(null, null));
    return this;
  }

  private Behavior<Command> sendMessage(ClientOp.Send m) {
    String nonce = m.nonce();
    getContext().pipeToSelf(node.api().post(userId, m.channelId(), m.ciphertext()),
        (posted, failure) -> {
          if (failure == null) {
            return new Posted(nonce, posted, null);
          }
          ApiError e = ApiError.of(failure);
          if (e == null) {
            getContext().getLog().error("Posting over the gateway failed", failure);
            e = new ApiError(500, "internal", "an internal error occurred; it has been logged");
          }
          return new Posted(nonce, null, errorFrame(nonce, e));
        });
    return this;
  }

  /**
   * The answer to an {@code mls_*} op ({@code mls_commit}: the rules of
   * {@code POST /api/v1/groups/{id}/commits}), or an error frame.
   */
  private Behavior<Command> mlsAnswer(String nonce, String op,
      java.util.concurrent.CompletionStage<dev.cloister.guild.group.EncryptionGroup.Status> call) {
    getContext().pipeToSelf(call, (status, failure) -> {
      if (failure == null) {
        ObjectNode ack = Gateway.JSON.createObjectNode().put("nonce", nonce)
            .put("groupId", status.groupId()).put("epoch", status.epoch())
            .put("seq", status.seq());
        return new MlsAnswered("{\"op\":\"" + op + "\",\"d\":" + Gateway.json(ack) + "}");
      }
      ApiError e = ApiError.of(failure);
      if (e == null) {
        getContext().getLog().error("An MLS op over the gateway failed", failure);
        e = new ApiError(500, "internal", "an internal error occurred; it has been logged");
      }
      return new MlsAnswered(errorFrame(nonce, e));
    });
    return this;
  }

  private Behavior<Command> onPosted(Posted p) {
    if (state == State.CLOSING) {
      return this;
    }
    if (p.error() != null) {
      send(p.error());
      return this;
    }
    TextChannel.Message m = p.message();
    ObjectNode d = Gateway.JSON.createObjectNode();
    d.put("nonce", p.nonce());
    d.set("message", Views.message(m.id(), m.channelId(), m.authorId(), m.ciphertext(),
        m.createdAtMillis(), 0, false));
    send("{\"op\":\"send_ack\",\"d\":" + Gateway.json(d) + "}");
    return this;
  }

  static String errorFrame(String nonce, ApiError e) {
    ObjectNode d = Gateway.JSON.createObjectNode().put("nonce", nonce).put("status", e.status)
        .put("code", e.code).put("message", e.getMessage());
    return "{\"op\":\"error\",\"d\":" + Gateway.json(d) + "}";
  }

  // ---- time ----

  private Behavior<Command> onTick() {
    if (state == State.CLOSING) {
      return this;
    }
    long now = System.nanoTime();
    GatewaySettings s = node.settings();
    if (state != State.LIVE && now - connectedNanos > s.identifyTimeout().toNanos()) {
      return close(CloseCode.SESSION_TIMED_OUT.code, "no identify in time");
    }
    if (now - lastHeartbeatNanos > s.heartbeatTimeout().toNanos()) {
      return close(CloseCode.SESSION_TIMED_OUT.code, "heartbeats missed");
    }
    return this;
  }

  // ---- ending ----

  private void send(String frame) {
    ByteString data = ByteString.fromString(frame);
    enqueue(WebSocketFrames.text(data), data.size(), true);
  }

  /**
   * Queues a frame for the client. A budgeted frame that would take the queue past
   * {@code outbound-buffer} frames or {@code outbound-max-bytes} closes the connection instead
   * (4012): the client reads too slowly, and its session keeps what its replay buffer holds. A
   * frame into an empty queue always goes, however large.
   */
  private void enqueue(FrameEvent frame, long size, boolean budgeted) {
    GatewaySettings s = node.settings();
    if (budgeted && !queue.isEmpty()
        && (queuedBytes + size > s.outboundMaxBytes() || queue.size() >= s.outboundBuffer())) {
      tooSlow();
      return;
    }
    queue.addLast(new Queued(frame, size));
    queuedBytes += size;
    CloisterMetrics.GATEWAY_OUTBOUND_BYTES.increment(size);
    pump();
  }

  /** Hands the next frame to the outbound stream once it took the previous one. */
  private void pump() {
    if (out == null || writing != null || queue.isEmpty()) {
      return;
    }
    writing = queue.peekFirst();
    queue.removeFirst();
    out.tell(writing.frame());
  }

  private void release(long size) {
    queuedBytes -= size;
    CloisterMetrics.GATEWAY_OUTBOUND_BYTES.decrement(size);
  }

  /** Drops what waits (the session can replay it) and says why, should the client still read. */
  private void tooSlow() {
    CloisterMetrics.GATEWAY_SLOW_CLOSES.increment();
    long waiting = queuedBytes;
    int frames = queue.size() + (writing == null ? 0 : 1);
    while (!queue.isEmpty()) {
      release(queue.removeFirst().size());
    }
    getContext().getLog().debug("Gateway client too slow: {} frames, {} bytes waiting", frames,
        waiting);
    close(CloseCode.TOO_SLOW.code, "reading too slowly: " + frames + " frames, " + waiting
        + " bytes waiting; resume");
  }

  private Behavior<Command> close(int code, String reason) {
    if (state == State.CLOSING) {
      return this;
    }
    FrameEvent closeFrame = WebSocketFrames.close(code, reason);
    enqueue(closeFrame, 2 + Math.min(reason.length(), 100), false);
    detach();
    state = State.CLOSING;
    // Give the close frame a moment to leave before the stream completes.
    timers.startSingleTimer(new Finish(), FINISH_GRACE);
    return this;
  }

  private void detach() {
    if (session != null) {
      session.tell(new GatewaySession.Detach(getContext().getSelf()));
      session = null;
    }
  }

  private Behavior<Command> gone() {
    if (state == State.CLOSING) {
      return this; // Finish follows
    }
    detach();
    return finish();
  }

  /**
   * Ends the outbound stream: completes it if every frame has been taken, else cuts the
   * connection (a client that does not read would otherwise hold it and its frames).
   */
  private Behavior<Command> finish() {
    if (out != null) {
      out.tell(queue.isEmpty() && writing == null ? COMPLETE : ABORT);
    }
    return Behaviors.stopped();
  }
}
