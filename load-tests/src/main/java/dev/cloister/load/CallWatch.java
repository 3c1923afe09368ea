package dev.cloister.load;

import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Reads every participant's voice engine from one thread: every 10 ms those not ready yet (a
 * listener's first decrypted frame is its "join-to-first-audio", recorded against the moment it
 * asked to join), every second the audio each one missed ({@link Participant#sampleSecond}). It
 * keeps the tallies of those who left for the run's summary.
 */
final class CallWatch implements AutoCloseable {

  /** Per participant and second: lost frames × 20 ms (0 when it missed nothing). */
  static final String AUDIO_LOST = "audio lost (ms/s)";
  static final String FIRST_AUDIO = "join-to-first-audio";
  /** -Dload.voice-trace=true: every participant's engine counters, each second, to stderr. */
  static final boolean TRACE = Boolean.getBoolean("load.voice-trace");

  private final Recorder recorder;
  private final Queue<Participant> waiting = new ConcurrentLinkedQueue<>();
  private final Queue<Participant> inCall = new ConcurrentLinkedQueue<>();
  private final Queue<Participant.Tally> tallies = new ConcurrentLinkedQueue<>();
  private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "cloister-load-call-watch");
    t.setDaemon(true);
    return t;
  });
  private long nextSecond;

  CallWatch(Recorder recorder) {
    this.recorder = recorder;
    thread.scheduleWithFixedDelay(this::tick, 10, 10, TimeUnit.MILLISECONDS);
  }

  void add(Participant p) {
    waiting.add(p);
    inCall.add(p);
  }

  /** Ends {@code p}'s sampling and keeps its tally; the caller then leaves the call. */
  Participant.Tally finish(Participant p) {
    inCall.remove(p);
    waiting.remove(p);
    Participant.Tally t = p.finish(recorder);
    tallies.add(t);
    return t;
  }

  private void tick() {
    try {
      long now = System.currentTimeMillis();
      for (Participant p : waiting) {
        if (p.pollReady(now)) {
          waiting.remove(p);
          if (p.measuresFirstAudio() && !p.ready().isCompletedExceptionally()) {
            recorder.ok(FIRST_AUDIO, p.askedAtMillis(), now);
          }
        }
      }
      if (now >= nextSecond) {
        nextSecond = now + 1000;
        for (Participant p : inCall) {
          p.sampleSecond(recorder, now);
          if (TRACE) {
            Population.say("trace %s", p.trace());
          }
        }
      }
    } catch (RuntimeException e) {
      // one engine's odd state must not stop the watch over everyone else
      Population.say("call watch: %s", ClientCall.describe(e));
    }
  }

  /** The voice figures of everyone who left, for the console. */
  String summary() {
    long n = 0;
    long heard = 0;
    long unsettled = 0;
    long expected = 0;
    long lost = 0;
    long undecryptable = 0;
    long unknownKey = 0;
    long heldExpired = 0;
    long heldThenDecrypted = 0;
    long sent = 0;
    long overruns = 0;
    long worst = 0;
    for (Participant.Tally t : tallies) {
      n++;
      heard += t.heard() ? 1 : 0;
      unsettled += t.heard() && !t.settled() ? 1 : 0;
      expected += t.expected();
      lost += t.lost();
      undecryptable += t.undecryptable();
      unknownKey += t.unknownKey();
      heldExpired += t.heldExpired();
      heldThenDecrypted += t.heldThenDecrypted();
      sent += t.framesSent();
      overruns += t.tickOverruns();
      worst = Math.max(worst, t.worstSecondMs());
    }
    return String.format(Locale.ROOT, "voice: %d stays in the call, %d heard audio (%d never "
        + "settled); frames sent %d; frames forwarded to receivers %d, lost %d (%.3f %%, worst "
        + "second %d ms); undecryptable after settling %d (unknown key %d, held too long %d); "
        + "held for an epoch not reached yet, then decrypted %d; 20 ms ticks the engines could "
        + "not keep %d", n, heard, unsettled, sent, expected, lost,
        expected == 0 ? 0.0 : 100.0 * lost / expected, worst, undecryptable, unknownKey,
        heldExpired, heldThenDecrypted, overruns);
  }

  @Override
  public void close() {
    thread.shutdownNow();
  }
}
