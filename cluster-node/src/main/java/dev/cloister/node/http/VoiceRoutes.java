package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.ChannelType;
import dev.cloister.guild.Guild;
import dev.cloister.guild.Permission;
import dev.cloister.guild.Snowflake;
import dev.cloister.guild.voice.VoiceChannel;
import dev.cloister.guild.voice.VoiceRoom;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.pattern.StatusReply;

/**
 * A voice channel's participants and their moderation: who is in it, the user limit
 * (MANAGE_CHANNELS), server mute and deafen (MUTE_MEMBERS, DEAFEN_MEMBERS), and moving a member to
 * another voice channel or disconnecting them (MOVE_MEMBERS). Joining and leaving go over the
 * gateway ({@code voice_state_update}): they need the session that will carry the call's keys.
 */
final class VoiceRoutes extends JsonRoutes {

  private final ApiContext ctx;

  VoiceRoutes(ApiContext ctx) {
    this.ctx = ctx;
  }

  Route route(String me) {
    return pathPrefix(segment("channels").slash(segment()).slash("voice"), channelId -> concat(
        pathEnd(() -> concat(
            get(() -> reply(() -> voiceAccess(me, channelId, Permission.VIEW_CHANNEL)
                .thenCompose(a -> ask(channelId, VoiceChannel.GetParticipants::new))
                .thenApply(p -> response(200, participants(p))))),
            patch(() -> body(b -> {
              Integer limit = b.optionalInt("userLimit", 0, VoiceRoom.MAX_USER_LIMIT);
              if (limit == null) {
                throw ApiError.badRequest("field 'userLimit' is required (0 for none)");
              }
              return voiceAccess(me, channelId, Permission.MANAGE_CHANNELS)
                  .thenCompose(a -> ask(channelId, r -> new VoiceChannel.SetUserLimit(
                      a.guildId(), limit, r)))
                  .thenApply(p -> response(200, participants(p)));
            })))),
        path(segment("members").slash(segment()), userId -> concat(
            patch(() -> body(b -> {
              Boolean mute = b.optionalBoolean("mute");
              Boolean deaf = b.optionalBoolean("deaf");
              String target = b.optionalString("channelId");
              if (target != null) {
                if (mute != null || deaf != null) {
                  throw ApiError.badRequest("a move (channelId) and mute or deaf are separate "
                      + "requests");
                }
                return move(me, channelId, userId, target)
                    .thenApply(p -> response(200, participants(p)));
              }
              return voiceAccess(me, channelId, Permission.VIEW_CHANNEL)
                  .thenCompose(a -> ask(channelId, r -> new VoiceChannel.Moderate(me,
                      a.access().permissions(), userId, mute, deaf, r)))
                  .thenApply(p -> response(200, participants(p)));
            })),
            delete(() -> discardingBody(() -> voiceAccess(me, channelId, Permission.MOVE_MEMBERS)
                .thenCompose(a -> ask(channelId, r -> new VoiceChannel.Disconnect(userId,
                    "disconnected", r)))
                .thenApply(p -> noContent())))))));
  }

  private record VoiceAccess(String guildId, Guild.ChannelAccess access) {}

