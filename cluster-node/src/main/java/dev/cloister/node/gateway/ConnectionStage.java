package dev.cloister.node.gateway;

import java.util.ArrayDeque;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import scala.Tuple2;
import scala.runtime.BoxedUnit;

/**
 * The WebSocket's frames to and from one {@link GatewayConnection}, as a single stage inside the
 * HTTP connection's own stream.
 *
 * <p>Pekko's {@code ActorSource} and {@code ActorSink} do this job too; they were used until the
 * memory profile of 10,000 idle sessions (issue 16) showed what they cost per connection: the
 * outbound source had to be materialized ahead, in a stream (and actor) of its own bridged to the
 * connection's, and the inbound side was three more stages. This stage keeps the same contract
 * with the connection actor, and the same backpressure on both sides:
 *
 * <ul>
 *   <li>client to connection: each decoded {@link WebSocketFrames.Inbound} goes as
 *       {@link GatewayConnection.FromClient}; the next frame is read once the connection answered
 *       {@link GatewayConnection.Ack}. After a refused frame or the client's close frame nothing
 *       more is read; when the client's side ends, {@link GatewayConnection.StreamEnded} (or
 *       {@link GatewayConnection.StreamFailed}).
 *   <li>connection to client: the connection hands one frame at a time to the stage's actor and
 *       gets {@link GatewayConnection#WRITTEN} once the stream took it;
 *       {@link GatewayConnection#COMPLETE} ends the stream, {@link GatewayConnection#ABORT} fails
 *       it ({@link GatewayConnection.NotWritten}).
 * </ul>
 *
 * <p>The two directions are not coupled: after a refused frame the inbound side ends while the
 * close frame still has to go out. When the stage stops for any reason before the connection was
 * told, it tells it {@code StreamEnded}.
 */
final class ConnectionStage extends GraphStage<FlowShape<FrameEvent, FrameEvent>> {

  private final Inlet<FrameEvent> in = Inlet.create("ConnectionStage.in");
  private final Outlet<FrameEvent> out = Outlet.create("ConnectionStage.out");
  private final FlowShape<FrameEvent, FrameEvent> shape = FlowShape.of(in, out);
  private final ActorRef<GatewayConnection.Command> connection;
  private final int maxMessageBytes;

  ConnectionStage(ActorRef<GatewayConnection.Command> connection, int maxMessageBytes) {
    this.connection = connection;
    this.maxMessageBytes = maxMessageBytes;
  }

  @Override
  public FlowShape<FrameEvent, FrameEvent> shape() {
    return shape;
  }

  @Override
  public GraphStageLogic createLogic(Attributes attributes) {
    return new Logic();
  }

  private final class Logic extends GraphStageLogic {
    private final WebSocketFrames.Decoder decoder = new WebSocketFrames.Decoder(maxMessageBytes);
    // Decoded but not yet handed over (the connection takes one at a time): rarely more than one.
    private ArrayDeque<WebSocketFrames.Inbound> decoded;
    private boolean awaitingAck;
    private boolean inboundDone;
    private boolean toldEnded;
    // A frame from the connection that arrived before the client's side asked for one.
    private FrameEvent waiting;
    private ActorRef<GatewayConnection.Ack> self;

    Logic() {
      super(shape);
      setHandler(in, new AbstractInHandler() {
        @Override
        public void onPush() {
          List<WebSocketFrames.Inbound> frames = decoder.accept(grab(in));
          for (WebSocketFrames.Inbound i : frames) {
            if (decoded == null) {
              decoded = new ArrayDeque<>(2);
            }
            decoded.addLast(i);
            if (i instanceof WebSocketFrames.Refused || i instanceof WebSocketFrames.PeerClosed) {
              // Nothing after this is read (as the decoder would ignore it anyway).
              inboundDone = true;
              cancel(in);
              break;
            }
          }
          handOver();
        }

        @Override
        public void onUpstreamFinish() {
          inboundDone = true;
          handOver();
        }

        @Override
        public void onUpstreamFailure(Throwable ex) {
          inboundDone = true;
          tellEnded(new GatewayConnection.StreamFailed(String.valueOf(ex)));
        }
      });
      setHandler(out, new AbstractOutHandler() {
        @Override
        public void onPull() {
          if (waiting != null) {
            FrameEvent f = waiting;
            waiting = null;
            push(out, f);
            connection.tell(GatewayConnection.WRITTEN);
          }
        }

        @Override
        public void onDownstreamFinish(Throwable cause) {
          // The client's side is gone: so is the connection.
          completeStage();
        }
      });
    }

    @Override
    public void preStart() {
      org.apache.pekko.actor.ActorRef ref = getStageActor(this::onMessage).ref();
      self = Adapter.toTyped(ref);
      connection.tell(new GatewayConnection.Attached(Adapter.toTyped(ref)));
      pull(in);
    }

    private BoxedUnit onMessage(Tuple2<org.apache.pekko.actor.ActorRef, Object> message) {
      Object m = message._2();
      if (m == GatewayConnection.Ack.INSTANCE) {
        awaitingAck = false;
        handOver();
      } else if (m == GatewayConnection.COMPLETE) {
        toldEnded = true; // the connection ended this stream, and stops: nothing to tell it
        completeStage();
      } else if (m == GatewayConnection.ABORT) {
        toldEnded = true;
        failStage(new GatewayConnection.NotWritten());
      } else if (m instanceof FrameEvent f && !isClosed(out)) {
        if (isAvailable(out)) {
          push(out, f);
          connection.tell(GatewayConnection.WRITTEN);
        } else {
          waiting = f;
        }
      }
      return BoxedUnit.UNIT;
    }

    /** Hands the next decoded frame to the connection, or reads on, or says the side ended. */
    private void handOver() {
      if (awaitingAck) {
        return;
      }
      if (decoded != null && !decoded.isEmpty()) {
        awaitingAck = true;
        connection.tell(new GatewayConnection.FromClient(self, decoded.removeFirst()));
      } else if (inboundDone) {
        tellEnded(new GatewayConnection.StreamEnded());
      } else if (!hasBeenPulled(in) && !isClosed(in)) {
        pull(in);
      }
    }

    private void tellEnded(GatewayConnection.Command ended) {
      if (!toldEnded) {
        toldEnded = true;
        connection.tell(ended);
      }
    }

    @Override
    public void postStop() {
      tellEnded(new GatewayConnection.StreamEnded());
    }
  }
}
