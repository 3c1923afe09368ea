package dev.cloister.client.voice;

import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsGroupException;
import dev.cloister.mls.group.MlsSuite;
import java.util.Arrays;

/**
 * One epoch of a voice group as the engine needs it: the epoch number, this device's leaf index
 * (the sender index of its SFrame KIDs, RFC 9605 section 5.2) and the epoch's SFrame base key,
 * {@code MLS-Exporter("SFrame 1.0 Base Key", "", Nk)}.
 */
public final class VoiceEpoch {
  private final long epoch;
  private final int senderIndex;
  private final byte[] baseKey;
  /** Leaf indices below this may send in the epoch (frames naming others are refused unread). */
  private final int senders;

  public VoiceEpoch(long epoch, int senderIndex, byte[] baseKey) {
    this(epoch, senderIndex, baseKey, 1 << 16);
  }

  /**
   * {@code senders}: the epoch's tree has leaves {@code 0..senders-1}; a frame whose KID names a
   * sender beyond them is refused before any key is derived for it (a forged KID costs little).
   */
  public VoiceEpoch(long epoch, int senderIndex, byte[] baseKey, int senders) {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must not be negative");
    }
    if (senderIndex < 0 || senderIndex > 0xFFFF) {
      throw new IllegalArgumentException("leaf index " + senderIndex + " does not fit the voice KID layout (16 bits)");
    }
    if (baseKey == null || baseKey.length != MlsSuite.SFRAME.nk) {
      throw new IllegalArgumentException("SFrame base key must be " + MlsSuite.SFRAME.nk + " bytes");
    }
    if (senders <= senderIndex || senders > 1 << 16) {
      throw new IllegalArgumentException("an epoch of " + senders + " leaves has no leaf "
          + senderIndex);
    }
    this.epoch = epoch;
    this.senderIndex = senderIndex;
    this.baseKey = baseKey.clone();
    this.senders = senders;
  }

  /** The current epoch of an MLS member (a voice group's), exported under the bcmls lock. */
  public static VoiceEpoch of(GroupMember member) throws MlsGroupException {
    synchronized (MlsSuite.SUITE) {
      if (member.status() != GroupMember.Status.ACTIVE) {
        throw new MlsGroupException("this device is no longer in the group (" + member.status() + ")");
      }
      int leaves = member.members().keySet().stream().mapToInt(Integer::intValue).max()
          .orElse(member.leafIndex()) + 1;
      return new VoiceEpoch(member.epoch(), member.leafIndex(), member.sframeBaseKey(),
          Math.max(leaves, member.leafIndex() + 1));
    }
  }

  public long epoch() {
    return epoch;
  }

  public int senderIndex() {
    return senderIndex;
  }

  byte[] baseKey() {
    return baseKey;
  }

  int senders() {
    return senders;
  }

  boolean sameKey(VoiceEpoch other) {
    return java.security.MessageDigest.isEqual(baseKey, other.baseKey);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VoiceEpoch v && v.epoch == epoch && v.senderIndex == senderIndex
        && Arrays.equals(v.baseKey, baseKey);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(epoch) * 31 + senderIndex;
  }

  @Override
  public String toString() {
    return "VoiceEpoch[" + epoch + ", sender " + senderIndex + "]"; // never the key
  }
}
