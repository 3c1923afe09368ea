package dev.cloister.node.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.Guild;
import dev.cloister.guild.Permission;
import dev.cloister.guild.channel.MessageHistory;
import java.time.Instant;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.util.Base64;
import java.util.List;

/** The JSON shapes of the API, in one place. */
public final class Views {

  private Views() {}

  public static ObjectNode guild(Guild.GuildView g) {
    ObjectNode o = JsonRoutes.obj().put("id", g.id()).put("name", g.name())
        .put("ownerId", g.ownerId());
    ArrayNode channels = o.putArray("channels");
    for (Guild.Channel c : g.channels()) {
      channels.add(channel(g.id(), c, g.channels().indexOf(c)));
    }
    ArrayNode roles = o.putArray("roles");
    for (int i = 0; i < g.roles().size(); i++) {
      roles.add(role(g.roles().get(i), i));
    }
    o.put("memberCount", g.memberCount());
    permissions(o.putArray("permissions"), g.myPermissions());
    return o;
  }

  public static ObjectNode channel(String guildId, Guild.Channel c, int position) {
    ObjectNode o = JsonRoutes.obj().put("id", c.id()).put("guildId", guildId).put("name", c.name())
        .put("type", c.type().wireName()).put("parentId", c.parentId()).put("position", position);
    ArrayNode overwrites = o.putArray("overwrites");
    for (Guild.Overwrite ow : c.overwrites()) {
      ObjectNode w = overwrites.addObject().put("id", ow.targetId())
          .put("type", ow.type() == Guild.OverwriteType.ROLE ? "role" : "member");
      permissions(w.putArray("allow"), ow.allow());
      permissions(w.putArray("deny"), ow.deny());
    }
    return o;
  }

  public static ObjectNode role(Guild.Role r, int position) {
    ObjectNode o = JsonRoutes.obj().put("id", r.id()).put("name", r.name()).put("position", position);
    permissions(o.putArray("permissions"), r.permissions());
    return o;
  }

  public static ArrayNode roles(List<Guild.Role> roles) {
    ArrayNode a = JsonBody.MAPPER.createArrayNode();
    for (int i = 0; i < roles.size(); i++) {
      a.add(role(roles.get(i), i));
    }
    return a;
  }

  public static ObjectNode member(Guild.Member m) {
    ObjectNode o = JsonRoutes.obj().put("userId", m.userId()).put("nickname", m.nickname())
        .put("joinedAt", Instant.ofEpochMilli(m.joinedAtMillis()).toString());
    ArrayNode roles = o.putArray("roles");
    m.roleIds().forEach(roles::add);
    return o;
  }

  public static ObjectNode invite(String guildId, Guild.Invite i) {
    return JsonRoutes.obj().put("code", i.code()).put("guildId", guildId)
        .put("creatorId", i.creatorId()).put("maxUses", i.maxUses()).put("uses", i.uses())
        .put("expiresAt", i.expiresAtMillis() == 0 ? null
            : Instant.ofEpochMilli(i.expiresAtMillis()).toString());
  }

  public static ObjectNode ban(Guild.Ban b) {
    return JsonRoutes.obj().put("userId", b.userId()).put("byId", b.byId())
        .put("at", Instant.ofEpochMilli(b.atMillis()).toString());
  }

  public static ObjectNode message(
      long id, String channelId, String authorId, byte[] ciphertext, long createdAtMillis,
      long editedAtMillis, boolean pinned) {
    ObjectNode m = JsonRoutes.obj().put("id", Long.toString(id)).put("channelId", channelId)
        .put("authorId", authorId)
        .put("ciphertext", Base64.getEncoder().encodeToString(ciphertext))
        .put("createdAt", Instant.ofEpochMilli(createdAtMillis).toString())
        .put("editedAt", editedAtMillis == 0 ? null : Instant.ofEpochMilli(editedAtMillis).toString())
        .put("pinned", pinned);
    epoch(m, ciphertext);
    return m;
  }

  /**
   * Which encryption group and epoch a message belongs to, read from its MLS header (clear
   * text): a device decrypts a message only while it holds that epoch. Absent for messages stored
   * before posts had to be MLS.
   */
  private static void epoch(ObjectNode m, byte[] ciphertext) {
    try {
      MlsMessages.PrivateMessageHeader h = MlsMessages.parsePrivateMessageHeader(ciphertext);
      m.put("groupId", new String(h.groupId(), java.nio.charset.StandardCharsets.UTF_8))
          .put("epoch", h.epoch());
    } catch (MlsWireException e) {
      m.putNull("groupId").putNull("epoch");
    }
  }

  public static ObjectNode message(MessageHistory.StoredMessage m) {
    return message(m.id(), m.channelId(), m.authorId(), m.ciphertext(), m.createdAtMillis(),
        m.editedAtMillis(), m.pinned());
  }

  public static ArrayNode messages(List<MessageHistory.StoredMessage> messages) {
    ArrayNode a = JsonBody.MAPPER.createArrayNode();
    messages.forEach(m -> a.add(message(m)));
    return a;
  }

  private static void permissions(ArrayNode into, long mask) {
    Permission.names(mask).forEach(into::add);
  }
}
