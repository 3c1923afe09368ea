package dev.cloister.load;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The messages a run sent, shared by its senders and receivers (one JVM drives every client):
 * each ciphertext's send time, so a receiver measures send-to-delivery from its own copy, and
 * whether the server acknowledged it, so that every member can tell which messages it lost.
 * Keys are digests of the ciphertext: two sends never share one (MLS encrypts each anew).
 */
public final class Ledger {

  /** One sent message: when it left the sender, and whether it was acknowledged. */
  public static final class Sent {
    final long sentAtMillis;
    final String sender;
    final String text;
    volatile boolean acked;

    Sent(long sentAtMillis, String sender, String text) {
      this.sentAtMillis = sentAtMillis;
      this.sender = sender;
      this.text = text;
    }
  }

  private final Map<Key, Sent> sent = new ConcurrentHashMap<>();
  private final AtomicInteger online = new AtomicInteger();

  /** A digest of a ciphertext, the ledger's key. */
  public record Key(long a, long b) {
    static Key of(byte[] ciphertext) {
      try {
        ByteBuffer d = ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(ciphertext));
        return new Key(d.getLong(), d.getLong());
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** Records a ciphertext about to be sent; returns its key. */
  public Key sending(byte[] ciphertext, long sentAtMillis, String sender, String text) {
    Key k = Key.of(ciphertext);
    sent.put(k, new Sent(sentAtMillis, sender, text));
    return k;
  }

  public void acked(Key k) {
    Sent s = sent.get(k);
    if (s != null) {
      s.acked = true;
    }
  }

  /** The server refused it (or the connection dropped first): nobody is owed it. */
  public void refused(Key k) {
    sent.remove(k);
  }

  /** What the ledger knows of a received ciphertext; null if this run did not send it. */
  public Sent lookup(byte[] ciphertext) {
    return sent.get(Key.of(ciphertext));
  }

  /** The acknowledged messages sent at or after {@code sinceMillis} and before {@code untilMillis}. */
  public Map<Key, Sent> ackedBetween(long sinceMillis, long untilMillis) {
    Map<Key, Sent> out = new java.util.HashMap<>();
    sent.forEach((k, s) -> {
      if (s.acked && s.sentAtMillis >= sinceMillis && s.sentAtMillis < untilMillis) {
        out.put(k, s);
      }
    });
    return out;
  }

  public int acknowledged() {
    int n = 0;
    for (Sent s : sent.values()) {
      if (s.acked) {
        n++;
      }
    }
    return n;
  }

  public void online() {
    online.incrementAndGet();
  }

  public int onlineCount() {
    return online.get();
  }
}