  /**
   * A moderator moves a member who is in voice channel {@code fromId} into {@code toId} of the same
   * guild. The moderator needs MOVE_MEMBERS in both and CONNECT to the target (as Discord asks);
   * the member needs CONNECT there (a member who could not join it on their own is not put in,
   * the roster check would only take them out again), and is let into a full channel. The member
   * joins the target's call with the same session and device, and leaves the other only once in:
   * a move that fails leaves them where they were. Answers the target's participants.
   */
  private CompletionStage<VoiceChannel.Participants> move(String me, String fromId, String userId,
      String toId) {
    if (Snowflake.parse(toId).isEmpty()) {
      throw ApiError.badRequest("field 'channelId' is not a channel id");
    }
    if (toId.equals(fromId)) {
      throw ApiError.badRequest("the member is in channel '" + toId + "' already");
    }
    return voiceAccess(me, fromId, Permission.MOVE_MEMBERS).thenCompose(from ->
        voiceAccess(me, toId, Permission.CONNECT).thenCompose(to -> {
          if (!to.guildId().equals(from.guildId())) {
            throw ApiError.badRequest("channel '" + toId + "' is in another guild");
          }
          if (!Permission.MOVE_MEMBERS.in(to.access().permissions())) {
            throw new ApiError(403, "forbidden", "missing permission MOVE_MEMBERS in channel '"
                + toId + "'");
          }
          CompletionStage<Guild.ChannelAccess> member = ctx.<Guild.ChannelAccess>guild(
              from.guildId(), r -> new Guild.CheckChannelAccess(userId, toId, Permission.CONNECT,
                  r)).exceptionally(failure -> {
                    ApiError e = ApiError.of(failure);
                    if (e != null && e.status == 403) {
                      throw new ApiError(403, "forbidden", "the member may not connect to channel '"
                          + toId + "' (" + e.getMessage() + ")");
                    }
                    throw failure instanceof RuntimeException r ? r
                        : new CompletionException(failure);
                  });
          return member.thenCompose(access -> ask(fromId, VoiceChannel.GetParticipants::new)
              .thenCompose(present -> {
                VoiceRoom.VoiceState state = present.states().stream()
                    .filter(v -> v.userId().equals(userId)).findFirst()
                    .orElseThrow(() -> new ApiError(404, "not_found",
                        "the member is not in voice channel '" + fromId + "'"));
                // The moderator's MOVE_MEMBERS here lets the member into a full channel.
                long permissions = access.permissions() | Permission.MOVE_MEMBERS.bit;
                return ctx.sharding().entityRefFor(VoiceChannel.ENTITY_KEY, toId)
                    .<VoiceChannel.Joined>askWithStatus(r -> new VoiceChannel.MoveIn(
                        new VoiceChannel.Join(from.guildId(), userId, state.deviceId(),
                            state.sessionId(), state.selfMute(), state.selfDeaf(), permissions,
                            r), fromId, me, state.serverMute(), state.serverDeaf()),
                        ctx.askTimeout().plusSeconds(5))
                    .thenCompose(joined -> ask(fromId, r -> new VoiceChannel.Disconnect(userId,
                        "moved", r)).thenApply(left -> joined.participants()));
              }));
        }));
  }

  /** The member's access to a voice channel, if they hold {@code permission} there. */
  private CompletionStage<VoiceAccess> voiceAccess(String me, String channelId,
      Permission permission) {
    return ctx.guildOfChannel(channelId).thenCompose(guildId ->
        ctx.<Guild.ChannelAccess>guild(guildId,
            r -> new Guild.CheckChannelAccess(me, channelId, permission, r)).thenApply(a -> {
              if (a.channel().type() != ChannelType.VOICE) {
                throw ApiError.badRequest("channel '" + channelId + "' is a "
                    + a.channel().type().wireName() + " channel, not a voice channel");
              }
              return new VoiceAccess(guildId, a);
            }));
  }

  private CompletionStage<VoiceChannel.Participants> ask(String channelId,
      Function<ActorRef<StatusReply<VoiceChannel.Participants>>, VoiceChannel.Command> command) {
    return ctx.sharding().entityRefFor(VoiceChannel.ENTITY_KEY, channelId)
        .askWithStatus(command::apply, ctx.askTimeout());
  }

  static ObjectNode participants(VoiceChannel.Participants p) {
    ObjectNode o = obj().put("channelId", p.channelId()).put("guildId", p.guildId())
        .put("userLimit", p.userLimit()).put("groupId", p.groupId());
    ArrayNode states = o.putArray("voiceStates");
    p.states().forEach(s -> states.addObject().put("userId", s.userId())
        .put("deviceId", s.deviceId()).put("selfMute", s.selfMute()).put("selfDeaf", s.selfDeaf())
        .put("mute", s.serverMute()).put("deaf", s.serverDeaf()));
    return o;
  }
}
