package dev.cloister.client.voice;

import java.time.Duration;

/**
 * The voice engine's tunables (README, "Voice engine": each with its default and why).
 *
 * @param bitrate             Opus target bitrate, bits/s
 * @param complexity          Opus encoder complexity 0..10 (CPU for quality)
 * @param inbandFec           Opus in-band FEC: each packet carries a coarse copy of the one before
 * @param expectedLossPercent the loss the encoder plans its FEC for
 * @param dtx                 Opus DTX: during silence only Opus's comfort-noise updates (one frame in
 *                            about 20) are sent; its one-byte DTX frames in between are not
 * @param jitterMinFrames     least playout delay of a stream's jitter buffer, in 20 ms frames
 * @param jitterMaxFrames     most playout delay the buffer adapts up to
 * @param maxConcealFrames    frames concealed in a row before a stream counts as paused (silence, not PLC)
 * @param epochGrace          how long the previous epoch's key still decrypts after a new epoch arrives
 * @param futureEpochHold     how long a frame of an epoch not installed yet waits for its key
 * @param stunRetransmit      first STUN retransmission timeout (doubles per retry, at most 1.6 s)
 * @param stunMaxTries        transmissions of one Binding Request before the transaction fails
 * @param consentInterval     how often consent is refreshed: 1.5 s by default, as the SFU moves a
 *                            binding only after its address was silent 2 s (RFC 7675 allows it)
 * @param consentTimeout      no answer for this long: consent is lost and no media is sent
 * @param rtcpInterval        how often receiver reports go to the SFU
 */
public record VoiceConfig(int bitrate, int complexity, boolean inbandFec, int expectedLossPercent,
    boolean dtx, int jitterMinFrames, int jitterMaxFrames, int maxConcealFrames,
    Duration epochGrace, Duration futureEpochHold, Duration stunRetransmit, int stunMaxTries,
    Duration consentInterval, Duration consentTimeout, Duration rtcpInterval) {

  public VoiceConfig {
    if (bitrate < 6_000 || bitrate > 510_000) {
      throw new IllegalArgumentException("bitrate must be 6000..510000 b/s");
    }
    if (complexity < 0 || complexity > 10) {
      throw new IllegalArgumentException("complexity must be 0..10");
    }
    if (expectedLossPercent < 0 || expectedLossPercent > 100) {
      throw new IllegalArgumentException("expectedLossPercent must be 0..100");
    }
    if (jitterMinFrames < 1 || jitterMaxFrames < jitterMinFrames || jitterMaxFrames > JitterBuffer.CAPACITY / 2) {
      throw new IllegalArgumentException("jitter frames must satisfy 1 <= min <= max <= " + JitterBuffer.CAPACITY / 2);
    }
    if (maxConcealFrames < 1 || maxConcealFrames > 50) {
      throw new IllegalArgumentException("maxConcealFrames must be 1..50");
    }
    if (stunMaxTries < 1 || stunMaxTries > 20) {
      throw new IllegalArgumentException("stunMaxTries must be 1..20");
    }
    for (Duration d : new Duration[] {epochGrace, futureEpochHold, stunRetransmit, consentInterval,
        consentTimeout, rtcpInterval}) {
      if (d == null || d.isNegative() || d.toMillis() > 600_000) {
        throw new IllegalArgumentException("durations must be 0..600 s");
      }
    }
    if (consentTimeout.compareTo(consentInterval) <= 0) {
      throw new IllegalArgumentException("consentTimeout must exceed consentInterval");
    }
  }

  public static VoiceConfig defaults() {
    return new VoiceConfig(64_000, 5, true, 5, true, 2, 10, 10, Duration.ofSeconds(1),
        Duration.ofMillis(500), Duration.ofMillis(100), 8, Duration.ofMillis(1_500),
        Duration.ofSeconds(30), Duration.ofSeconds(5));
  }

  public VoiceConfig withEpochGrace(Duration grace) {
    return new VoiceConfig(bitrate, complexity, inbandFec, expectedLossPercent, dtx,
        jitterMinFrames, jitterMaxFrames, maxConcealFrames, grace, futureEpochHold, stunRetransmit,
        stunMaxTries, consentInterval, consentTimeout, rtcpInterval);
  }

  public VoiceConfig withComplexity(int c) {
    return new VoiceConfig(bitrate, c, inbandFec, expectedLossPercent, dtx,
        jitterMinFrames, jitterMaxFrames, maxConcealFrames, epochGrace, futureEpochHold, stunRetransmit,
        stunMaxTries, consentInterval, consentTimeout, rtcpInterval);
  }

  public VoiceConfig withDtx(boolean on) {
    return new VoiceConfig(bitrate, complexity, inbandFec, expectedLossPercent, on,
        jitterMinFrames, jitterMaxFrames, maxConcealFrames, epochGrace, futureEpochHold, stunRetransmit,
        stunMaxTries, consentInterval, consentTimeout, rtcpInterval);
  }

  public VoiceConfig withConsent(Duration interval, Duration timeout) {
    return new VoiceConfig(bitrate, complexity, inbandFec, expectedLossPercent, dtx,
        jitterMinFrames, jitterMaxFrames, maxConcealFrames, epochGrace, futureEpochHold, stunRetransmit,
        stunMaxTries, interval, timeout, rtcpInterval);
  }
}
