package dev.cloister.client.mls;

import dev.cloister.client.profile.CorruptFileException;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.MlsGroupException;
import dev.cloister.mls.group.MlsSuite;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;

/**
 * This device's state in one MLS group as its home keeps it ({@code groups/<groupId>.mls}): the
 * {@link GroupMember} (none while it waits to join), the last log entry processed, when its
 * membership began, and whether it ended. {@link GroupSync} moves it along the group's log;
 * {@link #save()} after every step.
 *
 * <p>All MLS work runs under {@link #locked}: bcmls 1.84's suite objects share one digest, so
 * every caller in a process (the delivery service of an in-process node included) takes the same
 * lock. Never hold it across a network call.
 */
public final class GroupSession {

  /** A call into bcmls. */
  @FunctionalInterface
  public interface MlsCall<T> {
    T run() throws MlsGroupException;
  }

  private final Profile profile;
  private final DeviceIdentity identity;
  private final String groupId;
  long seq;
  long joinedEpoch;
  long welcomeFloor;
  String lost;
  GroupMember member;

  private GroupSession(Profile profile, DeviceIdentity identity, SavedGroup saved,
      GroupMember member) {
    this.profile = profile;
    this.identity = identity;
    this.groupId = saved.groupId();
    this.seq = saved.seq();
    this.joinedEpoch = saved.joinedEpoch();
    this.welcomeFloor = saved.welcomeFloor();
    this.lost = saved.lost();
    this.member = member;
  }

  /** Runs {@code call} under the process-wide bcmls lock. */
  public static <T> T locked(MlsCall<T> call) throws MlsGroupException {
    synchronized (MlsSuite.SUITE) {
      return call.run();
    }
  }

  /**
   * The saved state of a group, if any.
   *
   * @throws CorruptFileException the file is damaged or does not decode into this device's state
   */
  public static Optional<GroupSession> load(Profile profile, DeviceIdentity identity,
      String groupId) throws IOException {
    Optional<byte[]> bytes = profile.groupState(groupId);
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    SavedGroup saved;
    try {
      saved = SavedGroup.fromBytes(bytes.get());
    } catch (IOException e) {
      throw new CorruptFileException(profile.groupFile(groupId), e.getMessage(), e);
    }
    if (!saved.groupId().equals(groupId)) {
      throw new CorruptFileException(profile.groupFile(groupId), "it holds group "
          + saved.groupId());
    }
    GroupMember member = null;
    if (saved.member() != null) {
      try {
        member = locked(() -> GroupMember.fromBytes(identity, saved.member()));
      } catch (MlsGroupException | RuntimeException e) {
        throw new CorruptFileException(profile.groupFile(groupId),
            "its MLS state does not load: " + e.getMessage(), e);
      }
    }
    return Optional.of(new GroupSession(profile, identity, saved, member));
  }

  /** A device that has no state in the group yet; Welcomes at or below {@code welcomeFloor} are stale. */
  static GroupSession waiting(Profile profile, DeviceIdentity identity, String groupId,
      long welcomeFloor) {
    return new GroupSession(profile, identity, SavedGroup.waiting(groupId, welcomeFloor), null);
  }

  /** Writes the state atomically; call after every change, before anything that depends on it. */
  public void save() throws IOException {
    byte[] memberBytes;
    try {
      memberBytes = member == null ? null : locked(member::toBytes);
    } catch (MlsGroupException e) {
      throw new IllegalStateException(e);
    }
    profile.saveGroupState(groupId, new SavedGroup(groupId, seq, joinedEpoch, welcomeFloor, lost,
        memberBytes).toBytes());
  }

  public String groupId() {
    return groupId;
  }

  public DeviceIdentity identity() {
    return identity;
  }

  /** The last log entry processed. */
  public long seq() {
    return seq;
  }

  /** Whether this device is a member now (joined, not removed, no external join awaiting the server). */
  public boolean joined() {
    return member != null && lost == null && member.status() == GroupMember.Status.ACTIVE
        && !member.externalJoinPending();
  }

  /** The current epoch; once removed, the last one it held; -1 with no state. */
  public long epoch() {
    if (member == null || member.externalJoinPending()) {
      return -1;
    }
    return member.epoch();
  }

  /** The epoch this device's current (or last) membership began at; -1 if it never joined. */
  public long joinedEpoch() {
    return joinedEpoch;
  }

  /** Whether this device was in the group before, then removed or reset. */
  public boolean rejoined() {
    return welcomeFloor > 0;
  }

  /** Why this device is no longer in the group, or null. */
  public String lost() {
    return lost;
  }

  /** The members by leaf, as this device's MLS state has them (empty unless joined). */
  public Map<Integer, DeviceCredential> members() throws MlsGroupException {
    return joined() ? locked(member::members) : Map.of();
  }

  /** This device's leaf index in the group (it must have joined). */
  public int leafIndex() throws MlsGroupException {
    if (!joined()) {
      throw new MlsGroupException("this device is not a member of group " + groupId);
    }
    return member.leafIndex();
  }

  /**
   * Decrypts a PrivateMessage of this group with the epochs held (the current one, the one before;
   * the last one once removed). The ratchet moves on: {@link #save()} after the plaintext is kept.
   */
  public byte[] open(byte[] ciphertext) throws MlsGroupException {
    return openFrom(ciphertext).plaintext();
  }

  /** Like {@link #open}, with the member who sent it (authenticated by MLS). */
  public dev.cloister.mls.group.OpenedMessage openFrom(byte[] ciphertext) throws MlsGroupException {
    if (member == null) {
      throw new MlsGroupException("this device holds no state of group " + groupId);
    }
    return locked(() -> member.open(ciphertext));
  }

  /** Encrypts a chat message at the current epoch; {@link #save()} before sending it (never reuse a key). */
  public byte[] seal(byte[] plaintext) throws MlsGroupException {
    if (!joined()) {
      throw new MlsGroupException("this device is not a member of group " + groupId);
    }
    return locked(() -> member.protect(plaintext));
  }

  /**
   * This device's voice keys for the current epoch (the SFrame base key exported from it, and its
   * leaf index as the sender index), for {@code VoiceEngine#installEpoch}; call again after each
   * commit this session applies.
   */
  public dev.cloister.client.voice.VoiceEpoch voiceEpoch() throws MlsGroupException {
    if (!joined()) {
      throw new MlsGroupException("this device is not a member of group " + groupId);
    }
    return dev.cloister.client.voice.VoiceEpoch.of(member);
  }

  @Override
  public String toString() {
    return "GroupSession[" + groupId + ", seq=" + seq + ", epoch=" + epoch() + ", joinedEpoch="
        + joinedEpoch + (lost == null ? "" : ", lost: " + lost) + "]";
  }
}
