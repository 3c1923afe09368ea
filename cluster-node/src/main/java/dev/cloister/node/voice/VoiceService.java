package dev.cloister.node.voice;

import com.typesafe.config.Config;
import dev.cloister.guild.GuildFeed;
import dev.cloister.guild.voice.EmbeddedSfu;
import dev.cloister.guild.voice.SfuPlacement;
import dev.cloister.guild.voice.VoiceChannel;
import dev.cloister.node.metrics.SfuSampler;
import dev.cloister.sfu.SelectiveForwardingUnit;
import dev.cloister.sfu.SfuConfig;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's voice: the SFU its calls are placed on (its own, in this JVM, or the standalone ones
 * of {@code cloister.voice.sfus}) and the sharded {@link VoiceChannel} entities.
 */
public final class VoiceService implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(VoiceService.class);

  /** What the gateway needs of the voice settings. */
  public record Settings(Duration rekeyInterval, Duration leaveGrace) {}

  private final SelectiveForwardingUnit embedded;
  private final SfuPlacement placement;
  private final Settings settings;
  private final SfuSampler sampler;

  private VoiceService(SelectiveForwardingUnit embedded, SfuPlacement placement,
      Settings settings, SfuSampler sampler) {
    this.sampler = sampler;
    this.embedded = embedded;
    this.placement = placement;
    this.settings = settings;
  }

  /** {@code root}: the whole configuration ({@code cloister.voice} and {@code cloister.sfu}). */
  public static VoiceService start(ActorSystem<?> system, Config root, GuildFeed feed,
      Duration askTimeout) throws Exception {
    Config voice = root.getConfig("cloister.voice");
    Settings settings = new Settings(voice.getDuration("rekey-interval"),
        voice.getDuration("leave-grace"));
    // A channel that came back waits for its participants' sessions as long as a session that
    // lost its connection is waited for, and a little more for the roll call to go round.
    VoiceChannel.Settings channel = new VoiceChannel.Settings(voice.getDuration("roster-window"),
        voice.getDuration("speaking-interval"), voice.getDuration("sfu-failover-after"),
        voice.getDuration("leave-grace").plusSeconds(5));
    List<URI> sfus = SfuPlacement.parse(voice.getString("sfus"));
    VoiceChannel.MediaServers media;
    SelectiveForwardingUnit embedded = null;
    SfuPlacement placement = null;
    if (sfus.isEmpty()) {
      // Its control API serves nobody here (the registry is called directly): loopback, any port.
      SfuConfig config = SfuConfig.fromConfig(root).withHosts(
          root.getString("cloister.sfu.bind-host"), root.getString("cloister.sfu.public-host"),
          "127.0.0.1").withPorts(root.getInt("cloister.sfu.udp-port"), 0);
      try {
        embedded = new SelectiveForwardingUnit(config).start();
      } catch (java.net.BindException e) {
        throw new IllegalStateException("the node's SFU cannot bind UDP " + config.bindHost() + ":"
            + config.udpPort() + " (" + e.getMessage() + "): set CLOISTER_SFU_UDP_PORT to a free "
            + "port, or CLOISTER_SFUS to standalone SFUs", e);
      }
      media = new EmbeddedSfu(embedded.conferences());
      log.info("Voice: the node's own SFU takes media on UDP {} (clients are sent to {})",
          embedded.udpAddress(), embedded.advertisedAddress().getHostString() + ":"
              + embedded.advertisedAddress().getPort());
    } else {
      placement = new SfuPlacement(sfus, voice.getString("sfu-secret"),
          voice.getDuration("sfu-timeout"), voice.getDuration("sfu-health-interval"));
      media = placement;
      log.info("Voice: calls are placed on the standalone SFUs {}", sfus);
    }
    VoiceChannel.init(system, media, feed, channel, askTimeout);
    SfuSampler sampler = embedded == null ? null : SfuSampler.start(embedded,
        root.getDuration("cloister.metrics.sample-interval"));
    return new VoiceService(embedded, placement, settings, sampler);
  }

  public Settings settings() {
    return settings;
  }

  /** The SFU in this JVM, or null when calls go to standalone SFUs. */
  public SelectiveForwardingUnit embedded() {
    return embedded;
  }

  @Override
  public void close() {
    if (sampler != null) {
      sampler.close();
    }
    if (placement != null) {
      placement.close();
    }
    if (embedded != null) {
      embedded.close();
    }
  }
}
