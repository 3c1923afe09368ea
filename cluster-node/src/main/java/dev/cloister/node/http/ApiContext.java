package dev.cloister.node.http;

import dev.cloister.node.metrics.CloisterMetrics;

import dev.cloister.guild.Guild;
import dev.cloister.guild.GuildDirectory;
import dev.cloister.guild.Permission;
import dev.cloister.guild.Snowflake;
import dev.cloister.guild.channel.MessageHistory;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.guild.user.User;
import java.sql.SQLException;
import java.time.Duration;
import dev.cloister.guild.group.EncryptionGroup;
import dev.cloister.guild.group.GroupState;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.pattern.StatusReply;

/**
 * What the API routes and the gateway talk to: the entities, the read models and the id
 * generator, and the rules both share (posting a message).
 */
public record ApiContext(
    org.apache.pekko.actor.typed.ActorSystem<?> system, ClusterSharding sharding, GuildDirectory directory, MessageHistory history, Snowflake ids,
    Executor blocking, Duration askTimeout, Duration readYourWritesWait) {

  /** Blocking JDBC work, off the HTTP threads. */
  interface Sql<T> {
    T run() throws SQLException, InterruptedException;
  }

  <T> CompletionStage<T> sql(Sql<T> work) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return work.run();
      } catch (SQLException e) {
        throw new CompletionException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CompletionException(e);
      }
    }, blocking);
  }

  public String newId() {
    return Long.toString(ids.next());
  }

  <R> CompletionStage<R> guild(
      String guildId, Function<ActorRef<StatusReply<R>>, Guild.Command> command) {
    return sharding.entityRefFor(Guild.ENTITY_KEY, guildId).askWithStatus(command::apply, askTimeout);
  }

  /** Like {@link #guild}, for a command answered in {@link dev.cloister.guild.Parts}. */
  <R> CompletionStage<R> guildInParts(String guildId, Class<R> type,
      Function<ActorRef<StatusReply<dev.cloister.guild.Parts.Part>>, Guild.Command> command) {
    var entity = sharding.entityRefFor(Guild.ENTITY_KEY, guildId);
    return dev.cloister.guild.Parts.ask(system, r -> entity.tell(command.apply(r)), type,
        askTimeout);
  }

  CompletionStage<Guild.GuildView> act(String guildId, String userId, Guild.Action action) {
    return guild(guildId,
        r -> new Guild.Act(userId, action, System.currentTimeMillis(), r));
  }

  <R> CompletionStage<R> channel(
      String channelId, Function<ActorRef<StatusReply<R>>, TextChannel.Command> command) {
    return sharding.entityRefFor(TextChannel.ENTITY_KEY, channelId)
        .askWithStatus(command::apply, askTimeout);
  }

  <R> CompletionStage<R> user(
      String userId, Function<ActorRef<StatusReply<R>>, User.Command> command) {
    return sharding.entityRefFor(User.ENTITY_KEY, userId).askWithStatus(command::apply, askTimeout);
  }

  /** The guild a channel id belongs to, or a 404. */
  public CompletionStage<String> guildOfChannel(String channelId) {
    if (Snowflake.parse(channelId).isEmpty()) {
      return CompletableFuture.failedFuture(
          new ApiError(404, "not_found", "unknown channel '" + channelId + "'"));
    }
    // A cache hit answers at once: a lookup the node knows must not wait for a pool thread.
    Optional<String> known = directory.cached(GuildDirectory.Kind.CHANNEL, channelId);
    return (known.isPresent() ? CompletableFuture.completedFuture(known)
            : sql(() -> directory.lookup(GuildDirectory.Kind.CHANNEL, channelId)))
        .thenApply(g -> g.orElseThrow(
            () -> new ApiError(404, "not_found", "unknown channel '" + channelId + "'")));
  }

  /** The channel and the user's permissions in it, if they hold {@code permission} there. */
  CompletionStage<Guild.ChannelAccess> access(String userId, String channelId, Permission permission) {
    return guildOfChannel(channelId).thenCompose(guildId -> this.<Guild.ChannelAccess>guild(
        guildId, r -> new Guild.CheckChannelAccess(userId, channelId, permission, r)));
  }

  /** The channel and the user's permissions in it, if it is a text channel and they hold {@code permission}. */
  CompletionStage<Guild.ChannelAccess> textAccess(
      String userId, String channelId, Permission permission) {
    return access(userId, channelId, permission).thenApply(a -> {
      if (a.channel().type() != dev.cloister.guild.ChannelType.TEXT) {
        throw ApiError.badRequest("channel '" + channelId + "' is a "
            + a.channel().type().wireName() + " channel; only text channels hold messages");
      }
      return a;
    });
  }

  /**
   * Posts a message as {@code userId}: SEND_MESSAGES in a text channel, ciphertext within the
   * limit. The REST call and the gateway's {@code send} op both come here.
   */
  public CompletionStage<TextChannel.Message> post(String userId, String channelId, byte[] ciphertext) {
    if (ciphertext.length == 0) {
      return CompletableFuture.failedFuture(ApiError.badRequest("ciphertext must not be empty"));
    }
    if (ciphertext.length > TextChannel.MAX_CIPHERTEXT_BYTES) {
      return CompletableFuture.failedFuture(ApiError.tooLarge("ciphertext is " + ciphertext.length
          + " bytes; the limit is " + TextChannel.MAX_CIPHERTEXT_BYTES + " bytes (256 KiB) before base64"));
    }
    return textAccess(userId, channelId, Permission.SEND_MESSAGES)
        .thenCompose(a -> admit(a, ciphertext))
        .thenCompose(a -> this.<TextChannel.Message>channel(channelId,
            r -> new TextChannel.Post(userId, ciphertext, a.guildVersion(), r)))
        .thenApply(m -> {
          CloisterMetrics.MESSAGES_POSTED.increment();
          CloisterMetrics.MESSAGE_SIZE.record(ciphertext.length);
          return m;
        });
  }

  /**
   * A channel takes only an MLS PrivateMessage of its encryption group, of an epoch the group
   * takes now: 400 {@code not_mls}, {@code wrong_group}, {@code stale_epoch} (with the current
   * epoch), {@code future_epoch}; 409 {@code roster_pending} or {@code no_group} (sync the group
   * and retry). So plaintext can never be posted by mistake, and once a member's removal is due
   * the old epoch takes nothing more. The server sees the header only: group, epoch, content type.
   */
  CompletionStage<Guild.ChannelAccess> admit(Guild.ChannelAccess a, byte[] ciphertext) {
    MlsMessages.PrivateMessageHeader h;
    try {
      h = MlsMessages.parsePrivateMessageHeader(ciphertext);
    } catch (MlsWireException e) {
      return CompletableFuture.failedFuture(new ApiError(400, "not_mls", "the ciphertext is not "
          + "an MLS PrivateMessage (" + e.getMessage() + "); encrypt it for the channel's group "
          + a.groupId()));
    }
    if (h.contentType() != MlsMessages.CONTENT_APPLICATION) {
      return CompletableFuture.failedFuture(new ApiError(400, "not_mls",
          "a message must carry MLS application content"));
    }
    if (!Arrays.equals(h.groupId(), a.groupId().getBytes(StandardCharsets.UTF_8))) {
      return CompletableFuture.failedFuture(new ApiError(400, "wrong_group",
          "this channel's messages use the encryption group " + a.groupId()));
    }
    return sharding.entityRefFor(EncryptionGroup.ENTITY_KEY, a.groupId())
        .<EncryptionGroup.Admission>askWithStatus(r -> new EncryptionGroup.AdmitPost(h.epoch(),
            a.audienceVersion(), System.currentTimeMillis(), r), askTimeout)
        .handle((admitted, failure) -> {
          if (failure == null) {
            return a;
          }
          throw mlsRefusal(failure);
        });
  }

  /** The group's reasons keep their own codes (see {@code GroupState}). */
  static RuntimeException mlsRefusal(Throwable failure) {
    ApiError e = ApiError.of(failure);
    if (e == null) {
      return failure instanceof RuntimeException r ? r : new CompletionException(failure);
    }
    String message = e.getMessage();
    for (String code : List.of(GroupState.STALE_EPOCH, GroupState.FUTURE_EPOCH,
        GroupState.ROSTER_PENDING, GroupState.NO_GROUP, GroupState.WRONG_GROUP)) {
      if (message.startsWith(code + ": ")) {
        int status = code.equals(GroupState.ROSTER_PENDING) || code.equals(GroupState.NO_GROUP)
            ? 409 : 400;
        return new ApiError(status, code, message.substring(code.length() + 2));
      }
    }
    return e;
  }

  /**
   * Waits, at most {@code readYourWritesWait}, until the history read model has applied every
   * event the channel had when asked; then a client reads its own writes. If it has not by then
   * (the projection is behind or stalled, the database away), a 503 with {@code Retry-After}:
   * never an answer that looks current and is not. Waits without holding a pool thread.
   */
  CompletionStage<TextChannel.Info> caughtUp(String channelId) {
    return this.<TextChannel.Info>channel(channelId, TextChannel.GetInfo::new)
        .thenCompose(info -> awaitReadModel(channelId, info,
            System.nanoTime() + readYourWritesWait.toNanos(), 5));
  }

  private CompletionStage<TextChannel.Info> awaitReadModel(
      String channelId, TextChannel.Info info, long deadline, long pollMillis) {
    return sql(() -> history.version(channelId)).thenCompose(version -> {
      if (version >= info.version()) {
        return CompletableFuture.completedFuture(info);
      }
      long leftMillis = (deadline - System.nanoTime()) / 1_000_000;
      if (leftMillis <= 0) {
        throw ApiError.unavailable("the message history of this channel is catching up with its "
            + "latest messages; try again shortly", 1);
      }
      Executor later = CompletableFuture.delayedExecutor(
          Math.min(pollMillis, leftMillis), TimeUnit.MILLISECONDS, Runnable::run);
      return CompletableFuture.runAsync(() -> { }, later).thenCompose(x ->
          awaitReadModel(channelId, info, deadline, Math.min(pollMillis * 2, 100)));
    });
  }
}
