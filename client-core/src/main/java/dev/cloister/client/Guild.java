package dev.cloister.client;

import java.util.List;

/**
 * A guild as the server shows it to you: only the channels you can view, your own guild-wide
 * permissions, how many members it has. {@code members} comes only in the gateway's ready and
 * GUILD_CREATE (else null), and for a {@code large} guild holds only you: page through the rest
 * with {@link CloisterApi#members(String)}.
 */
public record Guild(String id, String name, String ownerId, List<Channel> channels,
    List<Role> roles, int memberCount, boolean large, List<String> permissions,
    List<Member> members) {

  public Guild {
    channels = channels == null ? List.of() : List.copyOf(channels);
    roles = roles == null ? List.of() : List.copyOf(roles);
    permissions = permissions == null ? List.of() : List.copyOf(permissions);
  }

  /** Whether {@code members} is every member (ready or GUILD_CREATE of a guild that is not large). */
  public boolean hasAllMembers() {
    return members != null && !large;
  }
}
