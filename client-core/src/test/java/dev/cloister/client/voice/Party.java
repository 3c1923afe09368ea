package dev.cloister.client.voice;

import dev.cloister.client.voice.audio.AudioSource;
import dev.cloister.client.voice.audio.CapturingSink;
import dev.cloister.client.voice.audio.Pcm;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;

/** One participant in a test call: an engine with a tone, what it heard, and optionally an impaired path to the SFU. */
final class Party implements AutoCloseable {
  final String name;
  final double hz;
  final VoiceEngine engine;
  final CapturingSink heard = new CapturingSink(20);
  final ImpairedPath path;

  private Party(String name, double hz, VoiceServer server, AudioSource source, VoiceConfig config,
      ImpairedPath path) throws IOException {
    this.name = name;
    this.hz = hz;
    this.path = path;
    this.engine = VoiceEngine.start(config, server, source, heard,
        new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
  }

  /** Joins {@code conference}: an endpoint from the SFU's control API, straight or through an impaired path. */
  static Party join(SfuFixture sfu, String conference, String name, double hz, AudioSource source,
      VoiceConfig config, boolean impaired) throws IOException, InterruptedException {
    VoiceServer server = sfu.allocate(conference, name);
    ImpairedPath path = null;
    if (impaired) {
      path = new ImpairedPath(server.address(), name.hashCode());
      server = new VoiceServer(path.address().getHostString(), path.address().getPort(), server.ssrc(),
          server.iceUfrag(), server.icePwd(), server.audioLevelExtId());
    }
    return new Party(name, hz, server, source, config, path);
  }

  void awaitBound() throws InterruptedException {
    if (!engine.awaitBound(Duration.ofSeconds(10))) {
      throw new AssertionError(name + " was not bound by the SFU within 10 s: " + engine.stats());
    }
  }

  /** The last {@code millis} of what this party heard. */
  short[] lastHeard(int millis) {
    return heard.last(Pcm.SAMPLE_RATE / 1000 * millis);
  }

  @Override
  public void close() throws IOException, InterruptedException {
    engine.close();
    if (path != null) {
      path.close();
    }
  }
}
