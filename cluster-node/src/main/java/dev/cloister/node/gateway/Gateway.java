package dev.cloister.node.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cloister.guild.GuildFeed;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * The gateway's part of one node: a {@link GuildReplica} per guild that has sessions on this node,
 * and the sessions on this node by user, so that a user who joins a guild anywhere starts hearing
 * it here. Sessions talk to it only on their own node.
 */
public final class Gateway extends AbstractBehavior<Gateway.Command> {

  static final ObjectMapper JSON = new ObjectMapper();

  static String json(JsonNode node) {
    try {
      return JSON.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The JSON of {@code node} in UTF-8: a dispatch's payload, encoded once for all its sessions. */
  static byte[] encoded(JsonNode node) {
    try {
      return JSON.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  public sealed interface Command {}

  /** A session wants the guild's snapshot now and its events from now on. */
  record Watch(String guildId, String userId, ActorRef<GatewaySession.Command> session)
      implements Command {}

  record SessionStarted(String userId, ActorRef<GatewaySession.Command> session) implements Command {}

  record ReplicaIdle(String guildId, ActorRef<GuildReplica.Command> replica, long registrations)
      implements Command {}

  private record SessionStopped(String userId, ActorRef<GatewaySession.Command> session)
      implements Command {}

  private record Joined(GuildFeed.MemberAdded added) implements Command {}

  private record ReplicaStopped(String guildId, ActorRef<GuildReplica.Command> replica)
      implements Command {}

  /** A node left the cluster, gracefully or downed: the presence it announced is void. */
  private record NodeRemoved(org.apache.pekko.cluster.ClusterEvent.MemberRemoved removed)
      implements Command {}

  public static Behavior<Command> create(GuildFeed feed, ClusterSharding sharding,
      GatewaySettings settings) {
    return Behaviors.setup(ctx -> new Gateway(ctx, feed, sharding, settings));
  }

  private final GuildFeed feed;
  private final ClusterSharding sharding;
  private final GatewaySettings settings;
  private final Map<String, ActorRef<GuildReplica.Command>> replicas = new HashMap<>();
  private final Map<String, Long> registrationsSent = new HashMap<>();
  private final Map<String, Set<ActorRef<GatewaySession.Command>>> sessionsByUser = new HashMap<>();

  private Gateway(ActorContext<Command> ctx, GuildFeed feed, ClusterSharding sharding,
      GatewaySettings settings) {
    super(ctx);
    this.feed = feed;
    this.sharding = sharding;
    this.settings = settings;
    feed.memberships().tell(Topic.subscribe(ctx.messageAdapter(GuildFeed.MemberAdded.class, Joined::new)));
    org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).subscriptions().tell(
        org.apache.pekko.cluster.typed.Subscribe.create(ctx.messageAdapter(
            org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class, NodeRemoved::new),
            org.apache.pekko.cluster.ClusterEvent.MemberRemoved.class));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Watch.class, this::onWatch)
        .onMessage(SessionStarted.class, m -> {
          if (sessionsByUser.computeIfAbsent(m.userId(), u -> new LinkedHashSet<>()).add(m.session())) {
            getContext().watchWith(m.session(), new SessionStopped(m.userId(), m.session()));
          }
          return this;
        })
        .onMessage(SessionStopped.class, m -> {
          Set<ActorRef<GatewaySession.Command>> s = sessionsByUser.get(m.userId());
          if (s != null && s.remove(m.session()) && s.isEmpty()) {
            sessionsByUser.remove(m.userId());
          }
          return this;
        })
        .onMessage(Joined.class, m -> {
          Set<ActorRef<GatewaySession.Command>> s = sessionsByUser.get(m.added().userId());
          if (s != null) {
            s.forEach(session -> session.tell(new GatewaySession.GuildAdded(m.added().guildId())));
          }
          return this;
        })
        .onMessage(ReplicaIdle.class, m -> {
          // Stop it only if every registration sent to it has arrived (none is in flight).
          if (replicas.get(m.guildId()) == m.replica()
              && registrationsSent.getOrDefault(m.guildId(), 0L) == m.registrations()) {
            replicas.remove(m.guildId());
            registrationsSent.remove(m.guildId());
            m.replica().tell(new GuildReplica.Stop());
          }
          return this;
        })
        .onMessage(NodeRemoved.class, m -> {
          String node = m.removed().member().address().toString();
          replicas.values().forEach(r -> r.tell(new GuildReplica.NodeGone(node)));
          return this;
        })
        .onMessage(ReplicaStopped.class, m -> {
          if (replicas.get(m.guildId()) == m.replica()) {
            replicas.remove(m.guildId());
            registrationsSent.remove(m.guildId());
          }
          return this;
        })
        .build();
  }

  private Behavior<Command> onWatch(Watch w) {
    ActorRef<GuildReplica.Command> replica = replicas.get(w.guildId());
    if (replica == null) {
      replica = getContext().spawnAnonymous(
          GuildReplica.create(w.guildId(), feed, sharding, settings, getContext().getSelf()));
      getContext().watchWith(replica, new ReplicaStopped(w.guildId(), replica));
      replicas.put(w.guildId(), replica);
    }
    registrationsSent.merge(w.guildId(), 1L, Long::sum);
    replica.tell(new GuildReplica.Register(w.userId(), w.session()));
    return this;
  }
}
