package dev.cloister.client;

import java.util.List;

/**
 * A guild as the server shows it to you: only the channels you can view, your own guild-wide
 * permissions; {@code members} only in the gateway's ready and GUILD_CREATE (else null).
 */
public record Guild(String id, String name, String ownerId, List<Channel> channels,
    List<Role> roles, List<String> memberIds, List<String> permissions, List<Member> members) {

  public Guild {
    channels = channels == null ? List.of() : List.copyOf(channels);
    roles = roles == null ? List.of() : List.copyOf(roles);
    memberIds = memberIds == null ? List.of() : List.copyOf(memberIds);
    permissions = permissions == null ? List.of() : List.copyOf(permissions);
  }
}
