package dev.cloister.guild.voice;

import dev.cloister.sfu.conference.ConferenceRegistry;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * The SFU in the node's own JVM, reached without HTTP: the voice channels' {@link
 * VoiceChannel.MediaServers} when no standalone SFUs are configured. The registry's operations
 * take microseconds and never block on I/O, so they run on the caller's thread.
 */
public final class EmbeddedSfu implements VoiceChannel.MediaServers {

  private final ConferenceRegistry registry;

  public EmbeddedSfu(ConferenceRegistry registry) {
    this.registry = registry;
  }

  @Override
  public CompletionStage<VoiceChannel.Endpoint> allocate(String conferenceId, String endpointId) {
    try {
      return registry.allocate(conferenceId, endpointId)
          .map(a -> CompletableFuture.completedFuture(new VoiceChannel.Endpoint(a.endpointId(),
              a.ssrc(), a.iceUfrag(), a.icePwd(), a.udpHost(), a.udpPort(), a.audioLevelExtId())))
          .orElseGet(() -> CompletableFuture.failedFuture(new IllegalStateException(
              "endpoint " + endpointId + " already exists in " + conferenceId)));
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  @Override
  public CompletionStage<Done> update(String conferenceId, String endpointId, boolean serverMuted,
      boolean deafened) {
    registry.update(conferenceId, endpointId, serverMuted, deafened);
    return CompletableFuture.completedFuture(Done.getInstance());
  }

  @Override
  public CompletionStage<Done> free(String conferenceId, String endpointId) {
    registry.remove(conferenceId, endpointId);
    return CompletableFuture.completedFuture(Done.getInstance());
  }

  @Override
  public CompletionStage<List<String>> speakers(String conferenceId) {
    if (!registry.holds(conferenceId)) {
      // This node's SFU never had the call, or lost it: it was placed while the channel lived on
      // another node (that node died, or the shard moved), or this node restarted.
      return CompletableFuture.failedFuture(new VoiceChannel.ConferenceGone(
          "this node's SFU does not hold " + conferenceId));
    }
    return CompletableFuture.completedFuture(registry.speakers(conferenceId));
  }
}
