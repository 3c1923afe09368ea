package dev.cloister.load;

import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceConfig;
import dev.cloister.client.voice.VoiceStats;
import dev.cloister.client.voice.audio.AudioSink;
import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.client.voice.audio.ToneSource;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * One member in a voice call, with client-core's {@link VoiceCall}: the gateway's
 * {@code voice_state_update}, the call's MLS group kept on the SDK's own thread, and a voice
 * engine sending Opus sealed with SFrame in RTP over UDP to the node's SFU. A speaker sends a
 * tone; a listener joins muted. What it hears is read from the engine's counters by
 * {@link CallWatch}: when its first frame decrypted, then every second how much audio went missing
 * (RTP sequence gaps in what the SFU forwarded) and, when it leaves, whether any frame arrived that
 * it could not decrypt while it was in the call.
 */
public final class Participant {

  /**
   * Opus at complexity 0 (the node never decodes, so the encoder's effort changes nothing it
   * does; the generator's CPU goes further) and no DTX (Opus takes a steady tone for noise).
   */
  static final VoiceConfig CONFIG = VoiceConfig.defaults().withDtx(false).withComplexity(0);
  /** How long a join may take to its first decrypted frame (or a speaker to its keys). */
  static final Duration JOIN_WAIT = Duration.ofSeconds(60);
  /**
   * A speaker that has its keys (it heard the call) starts sending after the epoch's switch delay
   * (300 ms) and its first captured frame: how long its tally waits for that first frame when the
   * stay ended at once (a run's end can cut a stay right after the join).
   */
  static final Duration FIRST_FRAME_WAIT = Duration.ofSeconds(2);
  /** Hearing audio this long without one clean second: a failure, not a join in progress. */
  static final Duration UNSETTLED_LIMIT = Duration.ofSeconds(10);

  private final Member member;
  private final VoiceCall call;
  private final boolean speaking;
  private final boolean firstAudio;
  private final long askedAtMillis;
  private final long deadlineNanos;
  /** Completes when this participant hears (listener) or may send (speaker): keys and binding. */
  private final CompletableFuture<Long> ready = new CompletableFuture<>();
  private volatile String lastNotice = "";

  // guarded by this
  /** Its counters when it settled: the first whole second after its first frame with none refused. */
  private VoiceStats settledAt;
  private long undecryptableBefore = -1;
  private long heardSinceMillis;
  private long lastExpected = -1;
  private long lastLost;
  private long expected;
  private long lost;
  private long worstSecondMs;
  private boolean finished;

  private Participant(Member member, VoiceCall call, boolean speaking, boolean firstAudio,
      long askedAtMillis, long askedAtNanos) {
    this.member = member;
    this.call = call;
    this.speaking = speaking;
    this.firstAudio = firstAudio;
    this.askedAtMillis = askedAtMillis;
    this.deadlineNanos = askedAtNanos + JOIN_WAIT.toNanos();
  }

  /**
   * Asks to join {@code channelId} (blocks until the node answers with the SFU's address) and
   * hands the participant to {@code watch}; {@link #ready()} completes at its first decrypted
   * frame ({@code firstAudio}: the join is measured to it) or, for a speaker who may be the first
   * in the call, at its first frame sent.
   *
   * @param toneHz the tone a speaker sends; 0 for a muted listener
   */
  static Participant join(Member member, String guildId, String channelId, double toneHz,
      boolean firstAudio, CallWatch watch) throws Exception {
    if (!firstAudio && toneHz <= 0) {
      throw new IllegalArgumentException("a muted participant is ready when it hears audio");
    }
    boolean speaking = toneHz > 0;
    AudioSource source = speaking ? ToneSource.of(toneHz) : new Silence();
    long asked = System.currentTimeMillis();
    long askedNanos = System.nanoTime();
    Participant[] self = new Participant[1];
    VoiceCall call = VoiceCall.join(member.client(), member.gateway(), guildId, channelId,
        !speaking, CONFIG, source, new Discard(), new VoiceCall.Listener() {
          @Override
          public void notice(String text) {
            if (self[0] != null) {
              self[0].lastNotice = text;
            }
          }
        }, JOIN_WAIT);
    Participant p = new Participant(member, call, speaking, firstAudio, asked,
        askedNanos);
    self[0] = p;
    member.inCall(p);
    watch.add(p);
    return p;
  }

