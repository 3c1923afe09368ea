package dev.cloister.client.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.client.Channel;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceConfig;
import dev.cloister.client.voice.VoiceStats;
import dev.cloister.client.voice.audio.AudioSink;
import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.client.voice.audio.SoundDevices;
import dev.cloister.client.voice.audio.ToneSource;
import dev.cloister.client.voice.audio.WavSink;
import dev.cloister.client.voice.audio.WavSource;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * voice: joins a voice channel, sends a WAV file, a tone or the microphone, records or plays what
 * it hears, and prints JSON lines: {@code joined}, {@code first_audio} (ms from the join request
 * to the first decrypted frame), {@code epoch} on each key change, {@code stats} at the end.
 */
final class VoiceVerb {

  private static final Duration READY_WITHIN = Duration.ofSeconds(30);
  private static final Duration JOIN_WITHIN = Duration.ofSeconds(20);

  private VoiceVerb() {}

  static List<Verb> all() {
    return List.of(new Verb("voice",
        "CHANNEL_ID [--play FILE.wav | --tone HZ] [--record OUT.wav] [--seconds N] [--mute]",
        "join a voice channel, send and hear; JSON lines: joined, first_audio, epoch, stats",
        VoiceVerb::voice));
  }

  static int voice(Invocation in) throws Exception {
    in.onlyOptions(Set.of("play", "tone", "record", "seconds", "mute"));
    String channelId = in.arg(0, "CHANNEL_ID");
    in.noMoreThan(1);
    if (in.option("play") != null && in.option("tone") != null) {
      throw new UsageException("--play and --tone cannot both be given");
    }
    long seconds = in.longOption("seconds", 0);
    boolean mute = in.option("mute") != null;
    CloisterClient client = in.client();
    Channel channel = client.api().channel(channelId);
    if (!"voice".equals(channel.type())) {
      in.err().println("cloister: error: channel " + channelId + " is a " + channel.type()
          + " channel, not a voice channel");
      return 1;
    }
    AtomicReference<VoiceCall> call = new AtomicReference<>();
    Lines lines = new Lines(in.out());
    GatewayClient gateway = client.gateway(new GatewayListener() {
      @Override
      public void onDispatch(Dispatch d) {
        VoiceCall c = call.get();
        if (c != null) {
          c.onDispatch(d);
        }
      }

      @Override
      public void onStateChange(GatewayClient.State state, String detail) {
        if (state == GatewayClient.State.WAITING_TO_RECONNECT) {
          in.err().println("cloister: note: " + detail);
        }
      }
    });
    try (gateway; AudioSource source = source(in); AudioSink sink = sink(in)) {
      try {
        gateway.awaitReady(READY_WITHIN);
      } catch (TimeoutException | IllegalStateException e) {
        in.err().println("cloister: error: " + e.getMessage());
        return 1;
      }
      long asked = System.nanoTime();
      // Opus's voice activity detection takes a steady tone for noise and would not send it.
      VoiceConfig config = source instanceof ToneSource ? VoiceConfig.defaults().withDtx(false)
          : VoiceConfig.defaults();
      VoiceCall joined = VoiceCall.join(client, gateway, channel.guildId(), channelId, mute,
          config, source, sink, new VoiceCall.Listener() {
            @Override
            public void epoch(long epoch, int members) {
              lines.event(line("epoch").put("epoch", epoch).put("members", members));
            }

            @Override
            public void notice(String text) {
              in.err().println("cloister: note: " + text);
            }

            @Override
            public void channelChanged(String channelId, String byUserId) {
              lines.event(line("moved").put("channelId", channelId)
                  .put("byUserId", byUserId));
            }
          }, JOIN_WITHIN);
      call.set(joined);
      try (joined) {
        lines.first(line("joined").put("channelId", channelId)
            .put("groupId", joined.groupId())
            .put("source", source.describe()).put("sink", sink.describe()));
        Thread stopper = new Thread(() -> closeQuietly(joined), "cloister-voice-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        long end = seconds == 0 ? Long.MAX_VALUE : System.nanoTime() + seconds * 1_000_000_000L;
        boolean heard = false;
        while (System.nanoTime() < end && joined.engine().running()) {
          if (!heard && joined.engine().stats().decrypted() > 0) {
            heard = true;
            lines.event(line("first_audio")
                .put("ms", (System.nanoTime() - asked) / 1_000_000));
          }
          Thread.sleep(heard ? 200 : 10);
        }
        if (!joined.engine().running() && joined.engine().problem() != null) {
          in.err().println("cloister: error: " + joined.engine().problem());
        }
        lines.last(stats(joined.engine().stats()));
        try {
          Runtime.getRuntime().removeShutdownHook(stopper);
        } catch (IllegalStateException shuttingDown) {
          // the hook leaves the call itself
        }
      }
      return 0;
    }
  }

  private static AudioSource source(Invocation in) throws IOException {
    if (in.option("play") != null) {
      return WavSource.open(Path.of(in.option("play")), true);
    }
    if (in.option("tone") != null) {
      try {
        return ToneSource.of(Double.parseDouble(in.option("tone")));
      } catch (NumberFormatException e) {
        throw new UsageException("--tone must be a frequency in Hz, not '" + in.option("tone")
            + "'");
      }
    }
    if (!SoundDevices.microphones().isEmpty()) {
      return SoundDevices.microphone(null);
    }
    in.err().println("cloister: note: no microphone here; sending a 440 Hz tone (--play or "
        + "--tone to choose)");
    return ToneSource.of(440);
  }

  private static AudioSink sink(Invocation in) throws IOException {
    if (in.option("record") != null) {
      return new WavSink(Path.of(in.option("record")));
    }
    if (!SoundDevices.speakers().isEmpty()) {
      return SoundDevices.speaker(null);
    }
    in.err().println("cloister: note: no speaker here; what you hear is dropped (--record to "
        + "keep it)");
    return new dev.cloister.client.voice.audio.CapturingSink(1);
  }

  private static ObjectNode line(String event) {
    return RestClient.JSON.createObjectNode().put("event", event);
  }

  private static ObjectNode stats(VoiceStats s) {
    ObjectNode o = line("stats").put("epoch", s.epoch()).put("framesSent", s.framesSent())
        .put("packetsIn", s.packetsIn()).put("decrypted", s.decrypted())
        .put("undecryptable", s.undecryptable()).put("heldThenDecrypted", s.heldThenDecrypted());
    long concealed = 0;
    long received = 0;
    ArrayNode streams = o.putArray("streams");
    for (VoiceStats.Stream st : s.streams()) {
      concealed += st.concealed();
      received += st.received();
      streams.addObject().put("ssrc", st.ssrc()).put("senderIndex", st.senderIndex())
          .put("received", st.received()).put("lost", st.lost())
          .put("jitterMs", Math.round(st.jitterMillis() * 10) / 10.0)
          .put("fecRecovered", st.fecRecovered()).put("concealed", st.concealed());
    }
    return o.put("received", received).put("concealed", concealed);
  }

  /**
   * The JSON lines in the order the README promises, whichever thread has something to say:
   * {@code joined} first (the call's key sync may install an epoch before the join is printed),
   * {@code stats} last (the others leaving still change the epoch while this call leaves).
   */
  private static final class Lines {
    private final PrintStream out;
    private List<ObjectNode> early = new ArrayList<>();
    private boolean over;

    Lines(PrintStream out) {
      this.out = out;
    }

    synchronized void first(ObjectNode joined) {
      println(joined);
      early.forEach(this::println);
      early = null;
    }

    synchronized void event(ObjectNode line) {
      if (early != null) {
        early.add(line);
      } else if (!over) {
        println(line);
      }
    }

    synchronized void last(ObjectNode stats) {
      println(stats);
      over = true;
    }

    private void println(ObjectNode line) {
      out.println(line.toString());
      out.flush();
    }
  }

  private static void closeQuietly(VoiceCall call) {
    try {
      call.close();
    } catch (IOException e) {
      // leaving anyway
    }
  }
}
