package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.client.voice.audio.Pcm;
import dev.cloister.sfu.rtp.RtpPacket;
import io.github.jaredmdobson.concentus.OpusApplication;
import io.github.jaredmdobson.concentus.OpusEncoder;
import io.github.jaredmdobson.concentus.OpusException;
import java.io.IOException;
import java.security.SecureRandom;

/**
 * One frame out per tick: read 20 ms from the source, take its RFC 6464 level, encode it with
 * Opus, let DTX skip silence, seal it with
 * SFrame and write the RTP packet (payload type 111, random initial sequence number and
 * timestamp; the timestamp advances for every captured frame, sent or not). The SFrame metadata
 * is the packet's SSRC and timestamp. Media thread only; counters are published.
 */
final class SendPath {
  static final int OPUS_PAYLOAD_TYPE = 111;
  static final int METADATA_LENGTH = 8;

  private final VoiceConfig config;
  private int ssrc; // media thread only, as is levelExtId
  private int levelExtId;
  private final OpusEncoder encoder;
  private final short[] captured = new short[Pcm.FRAME_SAMPLES];
  private final byte[] opus = new byte[JitterBuffer.MAX_OPUS];
  private final byte[] meta = new byte[METADATA_LENGTH];
  private int sequence;
  private long timestamp;
  private boolean ended;

  volatile long framesCaptured;
  volatile long framesSent;
  volatile long framesNotSent;
  volatile String problem;
  /** The RFC 6464 level of the last captured frame, muted or not (0 loud .. 127 silent). */
  volatile int inputLevel = 127;

  /**
   * The SSRC and level extension id of the SFU the call moved to; the stream goes on (codec,
   * sequence) under them.
   */
  void moved(int ssrc, int levelExtId) {
    this.ssrc = ssrc;
    this.levelExtId = levelExtId;
  }

  SendPath(VoiceConfig config, int ssrc, int levelExtId, SecureRandom random) {
    this.config = config;
    this.ssrc = ssrc;
    this.levelExtId = levelExtId;
    this.encoder = newEncoder(config);
    this.sequence = random.nextInt(1 << 16);
    this.timestamp = random.nextInt() & 0xFFFF_FFFFL;
  }

  /** Opus for voice: 48 kHz mono, VoIP mode, the configured bitrate, complexity, in-band FEC and DTX. */
  static OpusEncoder newEncoder(VoiceConfig config) {
    try {
      OpusEncoder e = new OpusEncoder(Pcm.SAMPLE_RATE, 1, OpusApplication.OPUS_APPLICATION_VOIP);
      e.setBitrate(config.bitrate());
      e.setComplexity(config.complexity());
      e.setUseInbandFEC(config.inbandFec());
      e.setPacketLossPercent(config.expectedLossPercent());
      e.setUseDTX(config.dtx());
      return e;
    } catch (OpusException e) {
      throw new IllegalStateException("Opus encoder: " + e.getMessage(), e);
    }
  }

  /**
   * This tick's packet, written into {@code out}.
   *
   * @param flowing whether media may go (STUN consent is fresh)
   * @return its length, or 0 when nothing is to be sent (ended, muted, DTX, no consent or key)
   */
  int next(AudioSource source, boolean muted, boolean flowing, VoiceKeys keys, byte[] out) {
    if (ended) {
      return 0;
    }
    boolean got;
    try {
      got = source.read(captured);
    } catch (IOException | RuntimeException e) {
      problem = "audio source failed: " + e.getMessage();
      got = false;
    }
    if (!got) {
      ended = true;
      return 0;
    }
    framesCaptured++;
    long frameTimestamp = timestamp;
    timestamp = (timestamp + Pcm.FRAME_SAMPLES) & 0xFFFF_FFFFL;
    // measured before the mute check: a level meter (and push-to-talk) shows the input while muted
    int level = Pcm.audioLevel(captured, Pcm.FRAME_SAMPLES);
    inputLevel = level;
    if (muted) {
      framesNotSent++;
      return 0;
    }
    int opusLength;
    try {
      opusLength = encoder.encode(captured, 0, Pcm.FRAME_SAMPLES, opus, 0, opus.length);
    } catch (OpusException e) {
      problem = "Opus encoder: " + e.getMessage();
      framesNotSent++;
      return 0;
    }
    if (opusLength <= 2) {
      // A DTX frame (a TOC byte alone): not sent. Opus itself emits a comfort-noise update about
      // every 400 ms of silence, which goes like any frame and tells receivers the stream lives.
      framesNotSent++;
      return 0;
    }
    if (!flowing || keys.sending() == null) {
      framesNotSent++;
      return 0;
    }
    int header = RtpPacket.write(out, OPUS_PAYLOAD_TYPE, sequence, frameTimestamp, ssrc, levelExtId,
        level, level < 60, opus, 0, 0);
    System.arraycopy(out, 8, meta, 0, 4);
    System.arraycopy(out, 4, meta, 4, 4);
    int sealed = keys.protect(meta, 0, METADATA_LENGTH, opus, 0, opusLength, out, header);
    if (sealed < 0) {
      framesNotSent++;
      return 0;
    }
    sequence = (sequence + 1) & 0xFFFF;
    framesSent++;
    return header + sealed;
  }
}
