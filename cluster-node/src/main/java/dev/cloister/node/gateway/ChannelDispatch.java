package dev.cloister.node.gateway;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.node.http.JsonRoutes;
import dev.cloister.node.http.Views;
import java.time.Instant;
import java.util.Base64;

/**
 * A text channel's event as the gateway dispatches it ({@code MESSAGE_CREATE}, ...): the same
 * whether a guild copy hears it on the feed or a session that moved reads it from the journal.
 */
final class ChannelDispatch {

  /** The dispatch's {@code t} and its {@code d}, encoded once in UTF-8. */
  record Rendered(String t, byte[] payload) {}

  /** Null for an event clients are not sent (ChannelCreated: the guild's ChannelAdded says it). */
  static Rendered render(String guildId, String channelId, TextChannel.Event e) {
    String t;
    ObjectNode d;
    if (e instanceof TextChannel.MessagePosted p) {
      t = "MESSAGE_CREATE";
      d = Views.message(p.messageId(), channelId, p.authorId(), p.ciphertext(),
          p.createdAtMillis(), 0, false);
    } else if (e instanceof TextChannel.MessageEdited ed) {
      t = "MESSAGE_UPDATE";
      d = JsonRoutes.obj().put("id", Long.toString(ed.messageId())).put("channelId", channelId)
          .put("authorId", ed.editorId())
          .put("ciphertext", Base64.getEncoder().encodeToString(ed.ciphertext()))
          .put("editedAt", Instant.ofEpochMilli(ed.editedAtMillis()).toString());
    } else if (e instanceof TextChannel.MessageDeleted del) {
      t = "MESSAGE_DELETE";
      d = JsonRoutes.obj().put("id", Long.toString(del.messageId())).put("channelId", channelId);
    } else if (e instanceof TextChannel.MessagePinned pin) {
      t = "MESSAGE_PIN";
      d = JsonRoutes.obj().put("id", Long.toString(pin.messageId())).put("channelId", channelId);
    } else if (e instanceof TextChannel.MessageUnpinned unpin) {
      t = "MESSAGE_UNPIN";
      d = JsonRoutes.obj().put("id", Long.toString(unpin.messageId())).put("channelId", channelId);
    } else {
      return null;
    }
    d.put("guildId", guildId);
    return new Rendered(t, Gateway.encoded(d));
  }

  private ChannelDispatch() {}
}
