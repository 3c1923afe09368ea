package dev.cloister.node.http;

import dev.cloister.guild.Snowflake;
import dev.cloister.guild.group.EncryptionGroup;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;

/**
 * What a device may ask of an encryption group, the same over REST and the gateway: the device
 * is always one of the caller's own ({@code userId} comes from the token).
 */
public final class GroupCommands {

  private final ClusterSharding sharding;
  private final Duration timeout;

  public GroupCommands(ClusterSharding sharding, Duration timeout) {
    this.sharding = sharding;
    this.timeout = timeout;
  }

  /** {@code g<guildId>}, {@code c<channelId>}, or a call's {@code v<channelId>.<call>}. */
  static boolean isGroupId(String groupId) {
    if (groupId.length() < 2) {
      return false;
    }
    char kind = groupId.charAt(0);
    if (kind == 'g' || kind == 'c') {
      return Snowflake.parse(groupId.substring(1)).isPresent();
    }
    int dot = groupId.indexOf('.');
    return kind == 'v' && dot > 1 && Snowflake.parse(groupId.substring(1, dot)).isPresent()
        && groupId.substring(dot + 1).matches("[1-9][0-9]{0,18}");
  }

  <R> CompletionStage<R> ask(String groupId,
      Function<ActorRef<StatusReply<R>>, EncryptionGroup.Command> command) {
    if (!isGroupId(groupId)) {
      return CompletableFuture.failedFuture(
          new ApiError(404, "not_found", "unknown group '" + groupId + "'"));
    }
    return sharding.entityRefFor(EncryptionGroup.ENTITY_KEY, groupId)
        .askWithStatus(command::apply, timeout);
  }

  public CompletionStage<EncryptionGroup.Status> commit(String userId, String deviceId,
      String groupId, byte[] commit, byte[] welcome, byte[] groupInfo) {
    String device = userId + "/" + deviceId;
    return this.<EncryptionGroup.Status>ask(groupId, r -> new EncryptionGroup.SubmitCommit(
        device, commit, welcome, groupInfo,
        System.currentTimeMillis(), r))
        .whenComplete((status, failure) -> CommitOutcomes.count(failure));
  }

  public CompletionStage<EncryptionGroup.Status> revoke(String userId, String deviceId,
      String groupId, java.util.List<byte[]> refs, String reason) {
    String device = userId + "/" + deviceId;
    return ask(groupId, r -> new EncryptionGroup.Revoke(device, refs, reason, r));
  }

  public CompletionStage<EncryptionGroup.Status> reset(String userId, String deviceId,
      String groupId) {
    String device = userId + "/" + deviceId;
    return ask(groupId, r -> new EncryptionGroup.Reset(device, r));
  }
}
