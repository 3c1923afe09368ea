package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import dev.cloister.guild.Guild;
import dev.cloister.guild.Permission;
import dev.cloister.guild.Snowflake;
import dev.cloister.guild.channel.MessageHistory;
import dev.cloister.guild.channel.TextChannel;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;

/** Channels: their settings and overwrites, and the messages and pins of text channels. */
final class ChannelRoutes extends JsonRoutes {

  private static final int DEFAULT_PAGE = 50;

  private final ApiContext ctx;

  ChannelRoutes(ApiContext ctx) {
    this.ctx = ctx;
  }

  Route route(String me) {
    return pathPrefix(segment("channels").slash(segment()), channelId -> concat(
        pathEnd(() -> concat(
            get(() -> reply(() -> ctx.access(me, channelId, Permission.VIEW_CHANNEL)
                .thenCompose(a -> channelResponse(me, channelId, 200)))),
            patch(() -> body(b -> update(me, channelId, b))),
            delete(() -> discardingBody(() -> ctx.guildOfChannel(channelId).thenCompose(g ->
                ctx.act(g, me, new Guild.DeleteChannel(channelId))).thenApply(v -> noContent()))))),
        path(segment("overwrites").slash(segment()), targetId -> concat(
            put(() -> body(b -> setOverwrite(me, channelId, targetId, b))),
            delete(() -> discardingBody(() -> ctx.guildOfChannel(channelId).thenCompose(g ->
                    ctx.act(g, me, new Guild.RemoveOverwrite(channelId, targetId)))
                .thenApply(v -> noContent()))))),
        pathPrefix("messages", () -> concat(
            pathEnd(() -> concat(
                post(() -> body(b -> post(me, channelId, b))),
                get(() -> parameterMap(q -> reply(() -> history(me, channelId, q)))))),
            path(segment(), messageId -> concat(
                patch(() -> body(b -> edit(me, channelId, messageId, b))),
                delete(() -> discardingBody(() -> deleteMessage(me, channelId, messageId))))))),
        pathPrefix("pins", () -> concat(
            pathEnd(() -> get(() -> reply(() -> pins(me, channelId)))),
            path(segment(), messageId -> concat(
                put(() -> discardingBody(() -> pin(me, channelId, messageId, true))),
                delete(() -> discardingBody(() -> pin(me, channelId, messageId, false)))))))));
  }

  // ---- the channel ----

  private CompletionStage<HttpResponse> channelResponse(String me, String channelId, int status) {
    return ctx.guildOfChannel(channelId)
        .thenCompose(g -> ctx.<Guild.GuildView>guild(g, r -> new Guild.Get(me, r)))
        .thenApply(v -> {
          for (int i = 0; i < v.channels().size(); i++) {
            if (v.channels().get(i).id().equals(channelId)) {
              return response(status, Views.channel(v.id(), v.channels().get(i), i));
            }
          }
          throw new ApiError(404, "not_found", "unknown channel '" + channelId + "'");
        });
  }

  private CompletionStage<HttpResponse> update(String me, String channelId, JsonBody body) {
    String name = body.optionalString("name");
    String parentId = body.has("parentId") || !body.hasField("parentId")
        ? body.optionalString("parentId") : "";
    Integer position = body.optionalInt("position", 0, Guild.MAX_CHANNELS);
    return ctx.guildOfChannel(channelId)
        .thenCompose(g -> ctx.act(g, me,
            new Guild.UpdateChannel(channelId, name, parentId, position)))
        .thenCompose(v -> channelResponse(me, channelId, 200));
  }

  private CompletionStage<HttpResponse> setOverwrite(
      String me, String channelId, String targetId, JsonBody body) {
    String type = body.string("type");
    Guild.OverwriteType overwriteType = switch (type) {
      case "role" -> Guild.OverwriteType.ROLE;
      case "member" -> Guild.OverwriteType.MEMBER;
      default -> throw ApiError.badRequest("type must be \"role\" or \"member\"");
    };
    long allow = body.has("allow") ? body.permissions("allow") : 0;
    long deny = body.has("deny") ? body.permissions("deny") : 0;
    return ctx.guildOfChannel(channelId)
        .thenCompose(g -> ctx.act(g, me, new Guild.SetOverwrite(channelId,
            new Guild.Overwrite(targetId, overwriteType, allow, deny))))
        .thenApply(v -> noContent());
  }

  // ---- messages ----

  private CompletionStage<Guild.ChannelAccess> textAccess(
      String me, String channelId, Permission permission) {
    return ctx.textAccess(me, channelId, permission);
  }

  private CompletionStage<HttpResponse> post(String me, String channelId, JsonBody body) {
    return ctx.post(me, channelId, body.base64("ciphertext"))
        .thenApply(m -> response(201, Views.message(m.id(), m.channelId(), m.authorId(),
            m.ciphertext(), m.createdAtMillis(), 0, false)));
  }

