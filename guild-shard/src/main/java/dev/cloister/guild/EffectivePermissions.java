package dev.cloister.guild;

import java.util.List;

/**
 * What a member may do, computed the way Discord documents it: the @everyone role, then the
 * member's roles; in a channel, then the overwrites for @everyone, for the member's roles (all
 * denies, then all allows) and for the member (deny, then allow). The owner and ADMINISTRATOR
 * bypass everything. Without VIEW_CHANNEL a member holds nothing in that channel.
 */
public final class EffectivePermissions {

  private EffectivePermissions() {}

  /** Guild-wide permissions; 0 for anyone who is not a member. */
  public static long inGuild(Guild.State guild, String userId) {
    Guild.Member member = guild.members().get(userId);
    if (member == null) {
      return 0;
    }
    if (userId.equals(guild.ownerId())) {
      return Permission.ALL;
    }
    long p = 0;
    List<Guild.Role> roles = guild.roles();
    for (Guild.Role role : roles) {
      if (role.id().equals(guild.id()) || member.roleIds().contains(role.id())) {
        p |= role.permissions();
      }
    }
    return Permission.ADMINISTRATOR.in(p) ? Permission.ALL : p;
  }

  /** Permissions in one channel of the guild. */
  public static long inChannel(Guild.State guild, String userId, Guild.Channel channel) {
    long p = inGuild(guild, userId);
    if (p == Permission.ALL) {
      return Permission.ALL; // owner or administrator: overwrites do not apply
    }
    Guild.Member member = guild.members().get(userId);
    if (member == null) {
      return 0;
    }
    Guild.Overwrite everyone = null;
    Guild.Overwrite own = null;
    long roleDeny = 0;
    long roleAllow = 0;
    for (Guild.Overwrite o : channel.overwrites()) {
      if (o.type() == Guild.OverwriteType.ROLE) {
        if (o.targetId().equals(guild.id())) {
          everyone = o;
        } else if (member.roleIds().contains(o.targetId())) {
          roleDeny |= o.deny();
          roleAllow |= o.allow();
        }
      } else if (o.targetId().equals(userId)) {
        own = o;
      }
    }
    if (everyone != null) {
      p = (p & ~everyone.deny()) | everyone.allow();
    }
    p = (p & ~roleDeny) | roleAllow;
    if (own != null) {
      p = (p & ~own.deny()) | own.allow();
    }
    return Permission.VIEW_CHANNEL.in(p) ? p : 0;
  }

  /**
   * The position of the member's highest role: 0 with only @everyone, -1 for a non-member,
   * {@link Integer#MAX_VALUE} for the owner, who outranks everyone.
   */
  public static int highestPosition(Guild.State guild, String userId) {
    if (userId.equals(guild.ownerId())) {
      return Integer.MAX_VALUE;
    }
    Guild.Member member = guild.members().get(userId);
    if (member == null) {
      return -1;
    }
    int highest = 0;
    List<Guild.Role> roles = guild.roles();
    for (int i = 1; i < roles.size(); i++) {
      if (member.roleIds().contains(roles.get(i).id())) {
        highest = i;
      }
    }
    return highest;
  }
}
