package dev.cloister.client.voice;

/**
 * Datagrams whose SFrame key this device does not have yet, oldest first, waiting for the epoch
 * they name (the commit that leads there is being processed). A fixed ring of copies: when it is
 * full the oldest gives way. One thread only.
 */
final class HeldFrames {
  private final byte[][] data;
  private final int[] length;
  private final long[] since;
  private int head;
  private int count;
  private long takenSince;

  HeldFrames(int capacity, int maxDatagram) {
    data = new byte[capacity][maxDatagram];
    length = new int[capacity];
    since = new long[capacity];
  }

  /**
   * Keeps a copy of {@code buf[0..len)}, held since {@code heldSince}.
   *
   * @return true if the oldest frame was dropped to make room
   */
  boolean add(byte[] buf, int len, long heldSince) {
    boolean dropped = false;
    if (count == data.length) {
      head = (head + 1) % data.length;
      count--;
      dropped = true;
    }
    int slot = (head + count) % data.length;
    System.arraycopy(buf, 0, data[slot], 0, len);
    length[slot] = len;
    since[slot] = heldSince;
    count++;
    return dropped;
  }

  int size() {
    return count;
  }

  /** Forgets every frame held. */
  void clear() {
    head = 0;
    count = 0;
  }

  /** Moves the oldest frame into {@code out} and returns its length; {@link #takenSince()} says since when it was held. */
  int takeOldest(byte[] out) {
    int slot = head;
    head = (head + 1) % data.length;
    count--;
    System.arraycopy(data[slot], 0, out, 0, length[slot]);
    takenSince = since[slot];
    return length[slot];
  }

  long takenSince() {
    return takenSince;
  }
}
