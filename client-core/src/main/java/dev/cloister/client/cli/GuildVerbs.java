package dev.cloister.client.cli;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterApi;
import dev.cloister.client.Invite;
import java.io.IOException;
import java.util.List;
import java.util.Set;

/** guild-create, channels, invite, join, kick, ban: guild membership and moderation. */
final class GuildVerbs {

  private GuildVerbs() {}

  static List<Verb> all() {
    return List.of(
        new Verb("guild-create", "NAME", "create a guild; prints its id", GuildVerbs::create),
        new Verb("channels", "GUILD_ID", "list the channels you can see: 'id type name' lines",
            GuildVerbs::channels),
        new Verb("channel-create", "GUILD_ID NAME [--type text|voice|category]",
            "create a channel (text unless --type says otherwise); prints its id",
            GuildVerbs::createChannel),
        new Verb("invite", "GUILD_ID [--max-uses N] [--max-age SECONDS]",
            "create an invite; prints its code (default: unlimited uses, 7 days)", GuildVerbs::invite),
        new Verb("join", "CODE", "join a guild with an invite code; prints the guild id",
            GuildVerbs::join),
        new Verb("kick", "GUILD_ID USER_ID", "remove a member (they may come back with an invite)",
            GuildVerbs::kick),
        new Verb("ban", "GUILD_ID USER_ID", "remove a member for good", GuildVerbs::ban));
  }

  private static CloisterApi api(Invocation in) throws IOException {
    return in.client().api();
  }

  static int create(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String name = in.arg(0, "NAME");
    in.noMoreThan(1);
    in.out().println(api(in).createGuild(name).id());
    return 0;
  }

  static int createChannel(Invocation in) throws IOException {
    in.onlyOptions(Set.of("type"));
    String guildId = in.arg(0, "GUILD_ID");
    String name = in.arg(1, "NAME");
    in.noMoreThan(2);
    String type = in.option("type") == null ? "text" : in.option("type");
    if (!Set.of("text", "voice", "category").contains(type)) {
      throw new UsageException("--type is text, voice or category, not '" + type + "'");
    }
    in.out().println(api(in).createChannel(guildId, name, type, null).id());
    return 0;
  }

  static int channels(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String guildId = in.arg(0, "GUILD_ID");
    in.noMoreThan(1);
    for (Channel c : api(in).channels(guildId)) {
      in.out().println(c.id() + " " + c.type() + " " + c.name());
    }
    return 0;
  }

  static int invite(Invocation in) throws IOException {
    in.onlyOptions(Set.of("max-uses", "max-age"));
    String guildId = in.arg(0, "GUILD_ID");
    in.noMoreThan(1);
    CloisterApi api = api(in);
    Invite invite = in.option("max-uses") == null && in.option("max-age") == null
        ? api.createInvite(guildId)
        : api.createInvite(guildId, (int) Math.min(Integer.MAX_VALUE, in.longOption("max-uses", 0)),
            in.longOption("max-age", 604_800));
    in.out().println(invite.code());
    return 0;
  }

  static int join(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String code = in.arg(0, "CODE");
    in.noMoreThan(1);
    in.out().println(api(in).useInvite(code));
    return 0;
  }

  static int kick(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String guildId = in.arg(0, "GUILD_ID");
    String userId = in.arg(1, "USER_ID");
    in.noMoreThan(2);
    api(in).kick(guildId, userId);
    return 0;
  }

  static int ban(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String guildId = in.arg(0, "GUILD_ID");
    String userId = in.arg(1, "USER_ID");
    in.noMoreThan(2);
    api(in).ban(guildId, userId);
    return 0;
  }
}
