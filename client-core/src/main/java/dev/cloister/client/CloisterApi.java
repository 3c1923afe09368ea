package dev.cloister.client;

import static dev.cloister.client.http.RestClient.segment;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The REST calls of the guild, channel, message, invite and moderation API, typed (README "REST
 * API"). Every call needs an authenticated {@link RestClient}; failures are {@link ApiException}s.
 */
public final class CloisterApi {

  private static final TypeReference<List<Message>> MESSAGES = new TypeReference<>() {};
  private static final TypeReference<List<Member>> MEMBERS = new TypeReference<>() {};

  private final RestClient rest;

  public CloisterApi(RestClient rest) {
    this.rest = rest;
  }

  public RestClient rest() {
    return rest;
  }

  /** A new guild owned by you, with a {@code general} text and a {@code General} voice channel. */
  public Guild createGuild(String name) {
    return rest.post("/api/v1/guilds", Map.of("name", name), Guild.class);
  }

  public Guild guild(String guildId) {
    return rest.get("/api/v1/guilds/" + segment(guildId), Guild.class);
  }

  /** The channels of a guild you can view, in the guild's order. */
  public List<Channel> channels(String guildId) {
    return guild(guildId).channels();
  }

  public Channel createChannel(String guildId, String name, String type, String parentId) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("name", name);
    body.put("type", type);
    if (parentId != null) {
      body.put("parentId", parentId);
    }
    return rest.post("/api/v1/guilds/" + segment(guildId) + "/channels", body, Channel.class);
  }

  public Channel channel(String channelId) {
    return rest.get("/api/v1/channels/" + segment(channelId), Channel.class);
  }

  /** An invite with the server's defaults (unlimited uses, a week). */
  public Invite createInvite(String guildId) {
    return rest.post("/api/v1/guilds/" + segment(guildId) + "/invites", Map.of(), Invite.class);
  }

  /** {@code maxUses} 0 = unlimited; {@code maxAgeSeconds} 0 = never expires. */
  public Invite createInvite(String guildId, int maxUses, long maxAgeSeconds) {
    return rest.post("/api/v1/guilds/" + segment(guildId) + "/invites",
        Map.of("maxUses", maxUses, "maxAgeSeconds", maxAgeSeconds), Invite.class);
  }

  /** Joins the invite's guild; returns its id. 404 unknown/expired/used up, 403 banned. */
  public String useInvite(String code) {
    JsonNode r = rest.post("/api/v1/invites/" + segment(code), Map.of());
    if (r == null || !r.path("guildId").isTextual()) {
      throw new ApiException(200, "malformed_answer", "the invite answer has no guildId");
    }
    return r.get("guildId").asText();
  }

  public void kick(String guildId, String userId) {
    rest.delete("/api/v1/guilds/" + segment(guildId) + "/members/" + segment(userId));
  }

  public void ban(String guildId, String userId) {
    rest.put("/api/v1/guilds/" + segment(guildId) + "/bans/" + segment(userId), null);
  }

  public void leave(String guildId) {
    rest.delete("/api/v1/guilds/" + segment(guildId) + "/members/@me");
  }

  /** Posts a ciphertext (at most 256 KiB) as it is; the server never reads it. */
  public Message post(String channelId, byte[] ciphertext) {
    return rest.post("/api/v1/channels/" + segment(channelId) + "/messages",
        Map.of("ciphertext", Base64.getEncoder().encodeToString(ciphertext)), Message.class);
  }

  /** Replaces the ciphertext of one's own message (an MLS PrivateMessage of the channel's group). */
  public Message edit(String channelId, String messageId, byte[] ciphertext) {
    return RestClient.read(rest.patch("/api/v1/channels/" + segment(channelId) + "/messages/"
        + segment(messageId), Map.of("ciphertext", Base64.getEncoder().encodeToString(ciphertext))),
        Message.class);
  }

  /** Deletes a message: its author, or a member with MANAGE_MESSAGES. */
  public void deleteMessage(String channelId, String messageId) {
    rest.delete("/api/v1/channels/" + segment(channelId) + "/messages/" + segment(messageId));
  }

  /** The channel's pinned messages, newest first. */
  public List<Message> pins(String channelId) {
    return rest.get("/api/v1/channels/" + segment(channelId) + "/pins", MESSAGES);
  }

  /** Pins ({@code true}) or unpins a message (MANAGE_MESSAGES; at most 50 pins: 409). */
  public void pin(String channelId, String messageId, boolean pinned) {
    String path = "/api/v1/channels/" + segment(channelId) + "/pins/" + segment(messageId);
    if (pinned) {
      rest.put(path, null);
    } else {
      rest.delete(path);
    }
  }

  /** The most members (or bans) one page holds. */
  public static final int MAX_PAGE = 1000;

  /** All of the guild's members, in the order of their ids, fetched a page at a time. */
  public List<Member> members(String guildId) {
    List<Member> all = new java.util.ArrayList<>();
    String after = null;
    while (true) {
      List<Member> page = members(guildId, after, MAX_PAGE);
      all.addAll(page);
      if (page.size() < MAX_PAGE) {
        return all;
      }
      after = page.get(page.size() - 1).userId();
    }
  }

  /** At most {@code limit} (1..1000) members whose ids come after {@code after} (null: the first). */
  public List<Member> members(String guildId, String after, int limit) {
    return rest.get("/api/v1/guilds/" + segment(guildId) + "/members?limit=" + limit
        + (after == null ? "" : "&after=" + segment(after)), MEMBERS);
  }

  /** A user's name ({@code GET /api/v1/users/{id}}). */
  public String username(String userId) {
    return rest.get("/api/v1/users/" + segment(userId)).path("username").asText(userId);
  }

  /** One page of history, newest first; empty past either end. */
  public List<Message> history(String channelId, HistoryQuery query) {
    return rest.get("/api/v1/channels/" + segment(channelId) + "/messages" + query.toQueryString(),
        MESSAGES);
  }

  /** Creates a role (MANAGE_ROLES), placed just above @everyone. */
  public Role createRole(String guildId, String name, List<String> permissions) {
    return rest.post("/api/v1/guilds/" + segment(guildId) + "/roles",
        Map.of("name", name, "permissions", permissions), Role.class);
  }

  /** Gives ({@code true}) or takes a role from a member (MANAGE_ROLES, a role below yours). */
  public void assignRole(String guildId, String userId, String roleId, boolean assigned) {
    String path = "/api/v1/guilds/" + segment(guildId) + "/members/" + segment(userId) + "/roles/"
        + segment(roleId);
    if (assigned) {
      rest.put(path, null);
    } else {
      rest.delete(path);
    }
  }

  /**
   * Server-mutes or deafens a participant of a voice channel ({@code null} leaves that one as it
   * is): MUTE_MEMBERS for mute, DEAFEN_MEMBERS for deaf.
   */
  public void moderateVoice(String channelId, String userId, Boolean mute, Boolean deaf) {
    Map<String, Object> body = new LinkedHashMap<>();
    if (mute != null) {
      body.put("mute", mute);
    }
    if (deaf != null) {
      body.put("deaf", deaf);
    }
    rest.patch("/api/v1/channels/" + segment(channelId) + "/voice/members/" + segment(userId), body);
  }

  /**
   * Moves a participant of voice channel {@code channelId} into voice channel {@code toChannelId}
   * of the same guild (MOVE_MEMBERS in both, CONNECT to the target; the member needs CONNECT there
   * and may be moved into a full channel). Their client switches calls on its own.
   */
  public void moveVoice(String channelId, String userId, String toChannelId) {
    rest.patch("/api/v1/channels/" + segment(channelId) + "/voice/members/" + segment(userId),
        Map.of("channelId", toChannelId));
  }

  /** Disconnects a participant from a voice channel's call (MOVE_MEMBERS). */
  public void disconnectVoice(String channelId, String userId) {
    rest.delete("/api/v1/channels/" + segment(channelId) + "/voice/members/" + segment(userId));
  }
}
