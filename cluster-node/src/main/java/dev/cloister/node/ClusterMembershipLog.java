package dev.cloister.node;

import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One log line per change in the cluster's membership (Pekko's own cluster logging is at WARN:
 * at INFO it says too much, some of it misleading, such as "manual cluster join required" on a
 * node that joins itself a moment later).
 */
final class ClusterMembershipLog {

  private static final Logger log = LoggerFactory.getLogger("dev.cloister.node.Cluster");

  static Behavior<ClusterEvent.MemberEvent> create() {
    return Behaviors.setup(context -> {
      Cluster cluster = Cluster.get(context.getSystem());
      Address self = cluster.selfMember().address();
      cluster.subscriptions().tell(
          Subscribe.create(context.getSelf(), ClusterEvent.MemberEvent.class));
      return Behaviors.receiveMessage(event -> {
        if (event.member().address().equals(self)) {
          return Behaviors.same(); // the node logs its own start and stop
        }
        if (event instanceof ClusterEvent.MemberUp up) {
          log.info("Cluster member up: {}", up.member().address());
        } else if (event instanceof ClusterEvent.MemberRemoved removed) {
          log.info("Cluster member removed: {} (was {})", removed.member().address(),
              removed.previousStatus());
        }
        return Behaviors.same();
      });
    });
  }

  private ClusterMembershipLog() {}
}
