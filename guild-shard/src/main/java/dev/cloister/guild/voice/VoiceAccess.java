package dev.cloister.guild.voice;

import dev.cloister.guild.Guild;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * Keeps a guild's voice channels to the members who may CONNECT: after a guild changed (a kick, a
 * ban, a role or overwrite taking CONNECT away), each voice channel's participants are checked
 * against the guild and those who may no longer be there are disconnected, with the reason.
 * Idempotent, so the roster driver's projection runs it with each batch of guild events (a retry or
 * a restart only checks again).
 */
public final class VoiceAccess {

  private final ClusterSharding sharding;
  private final Duration timeout;

  public VoiceAccess(ClusterSharding sharding, Duration timeout) {
    this.sharding = sharding;
    this.timeout = timeout;
  }

  public CompletionStage<Done> enforce(String guildId) {
    var guild = sharding.entityRefFor(Guild.ENTITY_KEY, guildId);
    return guild.<Guild.VoiceChannels>askWithStatus(Guild.GetVoiceChannels::new, timeout)
        .thenCompose(channels -> {
          Map<String, CompletableFuture<VoiceChannel.Participants>> asks = new LinkedHashMap<>();
          for (String channelId : channels.channelIds()) {
            asks.put(channelId, sharding.entityRefFor(VoiceChannel.ENTITY_KEY, channelId)
                .<VoiceChannel.Participants>askWithStatus(VoiceChannel.GetParticipants::new,
                    timeout)
                .toCompletableFuture());
          }
          return CompletableFuture.allOf(asks.values().toArray(CompletableFuture[]::new))
              .thenApply(x -> {
                Map<String, List<String>> present = new LinkedHashMap<>();
                asks.forEach((channelId, f) -> {
                  List<String> users = f.join().states().stream()
                      .map(VoiceRoom.VoiceState::userId).toList();
                  if (!users.isEmpty()) {
                    present.put(channelId, users);
                  }
                });
                return present;
              });
        })
        .thenCompose(present -> present.isEmpty()
            ? CompletableFuture.completedFuture(new Guild.VoiceEvictions(List.of()))
            : guild.<Guild.VoiceEvictions>askWithStatus(
                r -> new Guild.CheckVoiceAccess(present, r), timeout))
        .thenCompose(evictions -> {
          List<CompletableFuture<VoiceChannel.Participants>> done = new ArrayList<>();
          for (Guild.VoiceEviction e : evictions.evictions()) {
            done.add(sharding.entityRefFor(VoiceChannel.ENTITY_KEY, e.channelId())
                .<VoiceChannel.Participants>askWithStatus(
                    r -> new VoiceChannel.Disconnect(e.userId(), e.reason(), r), timeout)
                .toCompletableFuture());
          }
          return CompletableFuture.allOf(done.toArray(CompletableFuture[]::new))
              .thenApply(x -> Done.getInstance());
        });
  }
}
