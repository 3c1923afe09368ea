package dev.cloister.load;

import static io.gatling.javaapi.core.CoreDsl.atOnceUsers;
import static io.gatling.javaapi.core.CoreDsl.csv;
import static io.gatling.javaapi.core.CoreDsl.details;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.nothingFor;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;

import io.gatling.javaapi.core.ScenarioBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * voice-join: {@code load.users} members of a guild join its voice channel. The first
 * {@code load.speakers} to log in join at once and send a tone each (Opus sealed with SFrame in
 * RTP, over UDP to the node's SFU); the others arrive evenly over {@code load.ramp} once the
 * speakers send, and join muted. Every join goes through the gateway's
 * {@code voice_state_update}; each joiner's device gets into the call's MLS group (external
 * commit or Welcome) and derives the epoch's SFrame keys, and every member already in the call
 * processes the commit that added it. Measured: a listener's "join-to-first-audio" (asking to
 * join → its first decrypted frame), "audio lost (ms/s)" (every participant, every second: frames
 * the SFU forwarded that never arrived or did not decrypt, × 20 ms) and "frames checked" at the
 * end (KO when a participant could not decrypt any frame once it had settled into the call).
 * After the last join the call runs {@code load.duration}; then everyone is checked, then leaves.
 */
public class VoiceJoinSimulation extends CloisterSimulation {

  /**
   * Limits from this machine's runs (README, "Load tests"): join-to-first-audio p99 and the audio
   * lost per participant and second, p99 and mean (the mean in ms/s is the loss rate in ‰).
   */
  static final int FIRST_AUDIO_P99_MS = 10_000;
  static final int AUDIO_LOST_P99_MS = 100;
  static final int AUDIO_LOST_MEAN_MS = 10;
  /** Speakers' tones: one each, apart enough to tell in a recording. */
  static final double FIRST_TONE_HZ = 300;
  static final double TONE_STEP_HZ = 250;

  private final AtomicInteger speakersTried = new AtomicInteger();
  private final AtomicInteger joinsTried = new AtomicInteger();
  private final AtomicInteger checked = new AtomicInteger();
  private volatile long callEndsAtMillis = Long.MAX_VALUE;

  public VoiceJoinSimulation() {
    super("voice-join", LoadSettings.fromSystemProperties().users(), 0, false, true);
    int users = settings.users();
    int speakers = settings.speakers();
    Duration joinWait = Participant.JOIN_WAIT.plus(Duration.ofSeconds(30));
    Duration allJoined = settings.ramp().plus(READY_WAIT).plus(joinWait);

    ScenarioBuilder call = scenario("voice-join")
        .feed(csv(population.members().toString()).queue())
        .exec(login(index -> false))
        .exec(connect())
        .doIfOrElse(s -> index(s) >= 0 && index(s) < speakers).then(
            joinCall("voice join (speaker)", s -> FIRST_TONE_HZ + TONE_STEP_HZ * index(s),
                false)
            .exec(s -> {
              speakersTried.incrementAndGet();
              return s;
            }))
        .orElse(
            // Listeners join once the speakers send, so each one's first audio is its own join's.
            waitUntil(() -> speakersTried.get() >= speakers, joinWait)
            .exec(joinCall(CallWatch.FIRST_AUDIO, s -> 0, true)))
        .exec(s -> {
          if (joinsTried.incrementAndGet() == users) {
            callEndsAtMillis = System.currentTimeMillis() + settings.duration().toMillis();
          }
          return s;
        })
        .exec(waitUntil(() -> System.currentTimeMillis() >= callEndsAtMillis,
            allJoined.plus(settings.duration())))
        // Everyone is checked before anyone leaves: a leave is a commit too.
        .exec(checkCall())
        .exec(s -> {
          checked.incrementAndGet();
          return s;
        })
        .exec(waitUntil(() -> checked.get() >= joinsTried.get(), Duration.ofSeconds(30)))
        .exec(leaveCall())
        .exec(close());

    List<io.gatling.javaapi.core.Assertion> always = new ArrayList<>(List.of(
        // logins, sessions, joins (each listener heard audio) and every participant's frames
        global().failedRequests().count().is(0L),
        details("frames checked").successfulRequests().count().is((long) users)));
    setUp(call.injectOpen(atOnceUsers(speakers), nothingFor(Duration.ofSeconds(2)),
        rampUsers(users - speakers).during(settings.ramp())))
        .assertions(withLatencyLimits(always,
            details(CallWatch.FIRST_AUDIO).responseTime().percentile(99.0)
                .lt(FIRST_AUDIO_P99_MS),
            details(CallWatch.AUDIO_LOST).responseTime().percentile(99.0)
                .lte(AUDIO_LOST_P99_MS),
            details(CallWatch.AUDIO_LOST).responseTime().mean().lte(AUDIO_LOST_MEAN_MS)));
  }
}
