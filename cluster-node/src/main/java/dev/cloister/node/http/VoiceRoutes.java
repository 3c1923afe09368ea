package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.ChannelType;
import dev.cloister.guild.Guild;
import dev.cloister.guild.Permission;
import dev.cloister.guild.voice.VoiceChannel;
import dev.cloister.guild.voice.VoiceRoom;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.pattern.StatusReply;

/**
 * A voice channel's participants and their moderation: who is in it, the user limit
 * (MANAGE_CHANNELS), server mute and deafen (MUTE_MEMBERS, DEAFEN_MEMBERS) and disconnecting a
 * member (MOVE_MEMBERS). Joining and leaving go over the gateway ({@code voice_state_update}):
 * they need the session that will carry the call's keys.
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
