package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.Pcm;
import dev.cloister.client.voice.audio.ToneSource;
import dev.cloister.sfu.rtp.RtpPacket;
import io.github.jaredmdobson.concentus.OpusEncoder;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Prints the voice engine's cost per 20 ms frame (not a test; README, "Voice engine", for how to
 * run it and the figures):
 *
 * <ol>
 *   <li>send: level + Opus encode + SFrame seal + RTP + a UDP send on loopback, per Opus complexity;</li>
 *   <li>receive: a UDP receive + RTP parse + SFrame open + jitter buffer + decode + mix, for 1 and 3 senders;</li>
 *   <li>a live call: 3 engines and a real SFU in this JVM for 10 s, CPU of each engine's media thread per tick.</li>
 * </ol>
 * The same classes the engine runs, in the same order; medians and 99th percentiles of single frames.
 */
public final class VoiceEngineBenchmark {
  private static final int WARMUP = 1500;
  private static final int FRAMES = 3000;

  public static void main(String[] args) throws Exception {
    System.out.printf("machine: %d cores, load average %.1f (shared: figures are noisy)%n",
        Runtime.getRuntime().availableProcessors(), ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    send(5, false); // warms the JIT up for all of them
    for (int complexity : new int[] {0, 2, 5, 10}) {
      send(complexity, true);
    }
    receive(1);
    receive(3);
    liveCall();
  }

  private static String figures(long[] ns) {
    long[] s = ns.clone();
    Arrays.sort(s);
    double mean = Arrays.stream(s).average().orElse(0);
    return String.format("median %.3f ms, p99 %.3f ms, mean %.3f ms (%.1f %% of a core at 50 frames/s)",
        s[s.length / 2] / 1e6, s[(int) (s.length * 0.99)] / 1e6, mean / 1e6, mean / 20e6 * 100);
  }

  private static void send(int complexity, boolean print) throws Exception {
    VoiceConfig config = VoiceConfig.defaults().withDtx(false).withComplexity(complexity);
    OpusEncoder encoder = SendPath.newEncoder(config);
    VoiceKeys keys = new VoiceKeys(0);
    keys.install(new VoiceEpoch(1, 0, new byte[16]), 0);
    ToneSource tone = ToneSource.of(440);
    short[] pcm = new short[Pcm.FRAME_SAMPLES];
    byte[] opus = new byte[1275];
    byte[] out = new byte[2000];
    byte[] meta = new byte[8];
    long[] ns = new long[FRAMES];
    long bytes = 0;
    try (DatagramChannel to = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
         DatagramChannel from = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      InetSocketAddress target = (InetSocketAddress) to.getLocalAddress();
      to.configureBlocking(false);
      ByteBuffer drain = ByteBuffer.allocate(2000);
      for (int f = 0; f < WARMUP + FRAMES; f++) {
        tone.read(pcm);
        long t0 = System.nanoTime();
        int level = Pcm.audioLevel(pcm, Pcm.FRAME_SAMPLES);
        int n = encoder.encode(pcm, 0, Pcm.FRAME_SAMPLES, opus, 0, opus.length);
        int header = RtpPacket.write(out, 111, f & 0xFFFF, 960L * f, 7, 1, level, true, opus, 0, 0);
        System.arraycopy(out, 8, meta, 0, 4);
        System.arraycopy(out, 4, meta, 4, 4);
        int sealed = keys.protect(meta, 0, 8, opus, 0, n, out, header);
        from.send(ByteBuffer.wrap(out, 0, header + sealed), target);
        long t1 = System.nanoTime();
        if (f >= WARMUP) {
          ns[f - WARMUP] = t1 - t0;
          bytes += header + sealed;
        }
        while (to.receive(drain.clear()) != null) {
          // keep the receiver's buffer empty
        }
      }
    }
    if (print) {
      System.out.printf("send, complexity %2d: %s; %d bytes/packet%n", complexity, figures(ns), bytes / FRAMES);
    }
  }

  private static void receive(int senders) throws Exception {
    VoiceConfig config = VoiceConfig.defaults().withDtx(false).withComplexity(2);
    List<byte[]> packets = new ArrayList<>();
    List<Integer> lengths = new ArrayList<>();
    int total = WARMUP + FRAMES;
    // Pre-encode each sender's stream with its own keys (the cost measured is the receiver's).
    for (int s = 0; s < senders; s++) {
      OpusEncoder encoder = SendPath.newEncoder(config);
      VoiceKeys keys = new VoiceKeys(0);
      keys.install(new VoiceEpoch(1, s, new byte[16]), 0);
      ToneSource tone = ToneSource.of(300 + 200 * s);
      short[] pcm = new short[Pcm.FRAME_SAMPLES];
      byte[] opus = new byte[1275];
      byte[] meta = new byte[8];
      for (int f = 0; f < total; f++) {
        tone.read(pcm);
        int n = encoder.encode(pcm, 0, Pcm.FRAME_SAMPLES, opus, 0, opus.length);
        byte[] out = new byte[2000];
        int header = RtpPacket.write(out, 111, f & 0xFFFF, 960L * f, 100 + s, 1, 20, true, opus, 0, 0);
        System.arraycopy(out, 8, meta, 0, 4);
        System.arraycopy(out, 4, meta, 4, 4);
        int sealed = keys.protect(meta, 0, 8, opus, 0, n, out, header);
        packets.add(out);
        lengths.add(header + sealed);
      }
    }
    VoiceKeys keys = new VoiceKeys(0);
    keys.install(new VoiceEpoch(1, 9, new byte[16]), 0);
    ReceiveStream[] streams = new ReceiveStream[senders];
    for (int s = 0; s < senders; s++) {
      streams[s] = new ReceiveStream(100 + s, s, config);
    }
    Mixer mixer = new Mixer();
    RtpPacket rtp = new RtpPacket();
    short[] decoded = new short[Pcm.FRAME_SAMPLES];
    short[] mixed = new short[Pcm.FRAME_SAMPLES];
    byte[] in = new byte[2000];
    byte[] plain = new byte[2000];
    byte[] meta = new byte[8];
    long[] ns = new long[FRAMES];
    try (DatagramChannel to = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
         DatagramChannel from = DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      InetSocketAddress target = (InetSocketAddress) to.getLocalAddress();
      ByteBuffer inBuffer = ByteBuffer.wrap(in);
      long now = 0;
      for (int f = 0; f < total; f++) {
        for (int s = 0; s < senders; s++) {
          from.send(ByteBuffer.wrap(packets.get(s * total + f), 0, lengths.get(s * total + f)), target);
        }
        long t0 = System.nanoTime();
        for (int s = 0; s < senders; s++) {
          inBuffer.clear();
          to.receive(inBuffer);
          int len = inBuffer.position();
          rtp.wrap(in, 0, len);
          System.arraycopy(in, 8, meta, 0, 4);
          System.arraycopy(in, 4, meta, 4, 4);
          int n = keys.unprotect(meta, 0, 8, in, rtp.payloadOffset(), rtp.payloadLength(), plain, 0);
          if (n < 0) {
            throw new IllegalStateException("did not open: " + n);
          }
          streams[rtp.ssrc() - 100].onFrame(rtp.sequenceNumber(), rtp.timestamp(), plain, 0, n, 20, now);
        }
        mixer.clear();
        for (ReceiveStream st : streams) {
          if (st.playout(now, decoded)) {
            mixer.add(decoded);
          }
        }
        mixer.mixInto(mixed);
        long t1 = System.nanoTime();
        if (f >= WARMUP) {
          ns[f - WARMUP] = t1 - t0;
        }
        now += 20_000_000L;
      }
    }
    System.out.printf("receive, %d sender%s: %s%n", senders, senders == 1 ? " " : "s", figures(ns));
  }

  private static void liveCall() throws Exception {
    int seconds = Integer.getInteger("seconds", 10);
    try (SfuFixture sfu = new SfuFixture()) {
      VoiceGroup group = new VoiceGroup("bench", "p0");
      group.add("p1");
      group.add("p2");
      List<Party> parties = new ArrayList<>();
      VoiceConfig config = VoiceConfig.defaults().withDtx(false);
      for (int i = 0; i < 3; i++) {
        Party p = Party.join(sfu, "bench", "p" + i, 300 + 250 * i, ToneSource.of(300 + 250 * i), config, false);
        parties.add(p);
      }
      for (Party p : parties) {
        p.awaitBound();
        p.engine.installEpoch(group.epochOf(p.name));
      }
      Thread.sleep(2000);
      ThreadMXBean mx = ManagementFactory.getThreadMXBean();
      long cpu0 = engineCpu(mx);
      long t0 = System.nanoTime();
      Thread.sleep(seconds * 1000L);
      long cpu = engineCpu(mx) - cpu0;
      double wall = (System.nanoTime() - t0) / 1e9;
      System.out.printf("live call, 3 engines + SFU in one JVM, complexity %d, %.0f s: media threads %.1f %% of a core"
          + " each (%.2f ms CPU per 20 ms tick)%n", config.complexity(), wall, cpu / 3.0 / (wall * 1e9) * 100,
          cpu / 3.0 / (wall * 50) / 1e6);
      for (Party p : parties) {
        VoiceStats s = p.engine.stats();
        for (VoiceStats.Stream st : s.streams()) {
          System.out.printf("  %s from leaf %d: received %d, lost %d, jitter %.1f ms, concealed %d, late %d,"
              + " delay target %d ms; tick overruns %d%n", p.name, st.senderIndex(), st.received(), st.lost(),
              st.jitterMillis(), st.concealed(), st.late(), st.targetDelayMs(), s.tickOverruns());
        }
      }
      for (Party p : parties) {
        p.close();
      }
    }
  }

  private static long engineCpu(ThreadMXBean mx) {
    long sum = 0;
    for (long id : mx.getAllThreadIds()) {
      var info = mx.getThreadInfo(id);
      if (info != null && info.getThreadName().startsWith("voice-engine-")) {
        sum += Math.max(0, mx.getThreadCpuTime(id));
      }
    }
    return sum;
  }
}
