package dev.cloister.guild.group;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.ChannelType;
import dev.cloister.guild.EffectivePermissions;
import dev.cloister.guild.Guild;
import dev.cloister.guild.Permission;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Who may read which text channel, as encryption groups: every channel that every member of the
 * guild may view shares the guild's group (so a join costs one commit however many channels there
 * are); a channel with a narrower audience has a group of its own. Pure: computed from a guild's
 * state, so the driver can recompute it at any time and get the same rosters (users; their devices
 * are looked up separately).
 */
public final class Audience {

  private Audience() {}

  /** A group and the users whose devices belong in it. */
  public record GroupRoster(String groupId, String guildId, String channelId, Set<String> userIds)
      implements CborSerializable {}

  /**
   * The guild's rosters as of {@code audienceVersion}; {@code groupOfChannel} says which group
   * each text channel's new messages use.
   */
  public record Plan(String guildId, long audienceVersion, List<GroupRoster> groups,
      Map<String, String> groupOfChannel) implements CborSerializable {

    public String groupOf(String channelId) {
      return groupOfChannel.get(channelId);
    }
  }

  /** The guild's group: every member, and every channel everyone may view. */
  public static String guildGroupId(String guildId) {
    return "g" + guildId;
  }

  /** The group of a channel whose audience is narrower than the guild. */
  public static String channelGroupId(String channelId) {
    return "c" + channelId;
  }

  public static Plan of(Guild.State guild) {
    Set<String> everyone = new LinkedHashSet<>(guild.members().keySet());
    List<GroupRoster> groups = new ArrayList<>();
    groups.add(new GroupRoster(guildGroupId(guild.id()), guild.id(), null, Set.copyOf(everyone)));
    Map<String, String> groupOf = new LinkedHashMap<>();
    for (Guild.Channel c : guild.channels()) {
      if (c.type() != ChannelType.TEXT) {
        continue;
      }
      Set<String> readers = readers(guild, c);
      if (readers.equals(everyone)) {
        groupOf.put(c.id(), guildGroupId(guild.id()));
      } else {
        String id = channelGroupId(c.id());
        groupOf.put(c.id(), id);
        groups.add(new GroupRoster(id, guild.id(), c.id(), Set.copyOf(readers)));
      }
    }
    return new Plan(guild.id(), guild.audienceVersion(), List.copyOf(groups), Map.copyOf(groupOf));
  }

  private static Set<String> readers(Guild.State guild, Guild.Channel c) {
    Set<String> out = new LinkedHashSet<>();
    for (String userId : guild.members().keySet()) {
      if (Permission.VIEW_CHANNEL.in(EffectivePermissions.inChannel(guild, userId, c))) {
        out.add(userId);
      }
    }
    return out;
  }
}
