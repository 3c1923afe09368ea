package dev.cloister.node.gateway;

import dev.cloister.node.auth.SessionTokens;
import dev.cloister.node.http.ApiContext;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.UpgradeToWebSocketLowLevel;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.stream.javadsl.Flow;
import scala.Option;

/** {@code GET /gateway}: the WebSocket upgrade, one {@link GatewayConnection} per connection. */
public final class GatewayRoute {

  private final ActorSystem<?> system;
  private final GatewayConnection.Context node;
  private final AtomicLong connections = new AtomicLong();

  public GatewayRoute(ActorSystem<?> system, ClusterSharding sharding, ApiContext api,
      SessionTokens tokens, GatewaySettings settings) {
    this.system = system;
    this.node = new GatewayConnection.Context(sharding, api, tokens, settings,
        java.util.concurrent.ConcurrentHashMap.newKeySet());
    // One task for all connections: a task per connection made every connect and close cost time
    // in proportion to the connections open (CoordinatedShutdown keeps a phase's tasks in an
    // immutable set it copies on each change: 30 % of the node's CPU while 5,000 sessions opened,
    // by a JFR profile, issue 16).
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceRequestsDone(),
        "gateway-close-connections", () -> {
          for (ActorRef<GatewayConnection.Command> c : node.open()) {
            c.tell(new GatewayConnection.Kick(CloseCode.SERVICE_RESTART.code,
                "the node is stopping; resume on another"));
          }
          return CompletableFuture.completedFuture(Done.getInstance());
        });
  }

  /** Answers the upgrade; {@code ApiRoutes} has already applied the per-IP connection limit. */
  public HttpResponse accept(WebSocketUpgrade upgrade) {
    ActorRef<GatewayConnection.Command> connection = system.systemActorOf(
        GatewayConnection.create(node),
        "gateway-connection-" + connections.incrementAndGet(), Props.empty());
    // One stage between the connection's frames and the connection actor (see ConnectionStage).
    Flow<FrameEvent, FrameEvent, NotUsed> handler =
        Flow.fromGraph(new ConnectionStage(connection, node.settings().maxFrameBytes()));
    @SuppressWarnings({"unchecked", "rawtypes"})
    org.apache.pekko.http.scaladsl.model.HttpResponse response =
        ((UpgradeToWebSocketLowLevel) upgrade).handleFrames((org.apache.pekko.stream.Graph) handler,
            Option.empty());
    return response;
  }
}