  /** Completes with when it became ready (epoch ms); fails with why when it did not in time. */
  public CompletableFuture<Long> ready() {
    return ready;
  }

  public boolean speaking() {
    return speaking;
  }

  /** Whether its join is measured to its first decrypted frame ("join-to-first-audio"). */
  public boolean measuresFirstAudio() {
    return firstAudio;
  }

  public long askedAtMillis() {
    return askedAtMillis;
  }

  public Member member() {
    return member;
  }

  void onDispatch(Dispatch d) {
    call.onDispatch(d);
  }

  /**
   * Watch thread, until ready: at its first decrypted frame, or (a speaker whose join is not
   * measured) at its first frame sent: keys installed, bound. Returns true when ready or failed.
   */
  boolean pollReady(long nowMillis) {
    if (ready.isDone()) {
      return true;
    }
    VoiceStats s = call.engine().stats();
    if (firstAudio ? s.decrypted() > 0 : s.framesSent() > 0) {
      ready.complete(nowMillis);
    } else if (!call.engine().running()) {
      ready.completeExceptionally(new IllegalStateException(member.username()
          + "'s voice engine stopped: " + call.engine().problem()));
    } else if (System.nanoTime() - deadlineNanos > 0) {
      // The SDK's last notice first: Gatling keeps only the start of a long error message.
      ready.completeExceptionally(new IllegalStateException((firstAudio
          ? "heard nothing in " : "sent nothing in ") + JOIN_WAIT.toSeconds() + " s: "
          + (lastNotice.isEmpty() ? "" : lastNotice + "; ") + "epoch " + s.epoch()
          + (s.bound() ? ", bound" : ", not bound to the SFU") + ", " + s.packetsIn()
          + " datagrams in, " + s.undecryptable() + " undecryptable"));
    }
    return ready.isDone();
  }

  /**
   * Watch thread, once a second, from its first decrypted frame on: the audio this participant
   * missed since the last sample, recorded as "audio lost (ms/s)" (lost frames × 20 ms; 0 when
   * nothing was missed; a second in which nothing was forwarded to it records nothing). It has
   * settled once a whole second passes without an undecryptable frame: until then it is still
   * joining (speakers that have not processed the commit that added it still send under the
   * epoch before, which it never had); from then on it is a continuing member.
   */
  synchronized void sampleSecond(Recorder recorder, long nowMillis) {
    if (finished) {
      return;
    }
    VoiceStats s = call.engine().stats();
    if (s.decrypted() == 0) {
      return;
    }
    if (heardSinceMillis == 0) {
      heardSinceMillis = nowMillis;
    }
    if (settledAt == null) {
      if (undecryptableBefore == s.undecryptable()) {
        settledAt = s;
      }
      undecryptableBefore = s.undecryptable();
    }
    long e = sumExpected(s);
    long l = sumLost(s);
    if (lastExpected < 0) {
      lastExpected = e;
      lastLost = l;
      return;
    }
    // A stream that went idle (or an SSRC given to someone else) leaves the sums: never negative.
    long de = Math.max(0, e - lastExpected);
    long dl = Math.max(0, l - lastLost);
    lastExpected = e;
    lastLost = l;
    if (de > 0 || dl > 0) {
      expected += de;
      lost += dl;
      long ms = dl * 20;
      worstSecondMs = Math.max(worstSecondMs, ms);
      recorder.ok(CallWatch.AUDIO_LOST, nowMillis - ms, nowMillis);
    }
  }

  /**
   * What one participant's stay came to; {@code problem} is null when nothing went wrong. The
   * undecryptable counts are those after it settled.
   */
  record Tally(boolean heard, boolean settled, boolean speaking, long expected, long lost,
      long undecryptable, long forged, long replayed, long unknownKey, long heldExpired,
      long heldThenDecrypted, long framesSent, long tickOverruns, long worstSecondMs,
      String problem) {}

