package dev.cloister.load;

import dev.cloister.client.CloisterClient;
import dev.cloister.client.Message;
import dev.cloister.client.chat.Chat;
import dev.cloister.client.chat.StoredMessage;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.mls.Refusal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One virtual user's client: a device home logged in with SRP, its gateway session (heartbeats,
 * resume and backfill are the SDK's), MLS chat, and what it saw: every message it was delivered
 * (timed against the sender's clock, one JVM), disconnects, typing and presence dispatches.
 *
 * <p>Threads: the Gatling step that owns the user calls {@link #post} and the lifecycle methods;
 * the gateway's delivery thread calls {@link #onDispatch}, which records the delivery and hands
 * the message to this member's decrypting thread, with a {@link Chat} of its own (a Chat is one
 * per thread; the home lock orders the two).
 */
public final class Member implements GatewayListener {

  /** Attempts at one post when the server asks for a sync first (a commit moved the epoch). */
  static final int POST_ATTEMPTS = 4;
  static final Duration ACK_WAIT = Duration.ofSeconds(30);

  private final String username;
  private final CloisterClient client;
  private final Ledger ledger;
  private final Recorder recorder;
  private final boolean decrypts;
  private final Set<Ledger.Key> received = ConcurrentHashMap.newKeySet();
  private final AtomicInteger disconnects = new AtomicInteger();
  private final AtomicInteger typingSeen = new AtomicInteger();
  private final AtomicInteger presenceSeen = new AtomicInteger();
  private final Chat sending;
  private volatile Chat receiving;
  private final java.util.concurrent.ThreadPoolExecutor decryptor;
  private volatile GatewayClient gateway;
  /** The voice call this member is in, if any: it gets the gateway's dispatches (its group's). */
  private volatile Participant call;
  private volatile boolean wasReady;
  private volatile String lastProblem = "";
  /** Messages sent before this moment are not this member's to receive (0: from the start). */
  private volatile long memberSinceMillis;
  /** Messages of epochs before this one are not this member's to read (0: from the start). */
  private volatile long joinedEpoch;
  private int posts;

  private Member(String username, CloisterClient client, Ledger ledger, Recorder recorder,
      boolean decrypts) {
    this.username = username;
    this.client = client;
    this.ledger = ledger;
    this.recorder = recorder;
    this.decrypts = decrypts;
    this.sending = client.chat();
    this.decryptor = !decrypts ? null : new java.util.concurrent.ThreadPoolExecutor(1, 1, 0,
        TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "cloister-load-decrypt-" + username);
          t.setDaemon(true);
          return t;
        });
  }

  /** Logs in with SRP from the prepared home (its device is enrolled: no key packages are made). */
  public static Member login(Map<String, Object> account, java.net.URI server, Ledger ledger,
      Recorder recorder, boolean decrypts) throws java.io.IOException {
    String username = (String) account.get("username");
    CloisterClient c = CloisterClient.login(server, Path.of((String) account.get("home")),
        username, (String) account.get("password"));
    return new Member(username, c, ledger, recorder, decrypts);
  }

  public String username() {
    return username;
  }

  public CloisterClient client() {
    return client;
  }

  /** Opens the gateway session and waits for its ready. */
  public void connect(Duration timeout) throws TimeoutException, InterruptedException {
    if (decrypts) {
      receiving = client.chat();
    }
    gateway = client.gateway(this);
    gateway.awaitReady(timeout);
    wasReady = true;
  }

  public GatewayClient gateway() {
    return gateway;
  }

  /**
   * Encrypts a text for the channel's group and sends it over the gateway, waiting for the ack;
   * records "encrypt" and "send-to-ack". A refusal that a sync cures (a commit moved the epoch)
   * is sent again, sealed anew, as the SDK's own {@code Chat.send} does.
   */
  public void post(String channelId) throws Exception {
    Exception last = null;
    for (int attempt = 0; attempt < POST_ATTEMPTS; attempt++) {
      String text = "load " + username + " #" + (++posts);
      long t0 = System.currentTimeMillis();
      Chat.Sealed sealed = sending.seal(channelId, text);
      long sentAt = System.currentTimeMillis();
      recorder.ok("encrypt", t0, sentAt);
      Ledger.Key key = ledger.sending(sealed.ciphertext(), sentAt, username, text);
      try {
        gateway.send(channelId, sealed.ciphertext()).get(ACK_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        ledger.acked(key);
        recorder.ok("send-to-ack", sentAt, System.currentTimeMillis());
        return;
      } catch (ExecutionException e) {
        ledger.refused(key);
        if (e.getCause() instanceof ApiException refusal && Refusal.curedBySync(refusal)) {
          last = refusal;
          continue;
        }
        recorder.ko("send-to-ack", sentAt, System.currentTimeMillis(),
            ClientCall.describe(e.getCause()));
        throw e.getCause() instanceof Exception cause ? cause : e;
      } catch (TimeoutException e) {
        ledger.refused(key);
        recorder.ko("send-to-ack", sentAt, System.currentTimeMillis(), "no ack in " + ACK_WAIT);
        throw e;
      }
    }
    throw last;
  }

  /** This member is in {@code p}'s call from now (null: in none). */
  void inCall(Participant p) {
    call = p;
  }

  public Participant call() {
    return call;
  }

  @Override
  public void onDispatch(Dispatch d) {
    Participant p = call;
    if (p != null) {
      p.onDispatch(d);
    }
    switch (d.type()) {
      case Dispatch.MESSAGE_CREATE -> delivered(d.message());
      case "TYPING_START" -> typingSeen.incrementAndGet();
      case "PRESENCE_UPDATE", "PRESENCE_BATCH" -> presenceSeen.incrementAndGet();
      default -> { }
    }
  }

  private void delivered(Message m) {
    long now = System.currentTimeMillis();
    Ledger.Sent s = ledger.lookup(m.ciphertext());
    if (s == null || s.sentAtMillis < memberSinceMillis
        || !received.add(Ledger.Key.of(m.ciphertext()))) {
      // not this run's, sent before this device was in the group (MLS keeps it unreadable to
      // it, as it should), or a second copy (a backfill after a resume)
      return;
    }
    recorder.ok("send-to-delivery", s.sentAtMillis, now);
    if (decryptor != null) {
      // Decrypting takes longer than a delivery; on a thread of its own it never delays the
      // next delivery's timing (the SDK's delivery thread only hands it over).
      decryptor.execute(new Decryption(m, s));
    }
  }

  /** One received message to decrypt, in arrival order, on this member's decrypting thread. */
  private final class Decryption implements Runnable {
    final Message message;
    final Ledger.Sent sent;

    Decryption(Message message, Ledger.Sent sent) {
      this.message = message;
      this.sent = sent;
    }

    @Override
    public void run() {
      try {
        StoredMessage stored = receiving.receive(message);
        long done = System.currentTimeMillis();
        if (stored.epoch() < joinedEpoch) {
          // Sealed at an epoch before this newcomer's device joined (and posted within the
          // server's grace for the previous epoch): MLS keeps it unreadable to it, rightly.
          return;
        }
        if (stored.state() == StoredMessage.State.READ && sent.text.equals(stored.text())) {
          recorder.ok("send-to-decrypted", sent.sentAtMillis, done);
        } else {
          recorder.ko("send-to-decrypted", sent.sentAtMillis, done, stored.state()
              == StoredMessage.State.READ ? "decrypted to another text" : stored.state() + ": "
              + stored.reason());
        }
      } catch (Exception | Error e) {
        recorder.ko("send-to-decrypted", sent.sentAtMillis, System.currentTimeMillis(),
            ClientCall.describe(e));
      }
    }
  }

  /** True when every message delivered so far has been decrypted (or this member does not decrypt). */
  public boolean decryptionsDone() {
    return decryptor == null || decryptor.getQueue().isEmpty() && decryptor.getActiveCount() == 0;
  }

  @Override
  public void onStateChange(GatewayClient.State state, String detail) {
    if (wasReady && state != GatewayClient.State.CONNECTED && state != GatewayClient.State.CLOSED) {
      if (state == GatewayClient.State.WAITING_TO_RECONNECT || state == GatewayClient.State.OFFLINE
          || state == GatewayClient.State.CONNECTING) {
        disconnects.incrementAndGet();
        lastProblem = detail;
      }
    }
  }

  /**
   * Records every acknowledged message sent in [since, until) that never reached this member as
   * a failed "send-to-delivery" (a message lost); returns how many.
   */
  public int recordLost(long sinceMillis, long untilMillis) {
    int lost = 0;
    long now = System.currentTimeMillis();
    for (Map.Entry<Ledger.Key, Ledger.Sent> e : ledger.ackedBetween(sinceMillis, untilMillis)
        .entrySet()) {
      if (!received.contains(e.getKey())) {
        lost++;
        recorder.ko("send-to-delivery", e.getValue().sentAtMillis, now, "lost: a message of "
            + e.getValue().sender + " never reached this member");
      }
    }
    return lost;
  }

  /** A newcomer outside the guild's group: no message counts for it until {@link #memberFromNow}. */
  public void notMemberYet() {
    memberSinceMillis = Long.MAX_VALUE;
  }

  /**
   * A newcomer's device is in the channel's group from now, at {@code epoch}: the messages sent
   * from now on, of that epoch or later, are its to receive and read; earlier ones are not
   * counted.
   */
  public void memberFromNow(long epoch) {
    joinedEpoch = epoch;
    memberSinceMillis = System.currentTimeMillis();
  }

  /** Disconnects seen since the session was ready (each one reconnected by the SDK, or not). */
  public int disconnects() {
    return disconnects.get();
  }

  public String lastProblem() {
    return lastProblem;
  }

  public boolean connected() {
    GatewayClient g = gateway;
    return g != null && g.state() == GatewayClient.State.CONNECTED;
  }

  public int typingSeen() {
    return typingSeen.get();
  }

  public int presenceSeen() {
    return presenceSeen.get();
  }

  /**
   * Closes the session; messages still waiting to be decrypted are recorded as failed
   * send-to-decrypted (the run ended before this client could read them).
   */
  public void close() {
    Participant p = call;
    if (p != null) {
      p.leave();
    }
    GatewayClient g = gateway;
    if (g != null) {
      g.close();
    }
    if (decryptor != null) {
      decryptor.shutdown();
      for (Runnable r : decryptor.getQueue().toArray(new Runnable[0])) {
        if (decryptor.remove(r) && r instanceof Decryption d) {
          recorder.ko("send-to-decrypted", d.sent.sentAtMillis, System.currentTimeMillis(),
              "not decrypted before the run ended: this client decrypts more slowly than "
              + "messages arrive");
        }
      }
    }
  }
}
