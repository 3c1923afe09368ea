package dev.cloister.load;

import static io.gatling.javaapi.core.CoreDsl.csv;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.doIfOrElse;
import static io.gatling.javaapi.core.CoreDsl.during;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.nothingFor;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.percent;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.randomSwitch;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import dev.cloister.client.chat.Chat;
import io.gatling.javaapi.core.Assertion;
import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.ScenarioBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * mixed: a community's day, compressed. {@code load.users} members of one guild (all in its MLS
 * group) come online over {@code load.ramp}; for {@code load.duration} each acts every
 * {@code load.think} or so (uniformly between half and one and a half of it): a post (20 %),
 * typing (50 %) or a presence change (30 %). Meanwhile {@code load.joins} newcomers arrive: log
 * in, use the guild's invite and wait until their device is in the channel's group (the roster
 * driver proposes the Add, a member's next sync commits it or the newcomer joins by external
 * commit), then post. Every member online from the start records the delivery of every message
 * (newcomers' included) and the ones it lost.
 *
 * <p>Voice, beside the chat: of the members, {@code load.voice} use the guild's voice channel. The
 * first (the host) joins once everyone is online and stays, sending a tone, until the others are
 * done; each of the others, while it goes on chatting, joins the call every so often (after a
 * pause of about {@code load.think}), speaks with a tone of its own for three of its chat actions,
 * and leaves. Each such join is a "join-to-first-audio" (it hears the host at least); every
 * participant records the audio it missed each second, and is checked as it leaves ("frames
 * checked": no undecryptable frame once it had settled, though others came and went).
 */
public class MixedSimulation extends CloisterSimulation {

  /**
   * Limits, ms, from two runs of 100 members and 10 newcomers here (README, "Load tests"):
   * send-to-delivery p99 0.57 s and 1.1 s, join-to-member p99 5.6 s and 13.2 s; rounded up.
   */
  static final int SEND_TO_DELIVERY_P99_MS = 3_000;
  static final int JOIN_P99_MS = 20_000;
  static final Duration JOIN_WAIT = Duration.ofSeconds(60);
  /** A voice member's chat actions during one stay in the call. */
  static final int ACTIONS_PER_CALL = 3;
  static final double HOST_TONE_HZ = 220;

  private final AtomicInteger finished = new AtomicInteger();
  private final AtomicInteger callersDone = new AtomicInteger();
  private final AtomicBoolean hostTried = new AtomicBoolean();

  public MixedSimulation() {
    super("mixed", LoadSettings.fromSystemProperties().users(),
        LoadSettings.fromSystemProperties().joins(), true,
        LoadSettings.fromSystemProperties().voice() > 0);
    int users = settings.users();
    int joins = settings.joins();
    int voice = settings.voice();
    String channel = population.channelId();
    String invite = population.inviteCode();
    long thinkMs = settings.think().toMillis();
    Duration allOnline = settings.ramp().plus(READY_WAIT);
    Duration voiceDone = settings.duration().plus(Participant.JOIN_WAIT)
        .plus(settings.think().multipliedBy(2L * (ACTIONS_PER_CALL + 2)));

    ScenarioBuilder members = scenario("mixed: members")
        .feed(csv(population.members().toString()).queue())
        .exec(login(index -> index < settings.decrypting()))
        .exec(connect())
        .exec(waitUntil(() -> ledger.onlineCount() >= users, allOnline))
        .doIf(s -> voice > 0 && index(s) == 0).then(
            joinCall("voice join (host)", s -> HOST_TONE_HZ, false)
            .exec(s -> {
              hostTried.set(true);
              return s;
            }))
        .exec(during(settings.duration()).on(
            doIfOrElse(s -> index(s) > 0 && index(s) < voice).then(
                // a caller: a pause, then a stay in the call while it goes on chatting
                pause(Duration.ofMillis(thinkMs / 2), Duration.ofMillis(thinkMs * 3 / 2))
                .exec(waitUntil(hostTried::get, allOnline.plus(Participant.JOIN_WAIT)))
                .exec(joinCall(CallWatch.FIRST_AUDIO, s -> VoiceJoinSimulation.FIRST_TONE_HZ
                    + VoiceJoinSimulation.TONE_STEP_HZ * index(s), true))
                .repeat(ACTIONS_PER_CALL).on(chatAction(channel, thinkMs))
                .exec(checkCall())
                .exec(leaveCall()))
            .orElse(chatAction(channel, thinkMs))))
        // the loop ends as soon as the duration is up (Gatling's exitASAP), maybe mid-stay
        .doIf(s -> index(s) > 0 && index(s) < voice).then(
            checkCall()
            .exec(leaveCall())
            .exec(s -> {
              callersDone.incrementAndGet();
              return s;
            }))
        // the host stays until the callers are done, so that each of their joins hears someone
        .doIf(s -> voice > 0 && index(s) == 0).then(
            waitUntil(() -> callersDone.get() >= voice - 1, voiceDone)
            .exec(checkCall())
            .exec(leaveCall()))
        .exec(s -> {
          finished.incrementAndGet();
          return s;
        })
        .exec(waitUntil(() -> finished.get() >= users + joins,
            voiceDone.plus(JOIN_WAIT).plus(Duration.ofSeconds(30))))
        .exec(pauseFor(GRACE))
        .exec(recordLost())
        .exec(close());

    ScenarioBuilder newcomers = scenario("mixed: newcomers")
        .feed(csv(population.newcomers().toString()).queue())
        .exec(login(index -> true))
        .exec(s -> {
          if (s.contains(MEMBER)) {
            member(s).notMemberYet(); // nothing before its join is its to read
          }
          return s;
        })
        .exec(connect())
        .exec(ClientCall.timed("join-to-member", recorder, pool, s -> {
          Member m = loggedIn(s);
          m.client().api().useInvite(invite);
          Chat chat = m.client().chat();
          long deadline = System.nanoTime() + JOIN_WAIT.toNanos();
          while (true) {
            Chat.GroupState g = chat.group(channel);
            if (g.sync().member()) {
              m.memberFromNow(g.epoch());
              return s;
            }
            if (System.nanoTime() > deadline) {
              throw new IllegalStateException(m.username() + " is not in the channel's group "
                  + JOIN_WAIT + " after joining the guild: " + g.sync().detail());
            }
            Thread.sleep(100);
          }
        }))
        .exec(ClientCall.untimed("post", recorder, pool, s -> {
          loggedIn(s).post(channel);
          return s;
        }))
        .exec(s -> {
          finished.incrementAndGet();
          return s;
        })
        .exec(waitUntil(() -> finished.get() >= users + joins,
            voiceDone.plus(JOIN_WAIT).plus(Duration.ofSeconds(30))))
        .exec(pauseFor(GRACE))
        .exec(drainDecryptions())
        .exec(close());

    Duration joinWindow = settings.duration().dividedBy(2);
    List<Assertion> limits = new ArrayList<>(List.of(
        details("send-to-delivery").responseTime().percentile(99.0)
            .lt(SEND_TO_DELIVERY_P99_MS),
        details("join-to-member").responseTime().percentile(99.0).lt(JOIN_P99_MS)));
    if (voice >= 2) { // with callers: their joins and what everyone in the call heard
      limits.add(details(CallWatch.FIRST_AUDIO).responseTime().percentile(99.0)
          .lt(VoiceJoinSimulation.FIRST_AUDIO_P99_MS));
      limits.add(details(CallWatch.AUDIO_LOST).responseTime().percentile(99.0)
          .lte(VoiceJoinSimulation.AUDIO_LOST_P99_MS));
      limits.add(details(CallWatch.AUDIO_LOST).responseTime().mean()
          .lte(VoiceJoinSimulation.AUDIO_LOST_MEAN_MS));
    }
    setUp(
        members.injectOpen(rampUsers(users).during(settings.ramp())),
        newcomers.injectOpen(nothingFor(settings.ramp().plusSeconds(1)),
            rampUsers(joins).during(joinWindow.isZero() ? Duration.ofSeconds(1) : joinWindow)))
        .assertions(withLatencyLimits(List.of(
            // every failure: a lost or unreadable message, a voice join that heard nothing, a
            // frame a participant could not decrypt once in the call
            global().failedRequests().count().is(0L),
            details("send-to-delivery").failedRequests().count().is(0L),
            details("send-to-decrypted").failedRequests().count().is(0L)),
            limits.toArray(new Assertion[0])));
  }

  /** A pause of about {@code think}, then a post (20 %), typing (50 %) or a presence change. */
  private ChainBuilder chatAction(String channel, long thinkMs) {
    return exec(pause(Duration.ofMillis(thinkMs / 2), Duration.ofMillis(thinkMs * 3 / 2)))
        .exec(randomSwitch().on(
            percent(20.0).then(exec(ClientCall.untimed("post", recorder, pool, s -> {
              loggedIn(s).post(channel);
              return s;
            }))),
            percent(50.0).then(exec(ClientCall.timed("typing (sent)", recorder, pool, s -> {
              loggedIn(s).gateway().typing(channel);
              return s;
            }))),
            percent(30.0).then(exec(ClientCall.timed("presence (sent)", recorder, pool, s -> {
              boolean idle = s.contains("idle") && s.getBoolean("idle");
              loggedIn(s).gateway().presence(idle ? "online" : "idle");
              return s.set("idle", !idle);
            })))));
  }
}
