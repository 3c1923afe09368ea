package dev.cloister.client.voice;

import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.sframe.MlsSFrameKeys;
import dev.cloister.mls.sframe.SFrameContext;
import dev.cloister.mls.sframe.SFrameHeader;

/**
 * The SFrame keys of one voice group on this device, per MLS epoch ({@link MlsSFrameKeys}: the
 * RFC 9605 section 5.2 KID layout, E = 8 epoch bits, S = 16 sender bits). An epoch decrypts from
 * when it is installed. Frames are sent under it from its switch time on, which the caller agrees
 * with the others (the call's members count it from when they heard of the commit, so they switch
 * at about the same moment however long each takes to process it: DAVE's prepare/execute
 * transition without extra signalling); until then they go on under the epoch before, so members
 * who process the commit a little later already hold the key of every frame they get. Each
 * replaced epoch keeps decrypting for a grace period from that switch (also across a burst of
 * commits, where a slower member may still send under an epoch in the middle of it), and then it
 * is forgotten, so a member removed at a commit can neither read nor be heard beyond the grace.
 * Installing an epoch again is a no-op: it must not restart the sender's counter (AES-GCM would
 * then reuse nonces); the sending side installs each epoch once, when it starts sending under it.
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
  /** The sending side: the epoch sent under only, each installed once. */
  private final MlsSFrameKeys sendKeys = new MlsSFrameKeys(MlsSuite.SFRAME, EPOCH_BITS, 16, 1, 1);
  private final SFrameHeader header = new SFrameHeader();
  private final long graceNanos;
  private VoiceEpoch current;
  /** What frames are sealed under: {@code current}, or one before it until its switch time. */
  private VoiceEpoch sending;

  /** An installed epoch that frames are sealed under from {@code atNanos} on. */
  private record Switch(VoiceEpoch epoch, long atNanos) {}

  /** Epochs installed but not sent under yet, oldest first. */
  private final java.util.ArrayDeque<Switch> switches = new java.util.ArrayDeque<>();
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
    return install(e, nowNanos, nowNanos);
  }

  /**
   * Installs {@code e} for decrypting now, and for sending from {@code sendFromNanos} on. The
   * first epoch too: a member who just joined sends nothing until then, rather than frames the
   * others cannot open before they have processed its join. The epoch it replaces keeps
   * decrypting until the grace after that switch.
   *
   * @throws IllegalArgumentException the epoch is older than the current one, or the same epoch
   *     comes with another key (two views of one epoch: a forked group state)
   */
  Installed install(VoiceEpoch e, long nowNanos, long sendFromNanos) {
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
    long switchAt = sendFromNanos - nowNanos > 0 ? sendFromNanos : nowNanos;
    if (current != null) {
      previous.addLast(new long[] {current.epoch(), switchAt + graceNanos});
      while (previous.size() > MAX_PREVIOUS) {
        keys.dropEpoch(previous.removeFirst()[0]);
      }
    }
    keys.installEpoch(e.epoch(), e.baseKey(), e.senders());
    current = e;
    if (sending == null && switchAt == nowNanos) {
      startSending(e);
    } else {
      // A newer epoch due no later than ones still waiting makes them moot (a burst of commits,
      // the later ones taken late): sending goes straight to it.
      while (!switches.isEmpty() && switches.peekLast().atNanos() - switchAt >= 0) {
        switches.removeLast();
      }
      switches.addLast(new Switch(e, switchAt));
    }
    expire(nowNanos);
    return Installed.NEW;
  }

  /** Moves sending to the newest epoch whose switch time has come; forgets expired epochs. */
  void expire(long nowNanos) {
    Switch due = null;
    while (!switches.isEmpty() && nowNanos - switches.peekFirst().atNanos() >= 0) {
      due = switches.removeFirst();
    }
    if (due != null) {
      startSending(due.epoch());
    }
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

  private void startSending(VoiceEpoch e) {
    sendKeys.installEpoch(e.epoch(), e.baseKey());
    sending = e;
  }

  /** The epoch frames are sealed under now (one before {@link #current} until its switch). */
  VoiceEpoch sending() {
    return sending;
  }

  /**
   * Seals one Opus frame under the sending epoch with {@code metadata} authenticated.
   *
   * @return bytes written, or a negative {@link SFrameContext} code ({@code ERR_UNKNOWN_KID}: no epoch yet)
   */
  int protect(byte[] meta, int metaOff, int metaLen, byte[] opus, int opusOff, int opusLen, byte[] out, int outOff) {
    if (sending == null) {
      return SFrameContext.ERR_UNKNOWN_KID;
    }
    return sendKeys.protect(sending.senderIndex(), meta, metaOff, metaLen, opus, opusOff, opusLen, out, outOff);
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
