package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.Pcm;
import dev.cloister.sfu.conference.ReceptionStatistics;
import io.github.jaredmdobson.concentus.OpusDecoder;
import io.github.jaredmdobson.concentus.OpusException;

/**
 * One sender heard through the SFU (one SSRC): its loss and jitter figures (voice-sfu's RFC 3550
 * {@link ReceptionStatistics}), its {@link JitterBuffer} and its Opus decoder, which also
 * rebuilds lost frames from in-band FEC and conceals the rest (Opus PLC). Written by the media
 * thread only; the counters are published for {@link VoiceStats}.
 */
final class ReceiveStream {
  private static final long SPEAKING_NANOS = 200_000_000L;
  private static final int SPEAKING_LEVEL = 60;

  final int ssrc;
  final int senderIndex;
  private final ReceptionStatistics reception = new ReceptionStatistics(Pcm.SAMPLE_RATE);
  private final JitterBuffer buffer;
  private final OpusDecoder decoder;

  private volatile long received;
  private volatile long late;
  private volatile long played;
  private volatile long fecRecovered;
  private volatile long concealed;
  private volatile long decodeErrors;
  private volatile int level = 127;
  private volatile long lastHeard;
  private long highestSequence = -1;
  private long priorExpected;
  private long priorReceived;

  ReceiveStream(int ssrc, int senderIndex, VoiceConfig config) {
    this.ssrc = ssrc;
    this.senderIndex = senderIndex;
    this.buffer = new JitterBuffer(config.jitterMinFrames(), config.jitterMaxFrames(), config.maxConcealFrames());
    try {
      this.decoder = new OpusDecoder(Pcm.SAMPLE_RATE, 1);
    } catch (OpusException e) {
      throw new IllegalStateException("Opus decoder: " + e.getMessage(), e);
    }
  }

  /** A decrypted frame arrived. */
  void onFrame(int sequence, long timestamp, byte[] opus, int off, int len, int audioLevel, long now) {
    reception.onPacket(sequence, timestamp, now);
    if (highestSequence < 0) {
      highestSequence = sequence;
    } else {
      int delta = (short) (sequence - (int) (highestSequence & 0xFFFF));
      if (delta > 0) {
        highestSequence += delta;
      }
    }
    received++;
    lastHeard = now;
    if (audioLevel >= 0) {
      level = audioLevel;
    }
    if (buffer.put(timestamp, opus, off, len, now) == JitterBuffer.PUT_LATE) {
      late++;
    }
  }

  /**
   * Produces this tick's 20 ms of the stream into {@code pcm}.
   *
   * @return false when the stream has nothing to play (paused or not started): {@code pcm} is untouched
   */
  boolean playout(long now, short[] pcm) {
    int what = buffer.poll(now);
    try {
      switch (what) {
        case JitterBuffer.FRAME -> {
          decode(buffer.data(), buffer.length(), pcm, false);
          played++;
        }
        case JitterBuffer.FEC -> {
          decode(buffer.data(), buffer.length(), pcm, true);
          fecRecovered++;
        }
        case JitterBuffer.PLC -> {
          decode(null, 0, pcm, false);
          concealed++;
        }
        default -> {
          return false;
        }
      }
    } catch (OpusException | RuntimeException e) {
      // A frame that decrypted but does not decode came from a member's broken encoder: play silence.
      decodeErrors++;
      java.util.Arrays.fill(pcm, 0, Pcm.FRAME_SAMPLES, (short) 0);
    }
    return true;
  }

  private void decode(byte[] data, int len, short[] pcm, boolean fec) throws OpusException {
    int n = decoder.decode(data, 0, len, pcm, 0, Pcm.FRAME_SAMPLES, fec);
    if (n < Pcm.FRAME_SAMPLES) {
      java.util.Arrays.fill(pcm, Math.max(0, n), Pcm.FRAME_SAMPLES, (short) 0);
    }
  }

  long lastHeard() {
    return lastHeard;
  }

  long decodeErrors() {
    return decodeErrors;
  }

  VoiceStats.Stream snapshot(long now) {
    return new VoiceStats.Stream(Integer.toUnsignedLong(ssrc), senderIndex, received, reception.expected(),
        reception.lost(), reception.jitterMillis(), late, played, fecRecovered, concealed, buffer.skipped(),
        buffer.queued(), buffer.target() * Pcm.FRAME_MILLIS, level,
        now - lastHeard < SPEAKING_NANOS && level < SPEAKING_LEVEL);
  }

  /** Writes an RFC 3550 receiver report about this stream (fraction lost since the last one). */
  int writeReport(byte[] out, int ownSsrc) {
    long expected = reception.expected();
    long got = reception.received();
    long expectedInterval = expected - priorExpected;
    long lostInterval = expectedInterval - (got - priorReceived);
    priorExpected = expected;
    priorReceived = got;
    int fraction = expectedInterval <= 0 || lostInterval <= 0 ? 0 : (int) Math.min(255, (lostInterval << 8) / expectedInterval);
    int cumulative = (int) Math.min(0x7FFFFF, reception.lost());
    return dev.cloister.sfu.rtp.RtcpPacket.writeReceiverReport(out, ownSsrc, ssrc, fraction, cumulative,
        Math.max(0, highestSequence) & 0xFFFF_FFFFL, reception.jitter());
  }
}
