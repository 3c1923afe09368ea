package dev.cloister.node.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import dev.cloister.guild.user.User;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * A session outlives its connection only for the resume window, also when the connection's node
 * dies without a word (no Detach ever arrives): the session watches its connection.
 */
class SessionConnectionWatchTest {

  private static final ActorTestKit KIT = ActorTestKit.create(ConfigFactory.parseString(
          "pekko.actor.provider = cluster\n"
              + "pekko.remote.artery.canonical.hostname = 127.0.0.1\n"
              + "pekko.remote.artery.canonical.port = 0\n"
              + "pekko.cluster.seed-nodes = []\n"
              + "pekko.cluster.jmx.multi-mbeans-in-same-jvm = on\n"
              + "pekko.actor.testkit.typed.system-shutdown-default = 30s\n"
              + "pekko.actor.testkit.typed.throw-on-shutdown-timeout = off\n")
      .withFallback(PersistenceTestKitPlugin.getInstance().config())
      .withFallback(PersistenceTestKitSnapshotPlugin.getInstance().config())
      .withFallback(ConfigFactory.load()));

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  @Test
  void aConnectionThatDiesSilentlyDetachesItsSessionWhichThenExpires() {
    Cluster cluster = Cluster.get(KIT.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (cluster.selfMember().status() != MemberStatus.up() && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertThat(cluster.selfMember().status()).isEqualTo(MemberStatus.up());
    ClusterSharding sharding = ClusterSharding.get(KIT.system());
    User.init(KIT.system());
    TestProbe<StatusReply<User.Profile>> created = KIT.createTestProbe();
    sharding.entityRefFor(User.ENTITY_KEY, "42").tell(new User.Create("alice", created.ref()));
    assertThat(created.receiveMessage(Duration.ofSeconds(10)).isSuccess()).isTrue();

    TestProbe<Gateway.Command> gateway = KIT.createTestProbe();
    TestProbe<GatewayConnection.Command> connection = KIT.createTestProbe();
    Duration resumeWindow = Duration.ofMillis(300);
    GatewaySettings settings = new GatewaySettings(Duration.ofSeconds(40), Duration.ofSeconds(60),
        Duration.ofSeconds(10), 16_384, 256, 1 << 20, 1_000, 1 << 20, resumeWindow, 10, 5,
        Duration.ofMillis(50),
        Duration.ofSeconds(5));
    ActorRef<GatewaySession.Command> session =
        KIT.spawn(GatewaySession.create("s-1", gateway.ref(), sharding, settings,
            new dev.cloister.node.voice.VoiceService.Settings(Duration.ofSeconds(30),
                Duration.ofSeconds(15))));
    session.tell(new GatewaySession.Identify("42", "d1", connection.ref()));
    gateway.expectMessageClass(Gateway.SessionStarted.class, Duration.ofSeconds(10));
    connection.expectMessageClass(GatewayConnection.Bound.class, Duration.ofSeconds(10));
    GatewayConnection.Send ready =
        connection.expectMessageClass(GatewayConnection.Send.class, Duration.ofSeconds(10));
    assertThat(ready.text()).contains("ready");

    // The connection's actor is gone (as when its node is killed): no Detach is ever sent.
    connection.stop();
    TestProbe<Object> watcher = KIT.createTestProbe();
    watcher.expectTerminated(session, resumeWindow.plus(Duration.ofSeconds(5)));
  }
}