  private static byte[] ciphertext(JsonBody body) {
    byte[] ciphertext = body.base64("ciphertext");
    if (ciphertext.length == 0) {
      throw ApiError.badRequest("ciphertext must not be empty");
    }
    if (ciphertext.length > TextChannel.MAX_CIPHERTEXT_BYTES) {
      throw ApiError.tooLarge("ciphertext is " + ciphertext.length + " bytes; the limit is "
          + TextChannel.MAX_CIPHERTEXT_BYTES + " bytes (256 KiB) before base64");
    }
    return ciphertext;
  }

  private CompletionStage<HttpResponse> history(
      String me, String channelId, Map<String, String> query) {
    int limit = DEFAULT_PAGE;
    if (query.containsKey("limit")) {
      try {
        limit = Integer.parseInt(query.get("limit"));
      } catch (NumberFormatException e) {
        limit = 0;
      }
      if (limit < 1) {
        throw ApiError.badRequest("limit must be a whole number from 1 to 100");
      }
    }
    OptionalLong before = cursor(query, "before");
    OptionalLong after = cursor(query, "after");
    int pageSize = Math.min(limit, MessageHistory.MAX_PAGE);
    return textAccess(me, channelId, Permission.READ_MESSAGE_HISTORY)
        .thenCompose(a -> ctx.caughtUp(channelId))
        .thenCompose(info -> ctx.sql(() -> ctx.history().page(channelId, before, after, pageSize)))
        .thenApply(messages -> response(200, Views.messages(messages)));
  }

  /** The message as the read model holds it once it has caught up, or a 404. */
  private CompletionStage<MessageHistory.StoredMessage> stored(String channelId, String messageId) {
    OptionalLong id = Snowflake.parse(messageId);
    if (id.isEmpty()) {
      return CompletableFuture.failedFuture(new ApiError(404, "not_found", "unknown message"));
    }
    return ctx.caughtUp(channelId)
        .thenCompose(info -> ctx.sql(() -> ctx.history().find(channelId, id.getAsLong())))
        .thenApply(m -> m.orElseThrow(() -> new ApiError(404, "not_found", "unknown message")));
  }

  private CompletionStage<HttpResponse> edit(
      String me, String channelId, String messageId, JsonBody body) {
    byte[] ciphertext = ciphertext(body);
    return textAccess(me, channelId, Permission.VIEW_CHANNEL)
        .thenCompose(a -> stored(channelId, messageId).thenCompose(m -> {
          if (!m.authorId().equals(me)) {
            throw new ApiError(403, "forbidden", "only the author can edit a message");
          }
          return ctx.admit(a, ciphertext).thenApply(x -> m);
        }))
        .thenCompose(m -> {
          if (!m.authorId().equals(me)) {
            throw new ApiError(403, "forbidden", "only the author can edit a message");
          }
          return ctx.<TextChannel.Info>channel(channelId,
                  r -> new TextChannel.Edit(m.id(), me, ciphertext, r))
              .thenCompose(info -> stored(channelId, messageId));
        })
        .thenApply(m -> response(200, Views.message(m)));
  }

  private CompletionStage<HttpResponse> deleteMessage(String me, String channelId, String messageId) {
    return textAccess(me, channelId, Permission.VIEW_CHANNEL)
        .thenCompose(a -> stored(channelId, messageId).thenCompose(m -> {
          if (!m.authorId().equals(me) && !Permission.MANAGE_MESSAGES.in(a.permissions())) {
            throw new ApiError(403, "forbidden",
                "missing permission MANAGE_MESSAGES to delete another member's message");
          }
          return ctx.<TextChannel.Info>channel(channelId,
              r -> new TextChannel.Delete(m.id(), me, r));
        }))
        .thenApply(info -> noContent());
  }

  private CompletionStage<HttpResponse> pins(String me, String channelId) {
    return textAccess(me, channelId, Permission.READ_MESSAGE_HISTORY)
        .thenCompose(a -> ctx.caughtUp(channelId))
        .thenCompose(info -> ctx.sql(() -> ctx.history().pinned(channelId)))
        .thenApply(messages -> response(200, Views.messages(messages)));
  }

  private CompletionStage<HttpResponse> pin(
      String me, String channelId, String messageId, boolean pinned) {
    return textAccess(me, channelId, Permission.MANAGE_MESSAGES)
        .thenCompose(a -> stored(channelId, messageId))
        .thenCompose(m -> ctx.<TextChannel.Info>channel(channelId,
            r -> new TextChannel.Pin(m.id(), pinned, r)))
        .thenApply(info -> noContent());
  }

  private static OptionalLong cursor(Map<String, String> query, String name) {
    if (!query.containsKey(name)) {
      return OptionalLong.empty();
    }
    OptionalLong id = Snowflake.parse(query.get(name));
    if (id.isEmpty()) {
      throw ApiError.badRequest(name + " must be a message id (a positive decimal number)");
    }
    return id;
  }
}
