package dev.cloister.client.mls;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;

/**
 * What {@code groups/<groupId>.mls} holds: the device's MLS state for the group ({@link
 * dev.cloister.mls.group.GroupMember#toBytes()}, or none while it waits to join) and where it is
 * in the group's log.
 *
 * @param seq the last log entry processed
 * @param joinedEpoch the epoch this device's current membership began at, or -1 before it joined
 * @param welcomeFloor Welcomes at or below this seq are stale (from before a reset or a removal)
 * @param lost why this device is no longer in the group, or null; the member then keeps only
 *     its last epoch, for messages sent before
 * @param member the GroupMember bytes, or null
 */
public record SavedGroup(String groupId, long seq, long joinedEpoch, long welcomeFloor, String lost,
    byte[] member) {

  private static final int MAGIC = 0x434c4752; // "CLGR"
  private static final int VERSION = 1;
  private static final int MAX_MEMBER = 64 * 1024 * 1024;

  public static SavedGroup waiting(String groupId, long welcomeFloor) {
    return new SavedGroup(groupId, 0, -1, welcomeFloor, null, null);
  }

  public byte[] toBytes() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeInt(MAGIC);
      out.writeByte(VERSION);
      out.writeUTF(groupId);
      out.writeLong(seq);
      out.writeLong(joinedEpoch);
      out.writeLong(welcomeFloor);
      out.writeBoolean(lost != null);
      if (lost != null) {
        out.writeUTF(lost);
      }
      out.writeInt(member == null ? -1 : member.length);
      if (member != null) {
        out.write(member);
      }
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** @throws IOException the bytes are not a saved group of this format */
  public static SavedGroup fromBytes(byte[] bytes) throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
    if (in.readInt() != MAGIC) {
      throw new IOException("not a Cloister group state");
    }
    int version = in.readUnsignedByte();
    if (version != VERSION) {
      throw new IOException("group state format " + version + ", this client reads " + VERSION);
    }
    String groupId = in.readUTF();
    long seq = in.readLong();
    long joinedEpoch = in.readLong();
    long welcomeFloor = in.readLong();
    String lost = in.readBoolean() ? in.readUTF() : null;
    int length = in.readInt();
    if (length < -1 || length > MAX_MEMBER || length > in.available()) {
      throw new IOException("group state length " + length + " is out of range");
    }
    byte[] member = null;
    if (length >= 0) {
      member = in.readNBytes(length);
    }
    if (in.available() != 0) {
      throw new IOException("trailing bytes after the group state");
    }
    if (seq < 0 || !GroupApi.validGroupId(groupId)) {
      throw new IOException("group state fields out of range");
    }
    return new SavedGroup(groupId, seq, joinedEpoch, welcomeFloor, lost, member);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SavedGroup s && groupId.equals(s.groupId) && seq == s.seq
        && joinedEpoch == s.joinedEpoch && welcomeFloor == s.welcomeFloor
        && java.util.Objects.equals(lost, s.lost) && Arrays.equals(member, s.member);
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(groupId, seq, joinedEpoch, welcomeFloor, lost,
        Arrays.hashCode(member));
  }

  @Override
  public String toString() {
    return "SavedGroup[" + groupId + ", seq=" + seq + ", joinedEpoch=" + joinedEpoch
        + ", welcomeFloor=" + welcomeFloor + ", lost=" + lost + ", member="
        + (member == null ? "none" : member.length + " bytes") + "]";
  }
}
