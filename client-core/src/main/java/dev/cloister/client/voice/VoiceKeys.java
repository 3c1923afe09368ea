package dev.cloister.client.voice;

import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.sframe.MlsSFrameKeys;
import dev.cloister.mls.sframe.SFrameContext;
import dev.cloister.mls.sframe.SFrameHeader;

/**
 * The SFrame keys of one voice group on this device, per MLS epoch ({@link MlsSFrameKeys}: the
 * RFC 9605 section 5.2 KID layout, E = 8 epoch bits, S = 16 sender bits). Frames are sent under
 * the newest epoch; each one before keeps decrypting for a grace period from when it was replaced,
 * so frames in flight across a commit still open (also across a burst of commits, where a slower
 * member may still send under an epoch in the middle of it), and then it is forgotten, so a member
 * removed at a commit can neither read nor be heard beyond the grace. Installing an epoch again is a no-op: it must not restart the
 * sender's counter (AES-GCM would then reuse nonces).
 *
 * <p>Used by the engine's media thread only: not thread-safe.
 */
final class VoiceKeys {
  static final int EPOCH_BITS = 8;
  private static final long EPOCH_MASK = (1L << EPOCH_BITS) - 1;
  /** A frame up to this many epochs ahead of ours is held for its key rather than refused. */
  private static final int LOOKAHEAD_EPOCHS = 4;

  /** Replaced epochs kept through their grace at most (a burst of commits faster than that). */
  private static final int MAX_PREVIOUS = 8;

  private final MlsSFrameKeys keys =
      new MlsSFrameKeys(MlsSuite.SFRAME, EPOCH_BITS, 16, MAX_PREVIOUS + 1, 1024);
  private final SFrameHeader header = new SFrameHeader();
  private final long graceNanos;
  private VoiceEpoch current;
  /** Replaced epochs in their grace, oldest first: {epoch, when its grace ends}. */
  private final java.util.ArrayDeque<long[]> previous = new java.util.ArrayDeque<>();

  VoiceKeys(long graceNanos) {
    this.graceNanos = graceNanos;
  }

  /** What an install did. */
  enum Installed { NEW, SAME }

  /**
   * Makes {@code e} the sending epoch and keeps the one it replaces for the grace period.
   *
   * @throws IllegalArgumentException the epoch is older than the current one, or the same epoch
   *     comes with another key (two views of one epoch: a forked group state)
   */
  Installed install(VoiceEpoch e, long nowNanos) {
    if (current != null) {
      if (e.epoch() == current.epoch()) {
        if (!e.sameKey(current) || e.senderIndex() != current.senderIndex()) {
          throw new IllegalArgumentException("epoch " + e.epoch() + " installed again with another key or leaf");
        }
        return Installed.SAME;
      }
      if (e.epoch() < current.epoch()) {
        throw new IllegalArgumentException("epoch " + e.epoch() + " is older than the current epoch " + current.epoch());
      }
    }
    if (current != null) {
      previous.addLast(new long[] {current.epoch(), nowNanos + graceNanos});
      while (previous.size() > MAX_PREVIOUS) {
        keys.dropEpoch(previous.removeFirst()[0]);
      }
    }
    keys.installEpoch(e.epoch(), e.baseKey());
    current = e;
    if (graceNanos == 0) {
      expire(nowNanos);
    }
    return Installed.NEW;
  }

  /** Forgets the replaced epochs whose grace is over. */
  void expire(long nowNanos) {
    while (!previous.isEmpty() && nowNanos - previous.peekFirst()[1] >= 0) {
      keys.dropEpoch(previous.removeFirst()[0]);
    }
  }

  VoiceEpoch current() {
    return current;
  }

  /** The epoch last replaced while its grace lasts, else -1. */
  long previousEpoch() {
    return previous.isEmpty() ? -1 : previous.peekLast()[0];
  }

  /**
   * Seals one Opus frame under the current epoch with {@code metadata} authenticated.
   *
   * @return bytes written, or a negative {@link SFrameContext} code ({@code ERR_UNKNOWN_KID}: no epoch yet)
   */
  int protect(byte[] meta, int metaOff, int metaLen, byte[] opus, int opusOff, int opusLen, byte[] out, int outOff) {
    if (current == null) {
      return SFrameContext.ERR_UNKNOWN_KID;
    }
    return keys.protect(current.senderIndex(), meta, metaOff, metaLen, opus, opusOff, opusLen, out, outOff);
  }

  /** @return plaintext length, or a negative {@link SFrameContext} code */
  int unprotect(byte[] meta, int metaOff, int metaLen, byte[] frame, int off, int len, byte[] out, int outOff) {
    return keys.unprotect(meta, metaOff, metaLen, frame, off, len, out, outOff);
  }

  /** The sender (leaf) index a frame's KID names, or -1 if its header is malformed. */
  int senderOf(byte[] frame, int off, int len) {
    return header.decode(frame, off, len) < 0 ? -1 : keys.senderIndexOf(header.kid());
  }

  /**
   * Whether a frame whose key is unknown names an epoch this device may reach soon (one of the
   * next few, by its low KID bits; any epoch before the first is installed), so it is worth
   * holding while the commit that leads there is processed.
   */
  boolean mayBeAhead(byte[] frame, int off, int len) {
    if (header.decode(frame, off, len) < 0) {
      return false;
    }
    if (current == null) {
      return true;
    }
    long low = header.kid() & EPOCH_MASK;
    for (int ahead = 1; ahead <= LOOKAHEAD_EPOCHS; ahead++) {
      if (((current.epoch() + ahead) & EPOCH_MASK) == low) {
        return true;
      }
    }
    return false;
  }
}
