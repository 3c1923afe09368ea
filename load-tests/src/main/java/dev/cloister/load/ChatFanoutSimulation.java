package dev.cloister.load;

import static io.gatling.javaapi.core.CoreDsl.csv;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.during;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.pace;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * chat-fanout: a guild of {@code load.users} members, every device in the guild's MLS group, all
 * online; once all are ready, {@code load.posters} of them post MLS-encrypted messages to one
 * channel over the gateway, {@code load.rate} messages a second together, for
 * {@code load.duration}. Every member records each message's send-to-delivery time when its
 * MESSAGE_CREATE arrives (the sender's clock: one JVM), {@code load.decrypting} of them also
 * decrypt every message with the SDK and record send-to-decrypted; after the last post every
 * member records each acknowledged message it never got as a failed send-to-delivery: messages
 * lost, which must be 0.
 */
public class ChatFanoutSimulation extends CloisterSimulation {

  /**
   * p99 limits, ms: what this shared 2-core machine gave at 500 members (2.25 s and 2.69 s,
   * README "Load tests") with a third to a half more; a node that keeps up stays well below.
   */
  static final int SEND_TO_ACK_P99_MS = 3_000;
  static final int SEND_TO_DELIVERY_P99_MS = 4_000;

  private final AtomicInteger postersDone = new AtomicInteger();

  public ChatFanoutSimulation() {
    super("chat-fanout", LoadSettings.fromSystemProperties().users(), 0, true);
    int users = settings.users();
    int posters = settings.posters();
    Duration interval = Duration.ofMillis(Math.max(1, Math.round(1000.0 * posters / settings.rate())));
    String channel = population.channelId();
    Duration allOnline = settings.ramp().plus(READY_WAIT);

    ScenarioBuilder fanout = scenario("chat-fanout")
        .feed(csv(population.members().toString()).queue())
        .exec(login(index -> index < settings.decrypting()))
        .exec(connect())
        .exec(waitUntil(() -> ledger.onlineCount() >= users, allOnline))
        .doIfOrElse(s -> s.getInt("index") < posters).then(
            during(settings.duration()).on(pace(interval).exec(
                ClientCall.untimed("post", recorder, pool, s -> {
                  loggedIn(s).post(channel);
                  return s;
                })))
            .exec(s -> {
              postersDone.incrementAndGet();
              return s;
            }))
        .orElse(exec(s -> s))
        .exec(waitUntil(() -> postersDone.get() >= posters,
            settings.duration().plus(Duration.ofSeconds(60))))
        .exec(pauseFor(GRACE))
        .exec(recordLost())
        .exec(close());

    setUp(fanout.injectOpen(rampUsers(users).during(settings.ramp())))
        .assertions(withLatencyLimits(java.util.List.of(
            global().failedRequests().count().is(0L),
            details("send-to-delivery").failedRequests().count().is(0L),
            details("send-to-decrypted").failedRequests().count().is(0L)),
            details("send-to-ack").responseTime().percentile(99.0).lt(SEND_TO_ACK_P99_MS),
            details("send-to-delivery").responseTime().percentile(99.0)
                .lt(SEND_TO_DELIVERY_P99_MS)));
  }
}
