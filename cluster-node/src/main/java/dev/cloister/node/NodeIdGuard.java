package dev.cloister.node;

import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every node of a cluster needs its own {@code cloister.node-id}: it is part of every id the node
 * makes (message ids, among others), so two nodes with one id would hand out the same ids. Each
 * node carries its id as a cluster role ({@code node-id-<n>}). A node that finds its id on another
 * member when it comes up refuses to start; and when two come up together with the same id, the
 * younger of them stops.
 */
final class NodeIdGuard {

  private static final Logger log = LoggerFactory.getLogger(NodeIdGuard.class);

  private NodeIdGuard() {}

  static String role(int nodeId) {
    return "node-id-" + nodeId;
  }

  /** The cluster roles of a node: those configured, and its id's. */
  static List<String> roles(List<String> configured, int nodeId) {
    List<String> roles = new ArrayList<>(configured);
    roles.removeIf(r -> r.startsWith("node-id-"));
    roles.add(role(nodeId));
    return roles;
  }

  /** Throws when another member of the cluster has this node's id (call once this node is up). */
  static void checkUnique(Cluster cluster, int nodeId) {
    Member self = cluster.selfMember();
    for (Member m : cluster.state().getMembers()) {
      if (sameIdElsewhere(m, self, nodeId)) {
        throw new IllegalStateException(message(nodeId, m));
      }
    }
  }

  /** Watches for a member that comes up with this node's id; the younger of the two stops. */
  static Behavior<ClusterEvent.MemberUp> create(int nodeId) {
    return Behaviors.setup(ctx -> {
      Cluster cluster = Cluster.get(ctx.getSystem());
      cluster.subscriptions().tell(Subscribe.create(ctx.getSelf(), ClusterEvent.MemberUp.class));
      return Behaviors.receiveMessage(up -> {
        Member self = cluster.selfMember();
        if (sameIdElsewhere(up.member(), self, nodeId) && up.member().isOlderThan(self)) {
          log.error("{}; this node stops", message(nodeId, up.member()));
          CoordinatedShutdown.get(ctx.getSystem()).runAll(DuplicateNodeId.INSTANCE);
        }
        return Behaviors.same();
      });
    });
  }

  private static boolean sameIdElsewhere(Member m, Member self, int nodeId) {
    MemberStatus s = m.status();
    boolean live = s != MemberStatus.down() && s != MemberStatus.removed()
        && s != MemberStatus.exiting();
    return live && !m.address().equals(self.address()) && m.hasRole(role(nodeId));
  }

  private static String message(int nodeId, Member other) {
    return "cloister.node-id " + nodeId + " (CLOISTER_NODE_ID) is already the id of cluster member "
        + other.address() + ": every node needs its own, or they would make the same message "
        + "ids. Give this node a node id no other node has (0.." + dev.cloister.guild.Snowflake
        .MAX_NODE_ID + ")";
  }

  /** Why the node shut down. */
  static final class DuplicateNodeId implements CoordinatedShutdown.Reason {
    static final DuplicateNodeId INSTANCE = new DuplicateNodeId();

    @Override
    public String toString() {
      return "DuplicateNodeId";
    }
  }
}
