package dev.cloister.node.gateway;

import dev.cloister.node.auth.SessionTokens;
import dev.cloister.node.http.ApiContext;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.CompletionStrategy;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;
import org.apache.pekko.stream.typed.javadsl.ActorSource;
import scala.Option;

/** {@code GET /gateway}: the WebSocket upgrade, one {@link GatewayConnection} per connection. */
public final class GatewayRoute {

  private final ActorSystem<?> system;
  private final Materializer materializer;
  private final GatewayConnection.Context node;
  private final AtomicLong connections = new AtomicLong();

  public GatewayRoute(ActorSystem<?> system, ClusterSharding sharding, ApiContext api,
      SessionTokens tokens, GatewaySettings settings) {
    this.system = system;
    this.materializer = Materializer.matFromSystem(system);
    this.node = new GatewayConnection.Context(sharding, api, tokens, settings);
  }

  /** Answers the upgrade; {@code ApiRoutes} has already applied the per-IP connection limit. */
  public HttpResponse accept(WebSocketUpgrade upgrade) {
    ActorRef<GatewayConnection.Command> connection = system.systemActorOf(
        GatewayConnection.create(node),
        "gateway-connection-" + connections.incrementAndGet(), Props.empty());
    // One frame at a time, each acknowledged once the stream took it: the frames still waiting
    // stay in the connection, which counts them in bytes (outbound-max-bytes).
    Pair<ActorRef<FrameEvent>, Source<FrameEvent, NotUsed>> out =
        ActorSource.<FrameEvent, GatewayConnection.Written>actorRefWithBackpressure(
                connection.narrow(), GatewayConnection.WRITTEN,
                f -> f == GatewayConnection.COMPLETE
                    ? Optional.of(CompletionStrategy.draining()) : Optional.empty(),
                f -> f == GatewayConnection.ABORT
                    ? Optional.of(new GatewayConnection.NotWritten()) : Optional.empty())
            .preMaterialize(materializer);
    connection.tell(new GatewayConnection.Attached(out.first()));
    Sink<FrameEvent, NotUsed> in = WebSocketFrames.decoder(node.settings().maxFrameBytes())
        .to(ActorSink.<WebSocketFrames.Inbound, GatewayConnection.Command, GatewayConnection.Ack>
            actorRefWithBackpressure(connection,
                GatewayConnection.FromClient::new,
                GatewayConnection.StreamStarted::new,
                GatewayConnection.Ack.INSTANCE,
                new GatewayConnection.StreamEnded(),
                t -> new GatewayConnection.StreamFailed(String.valueOf(t))));
    // Not coupled: after a refused frame the inbound side ends, and the close frame still has to
    // go out; the connection actor completes the outbound side itself.
    Flow<FrameEvent, FrameEvent, NotUsed> handler = Flow.fromSinkAndSource(in, out.second());
    @SuppressWarnings({"unchecked", "rawtypes"})
    org.apache.pekko.http.scaladsl.model.HttpResponse response =
        ((UpgradeToWebSocketLowLevel) upgrade).handleFrames((org.apache.pekko.stream.Graph) handler,
            Option.empty());
    return response;
  }
}
