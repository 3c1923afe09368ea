package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.AudioSink;
import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.client.voice.audio.Pcm;
import dev.cloister.mls.sframe.SFrameContext;
import dev.cloister.sfu.rtp.RtcpPacket;
import dev.cloister.sfu.rtp.RtpPacket;
import dev.cloister.sfu.stun.StunMessage;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The client's voice engine for one voice channel (DESIGN.md, "Voice transport"): every 20 ms it
 * reads a frame from its {@link AudioSource}, encodes it with Opus (concentus, 48 kHz mono, in-band
 * FEC, DTX), seals it with SFrame under the voice group's current MLS epoch ({@link VoiceKeys}) and
 * sends it as RTP (payload type 111, the RFC 6464 level in a one-byte RFC 8285 extension the SFU
 * reads without decrypting) to the SFU it is bound to by STUN ({@link StunBinding}). What the SFU
 * forwards is decrypted on arrival, put in a jitter buffer per sender, decoded (FEC, PLC), mixed
 * and written to its {@link AudioSink} on the same tick.
 *
 * <p>Plugging in: {@link #start} takes what the gateway's {@code VOICE_SERVER_UPDATE} carries
 * ({@link VoiceServer}); {@link #installEpoch} takes each epoch of the channel's MLS group as this
 * device reaches it ({@link VoiceEpoch#of}, {@code GroupSession#voiceEpoch}). Frames of an epoch
 * this device has not reached yet are held for {@code futureEpochHold} while its commit is
 * processed, so a rekey costs no frame; the epoch before stays for {@code epochGrace}.
 *
 * <p>One media thread owns everything on the media path (socket, codec, keys, buffers), so the hot
 * path takes no lock; other threads talk to it through {@link #installEpoch}, {@link #setMuted},
 * {@link #setDeafened} and {@link #stats}. Bad input on the media path is dropped silently and
 * counted ({@link VoiceStats}).
 */
public final class VoiceEngine implements AutoCloseable {
  static final int OPUS_PAYLOAD_TYPE = SendPath.OPUS_PAYLOAD_TYPE;
  private static final long FRAME_NANOS = Pcm.FRAME_MILLIS * 1_000_000L;
  private static final int MAX_DATAGRAM = 1500;
  private static final int HOLD_CAPACITY = 128;
  private static final int MAX_STREAMS = 256;
  private static final long STREAM_IDLE_NANOS = 30_000_000_000L;
  private static final int METADATA_LENGTH = SendPath.METADATA_LENGTH;

  private final VoiceConfig config;
  /** Where media goes; replaced (on the media thread) when the call moves to another SFU. */
  private volatile VoiceServer server;
  private InetSocketAddress serverAddress;
  private final AtomicReference<VoiceServer> nextServer = new AtomicReference<>();
  /** Another call to switch to (a moderator moved this member), for the media thread. */
  private final AtomicReference<CallSwitch> nextCall = new AtomicReference<>();
  /** Counts the calls this engine has served: epochs belong to the call they were given for. */
  private long generation;
  private volatile int moves;
  private final AudioSource source;
  private final AudioSink sink;
  private final DatagramChannel channel;
  private final Selector selector;
  private final Thread thread;
  private final SecureRandom random = new SecureRandom();
  private final ConcurrentLinkedQueue<PendingEpoch> pendingEpochs = new ConcurrentLinkedQueue<>();
  private final Map<Integer, ReceiveStream> streams = new ConcurrentHashMap<>();

  private record PendingEpoch(long generation, VoiceEpoch epoch, long sendFromNanos) {}

  private record CallSwitch(long generation, VoiceServer server) {}

  // Media thread state.
  /** The keys of the call's group; new ones when the engine switches to another call. */
  private VoiceKeys keys;
  private long activeGeneration;
  private volatile StunBinding stun;
  private final SendPath sender;
  private final RtpPacket rtp = new RtpPacket();
  private final Mixer mixer = new Mixer();
  private final short[] decoded = new short[Pcm.FRAME_SAMPLES];
  private final short[] mixed = new short[Pcm.FRAME_SAMPLES];
  private final byte[] out = new byte[MAX_DATAGRAM + 600];
  private final byte[] in = new byte[MAX_DATAGRAM + 1];
  private final ByteBuffer inBuffer = ByteBuffer.wrap(in);
  private final byte[] plain = new byte[MAX_DATAGRAM];
  private final byte[] meta = new byte[METADATA_LENGTH];
  private final HeldFrames held = new HeldFrames(HOLD_CAPACITY, MAX_DATAGRAM + 1);
  private int ssrc;
  private long nextReport;

  private volatile boolean running = true;
  private volatile boolean muted;
  private volatile boolean deafened;
  private volatile String problem;
  private VoiceEpoch lastRequested;
  private volatile VoiceEpoch lastInstalled;

  private volatile long packetsIn;
  private volatile long decrypted;
  private volatile long forged;
  private volatile long replayed;
  private volatile long unknownKey;
  private volatile long heldExpired;
  private volatile long heldThenDecrypted;
  private volatile long malformed;
  private volatile long foreignSource;
  private volatile long ownSsrc;
  private volatile long tickOverruns;

  private VoiceEngine(VoiceConfig config, VoiceServer server, AudioSource source, AudioSink sink,
      InetSocketAddress bind) throws IOException {
    this.config = config;
    this.server = server;
    this.serverAddress = server.address();
    if (serverAddress.isUnresolved()) {
      throw new IOException("voice server host " + server.udpHost() + " does not resolve");
    }
    this.source = source;
    this.sink = sink;
    this.ssrc = server.ssrcInt();
    this.keys = new VoiceKeys(config.epochGrace().toNanos());
    this.stun = new StunBinding(server, config, random);
    this.sender = new SendPath(config, server.ssrcInt(), server.audioLevelExtId(), random);
    this.channel = DatagramChannel.open();
    try {
      channel.setOption(StandardSocketOptions.SO_RCVBUF, 1 << 20);
      channel.bind(bind);
      channel.configureBlocking(false);
      this.selector = Selector.open();
      channel.register(selector, SelectionKey.OP_READ);
    } catch (IOException e) {
      channel.close();
      throw e;
    }
    this.thread = new Thread(this::run, "voice-engine-" + Integer.toUnsignedString(ssrc));
    thread.setDaemon(true);
    thread.setPriority(Thread.MAX_PRIORITY);
  }

  /**
   * Opens a UDP socket on {@code bind} (port 0 for any) and starts binding to {@code server} and
   * sending {@code source}. Frames flow once the SFU has answered the binding and the first epoch
   * is installed.
   */
  public static VoiceEngine start(VoiceConfig config, VoiceServer server, AudioSource source, AudioSink sink,
      InetSocketAddress bind) throws IOException {
    VoiceEngine e = new VoiceEngine(config, server, source, sink, bind);
    e.thread.start();
    return e;
  }

  public static VoiceEngine start(VoiceConfig config, VoiceServer server, AudioSource source, AudioSink sink)
      throws IOException {
    return start(config, server, source, sink, new InetSocketAddress(0));
  }

  /**
   * Hands the engine an epoch of the voice group (thread-safe). Sending moves to it at the next
   * frame; the previous epoch decrypts for the grace period. The same epoch again is ignored.
   *
   * @throws IllegalArgumentException an epoch older than one given before, or one given before
   *     with another key
   */
  public void installEpoch(VoiceEpoch epoch) {
    installEpoch(epoch, System.nanoTime());
  }

  /**
   * Hands the engine an epoch of the voice group (thread-safe) that frames are sealed under from
   * {@code sendFromNanos} ({@link System#nanoTime()}) on, the switch time the call's members
   * agree on; it decrypts at once. The epoch it replaces decrypts until the grace period after
   * that switch. The same epoch again is ignored.
   *
   * @throws IllegalArgumentException an epoch older than one given before, or one given before
   *     with another key
   */
  public synchronized void installEpoch(VoiceEpoch epoch, long sendFromNanos) {
    if (lastRequested != null) {
      if (epoch.epoch() < lastRequested.epoch()) {
        throw new IllegalArgumentException("epoch " + epoch.epoch() + " is older than epoch "
            + lastRequested.epoch() + " given before");
      }
      if (epoch.epoch() == lastRequested.epoch()) {
        if (!epoch.equals(lastRequested)) {
          throw new IllegalArgumentException("epoch " + epoch.epoch() + " given again with another key or leaf");
        }
        return;
      }
    }
    lastRequested = epoch;
    pendingEpochs.add(new PendingEpoch(generation, epoch, sendFromNanos));
    selector.wakeup();
  }

  /**
   * Switches to another call (thread-safe): a moderator moved this member into another voice
   * channel, whose call has its own conference and group. From the next frame on, media goes to
   * {@code next} after a new STUN binding there, with none of the old call's keys, held frames or
   * streams: nothing is sent until the first epoch of the new call's group is installed (epochs
   * given before this call are dropped, and numbering starts again). Codec, source and sink go on.
   *
   * @throws IOException its host does not resolve
   */
  public synchronized void switchCall(VoiceServer next) throws IOException {
    if (next.address().isUnresolved()) {
      throw new IOException("voice server host " + next.udpHost() + " does not resolve");
    }
    generation++;
    lastRequested = null;
    nextServer.set(null);
    nextCall.set(new CallSwitch(generation, next));
    selector.wakeup();
  }

  /**
   * The call moved to another SFU (thread-safe): from the next frame on, media goes to
   * {@code next}'s address under its SSRC, after a new STUN binding there. Keys, codec and the
   * jitter buffers go on; others' streams reappear under their new SSRCs.
   *
   * @throws IOException its host does not resolve
   */
  public void moveTo(VoiceServer next) throws IOException {
    if (next.address().isUnresolved()) {
      throw new IOException("voice server host " + next.udpHost() + " does not resolve");
    }
    nextServer.set(next);
    selector.wakeup();
  }

  /** How many times media moved to another SFU (the call's, or another call's) under this engine. */
  public int moves() {
    return moves;
  }

  /** Muted: nothing is sent (the binding's consent is still refreshed). */
  public void setMuted(boolean muted) {
    this.muted = muted;
  }

  /** Deafened: the sink gets silence (frames are still received and counted). */
  public void setDeafened(boolean deafened) {
    this.deafened = deafened;
  }

  /**
   * The level of the last frame captured from the source, measured whether muted or not: the
   * RFC 6464 scale the packets carry, 0 (loudest, 0 dBov) to 127 (silence), for a level meter.
   */
  public int inputLevel() {
    return sender.inputLevel;
  }

  public InetSocketAddress localAddress() throws IOException {
    return (InetSocketAddress) channel.getLocalAddress();
  }

  public VoiceServer server() {
    return server;
  }

  /** Why the engine stopped or what it could not do (source or sink failure), or null. */
  public String problem() {
    String p = problem;
    return p != null ? p : sender.problem;
  }

  public boolean running() {
    return running && thread.isAlive();
  }

  /** Waits (at most {@code timeout}) until the SFU has answered the STUN binding. */
  public boolean awaitBound(Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() - end < 0) {
      if (stun.consented(System.nanoTime())) {
        return true;
      }
      Thread.sleep(10);
    }
    return false;
  }

  public VoiceStats stats() {
    long now = System.nanoTime();
    List<VoiceStats.Stream> list = new ArrayList<>();
    for (ReceiveStream s : streams.values()) {
      list.add(s.snapshot(now));
    }
    list.sort(java.util.Comparator.comparingInt(VoiceStats.Stream::senderIndex));
    long f = forged;
    long r = replayed;
    long u = unknownKey;
    long h = heldExpired;
    VoiceEpoch current = lastInstalled;
    return new VoiceStats(current == null ? -1 : current.epoch(), stun.consented(now), sender.framesCaptured, sender.framesSent,
        sender.framesNotSent, packetsIn, decrypted, f + r + u + h, f, r, u, h, heldThenDecrypted, malformed,
        foreignSource, ownSsrc, stun.requestsSent, stun.errorResponses, tickOverruns, List.copyOf(list));
  }

  /** Stops the media thread (waiting at most 2 s), then closes the socket, the source and the sink. */
  @Override
  public void close() throws IOException {
    running = false;
    selector.wakeup();
    try {
      thread.join(2000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    IOException first = null;
    for (AutoCloseable c : new AutoCloseable[] {selector, channel, source, sink}) {
      try {
        c.close();
      } catch (Exception e) {
        if (first == null) {
          first = e instanceof IOException io ? io : new IOException(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  // ---- media thread ----

  private void run() {
    long nextTick = System.nanoTime();
    try {
      while (running) {
        long now = System.nanoTime();
        long wait = nextTick - now;
        if (wait > 0) {
          selector.select(Math.max(1, wait / 1_000_000L));
          selector.selectedKeys().clear();
          receiveAll();
          continue;
        }
        receiveAll();
        tick(now);
        nextTick += FRAME_NANOS;
        if (now - nextTick > 10 * FRAME_NANOS) {
          tickOverruns++; // stalled (GC, an overloaded machine): resynchronise instead of bursting
          nextTick = now + FRAME_NANOS;
        }
      }
    } catch (IOException | RuntimeException e) {
      problem = "voice engine stopped: " + e;
    } finally {
      running = false;
    }
  }

  private void receiveAll() throws IOException {
    for (int i = 0; i < 256; i++) {
      inBuffer.clear();
      SocketAddress from = channel.receive(inBuffer);
      if (from == null) {
        return;
      }
      long now = System.nanoTime();
      packetsIn++;
      int len = inBuffer.position();
      if (!serverAddress.equals(from)) {
        foreignSource++;
        continue;
      }
      if (len > MAX_DATAGRAM) {
        malformed++;
        continue;
      }
      if (StunMessage.looksLikeStun(in, 0, len)) {
        stun.onMessage(in, 0, len, now);
      } else if (RtcpPacket.looksLikeRtcp(in, 0, len)) {
        malformed++; // the SFU sends no RTCP
      } else {
        onRtp(in, len, now, -1);
      }
    }
  }

  /**
   * One RTP datagram from the SFU: decrypt, then into its sender's jitter buffer. A frame of an
   * epoch this device has not reached is held ({@code heldSince}: when it was first held, or -1).
   */
  private void onRtp(byte[] buf, int len, long now, long heldSince) {
    if (!rtp.wrap(buf, 0, len) || rtp.payloadType() != OPUS_PAYLOAD_TYPE || rtp.payloadLength() == 0) {
      malformed++;
      return;
    }
    int from = rtp.ssrc();
    if (from == ssrc) {
      ownSsrc++;
      return;
    }
    System.arraycopy(buf, 8, meta, 0, 4); // SSRC
    System.arraycopy(buf, 4, meta, 4, 4); // RTP timestamp
    int off = rtp.payloadOffset();
    int plen = rtp.payloadLength();
    int n = keys.unprotect(meta, 0, METADATA_LENGTH, buf, off, plen, plain, 0);
    if (n < 0) {
      switch (n) {
        case SFrameContext.ERR_UNKNOWN_KID -> {
          if (keys.mayBeAhead(buf, off, plen)) {
            hold(buf, len, heldSince < 0 ? now : heldSince);
          } else {
            unknownKey++;
          }
        }
        case SFrameContext.ERR_AUTH -> forged++;
        case SFrameContext.ERR_REPLAY -> replayed++;
        default -> malformed++;
      }
      return;
    }
    decrypted++;
    if (heldSince >= 0) {
      heldThenDecrypted++;
    }
    int sender = keys.senderOf(buf, off, plen);
    ReceiveStream stream = streams.get(from);
    if (stream == null || stream.senderIndex != sender) {
      // A new SSRC, or the SFU gave a departed member's SSRC to someone else: a fresh stream and decoder.
      if (stream == null && streams.size() >= MAX_STREAMS) {
        evictQuietest();
      }
      stream = new ReceiveStream(from, sender, config);
      streams.put(from, stream);
    }
    stream.onFrame(rtp.sequenceNumber(), rtp.timestamp(), plain, 0, n, rtp.audioLevel(server.audioLevelExtId()), now);
  }

  private void hold(byte[] buf, int len, long since) {
    if (held.add(buf, len, since)) {
      heldExpired++; // the oldest gave way
    }
  }

  /** Expires frames held too long and, when a new epoch arrived, tries the others again. */
  private void releaseHeld(long now, boolean retry) {
    long maxHold = config.futureEpochHold().toNanos();
    for (int n = held.size(); n > 0; n--) {
      int len = held.takeOldest(in);
      long since = held.takenSince();
      if (now - since > maxHold) {
        heldExpired++;
      } else if (retry) {
        onRtp(in, len, now, since); // held again if still ahead of us
      } else {
        held.add(in, len, since);
      }
    }
  }

  private void evictQuietest() {
    Integer oldest = null;
    long at = Long.MAX_VALUE;
    for (Map.Entry<Integer, ReceiveStream> e : streams.entrySet()) {
      if (e.getValue().lastHeard() < at) {
        at = e.getValue().lastHeard();
        oldest = e.getKey();
      }
    }
    if (oldest != null) {
      streams.remove(oldest);
    }
  }

  private void tick(long now) throws IOException {
    CallSwitch call = nextCall.getAndSet(null);
    if (call != null) {
      activeGeneration = call.generation();
      keys = new VoiceKeys(config.epochGrace().toNanos());
      lastInstalled = null;
      held.clear();
      streams.clear();
      useServer(call.server());
    }
    VoiceServer next = nextServer.getAndSet(null);
    if (next != null && !next.equals(server)) {
      useServer(next);
    }
    boolean newEpoch = false;
    for (PendingEpoch p; (p = pendingEpochs.peek()) != null; ) {
      if (p.generation() > activeGeneration) {
        break; // for a call this thread switches to at the next tick
      }
      pendingEpochs.poll();
      if (p.generation() == activeGeneration
          && keys.install(p.epoch(), now, p.sendFromNanos()) == VoiceKeys.Installed.NEW) {
        newEpoch = true;
        lastInstalled = p.epoch();
      }
    }
    keys.expire(now);
    if (held.size() > 0) {
      releaseHeld(now, newEpoch);
    }
    int stunLength = stun.poll(now, out);
    if (stunLength > 0) {
      channel.send(ByteBuffer.wrap(out, 0, stunLength), serverAddress);
    }
    send(now);
    playout(now);
    if (now - nextReport >= 0) {
      nextReport = now + config.rtcpInterval().toNanos();
      report(now);
    }
  }

  /** Sends to {@code next} from now on, under its SSRC, after a new binding there. */
  private void useServer(VoiceServer next) {
    server = next;
    serverAddress = next.address();
    ssrc = next.ssrcInt();
    stun = new StunBinding(next, config, random);
    sender.moved(ssrc, next.audioLevelExtId());
    moves++;
  }

  private void send(long now) throws IOException {
    int n = sender.next(source, muted, stun.consented(now), keys, out);
    if (n > 0) {
      channel.send(ByteBuffer.wrap(out, 0, n), serverAddress);
    }
  }

  private void playout(long now) {
    mixer.clear();
    for (ReceiveStream s : streams.values()) {
      if (s.playout(now, decoded)) {
        mixer.add(decoded);
      } else if (now - s.lastHeard() > STREAM_IDLE_NANOS) {
        streams.remove(s.ssrc);
      }
    }
    mixer.mixInto(mixed);
    if (deafened) {
      java.util.Arrays.fill(mixed, (short) 0);
    }
    try {
      sink.write(mixed);
    } catch (IOException | RuntimeException e) {
      problem = "audio sink failed: " + e.getMessage();
    }
  }

  private void report(long now) throws IOException {
    if (!stun.consented(now)) {
      return;
    }
    for (ReceiveStream s : streams.values()) {
      int n = s.writeReport(out, ssrc);
      channel.send(ByteBuffer.wrap(out, 0, n), serverAddress);
    }
  }
}