  /**
   * Ends the sampling (a last sample first) and tallies the stay: a participant that settled
   * must have decrypted every frame that reached it since (forged, replayed, unknown-key and
   * held-too-long frames all count against it), one that heard audio must have settled, and a
   * speaker must have sent frames. Idempotent.
   */
  Tally finish(Recorder recorder) {
    long until = System.nanoTime() + FIRST_FRAME_WAIT.toNanos();
    try {
      while (speaking && ready.isDone() && !ready.isCompletedExceptionally()
          && call.engine().running() && call.engine().stats().framesSent() == 0
          && System.nanoTime() - until < 0) {
        Thread.sleep(20);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // judged as it stands
    }
    return tally(recorder);
  }

  private synchronized Tally tally(Recorder recorder) {
    if (!finished) {
      sampleSecond(recorder, System.currentTimeMillis());
      finished = true;
    }
    VoiceStats now = call.engine().stats();
    VoiceStats from = settledAt != null ? settledAt : now;
    long undecryptable = now.undecryptable() - from.undecryptable();
    String problem = null;
    if (undecryptable > 0) {
      problem = String.format(Locale.ROOT, "%s could not decrypt %d frames while in the call "
          + "(forged %d, replayed %d, unknown key %d, held too long for their epoch %d)",
          member.username(), undecryptable, now.forged() - from.forged(),
          now.replayed() - from.replayed(), now.unknownKey() - from.unknownKey(),
          now.heldExpired() - from.heldExpired());
    } else if (settledAt == null && heardSinceMillis > 0
        && System.currentTimeMillis() - heardSinceMillis > UNSETTLED_LIMIT.toMillis()) {
      problem = member.username() + " heard audio but never had a whole second without an "
          + "undecryptable frame (" + now.undecryptable() + " in all, unknown key "
          + now.unknownKey() + ", held too long " + now.heldExpired() + ")";
    } else if (speaking && now.framesSent() == 0 && !ready.isCompletedExceptionally()) {
      // (a join that failed is a KO already)
      problem = member.username() + " was to speak but sent no frame";
    }
    return new Tally(now.decrypted() > 0, settledAt != null, speaking, expected, lost,
        undecryptable, now.forged() - from.forged(), now.replayed() - from.replayed(),
        now.unknownKey() - from.unknownKey(), now.heldExpired() - from.heldExpired(),
        now.heldThenDecrypted() - from.heldThenDecrypted(), now.framesSent(),
        now.tickOverruns(), worstSecondMs, problem);
  }

  /** One line of its engine's counters (the voice trace). */
  String trace() {
    VoiceStats s = call.engine().stats();
    StringBuilder sb = new StringBuilder(member.username()).append(speaking ? " speaker" : "")
        .append(" epoch ").append(s.epoch()).append(s.bound() ? "" : " unbound")
        .append(" sent ").append(s.framesSent()).append(" in ").append(s.packetsIn())
        .append(" decrypted ").append(s.decrypted()).append(" unknownKey ").append(s.unknownKey())
        .append(" heldExpired ").append(s.heldExpired()).append(" heldThenDecrypted ")
        .append(s.heldThenDecrypted()).append(" overruns ").append(s.tickOverruns());
    for (VoiceStats.Stream st : s.streams()) {
      sb.append(" [leaf ").append(st.senderIndex()).append(' ').append(st.received()).append('/')
          .append(st.expected()).append(']');
    }
    return sb.toString();
  }

  /** Leaves the call (the server frees the endpoint and removes the device from the group). */
  void leave() {
    member.inCall(null);
    try {
      call.close();
    } catch (java.io.IOException | RuntimeException e) {
      // leaving anyway: the node also removes a participant whose session closes
    }
  }

  private static long sumExpected(VoiceStats s) {
    long n = 0;
    for (VoiceStats.Stream st : s.streams()) {
      n += st.expected();
    }
    return n;
  }

  private static long sumLost(VoiceStats s) {
    long n = 0;
    for (VoiceStats.Stream st : s.streams()) {
      n += st.lost();
    }
    return n;
  }

  /** A muted listener's microphone: the engine reads it but sends nothing; no work to make. */
  private static final class Silence implements AudioSource {
    @Override
    public boolean read(short[] frame) {
      return true; // the engine's frame buffer starts silent and nothing else writes it
    }

    @Override
    public String describe() {
      return "silence";
    }

    @Override
    public void close() {
    }
  }

  /** The loudspeaker: what is played is dropped (the counters say what was heard). */
  private static final class Discard implements AudioSink {
    @Override
    public void write(short[] frame) {
    }

    @Override
    public String describe() {
      return "nothing";
    }

    @Override
    public void close() {
    }
  }
}
