package dev.cloister.guild.group;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.guild.ChannelType;
import dev.cloister.guild.Guild;
import dev.cloister.guild.Permission;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class AudienceTest {

  private static Guild.State guild() {
    Guild.State s = Guild.State.empty("100").apply(new Guild.GuildCreated("club", "1", List.of(
        new Guild.Channel("101", "general", ChannelType.TEXT, null, List.of()),
        new Guild.Channel("102", "General", ChannelType.VOICE, null, List.of()),
        new Guild.Channel("103", "random", ChannelType.TEXT, null, List.of())), 0));
    s = s.apply(new Guild.MemberJoined("2", "x", 1));
    return s.apply(new Guild.MemberJoined("3", "x", 2));
  }

  @Test
  void channelsEveryoneMayViewShareTheGuildGroup() {
    Audience.Plan plan = Audience.of(guild());
    assertThat(plan.groups()).containsExactly(
        new Audience.GroupRoster("g100", "100", null, Set.of("1", "2", "3")));
    assertThat(plan.groupOfChannel()).containsOnly(
        java.util.Map.entry("101", "g100"), java.util.Map.entry("103", "g100"));
  }

  @Test
  void aNarrowerAudienceGetsItsOwnGroupAndANarrowingCountsUp() {
    Guild.State s = guild();
    long before = s.audienceVersion();
    s = s.apply(new Guild.OverwriteSet("103", new Guild.Overwrite("3",
        Guild.OverwriteType.MEMBER, 0, Permission.VIEW_CHANNEL.bit)));
    assertThat(s.audienceVersion()).isEqualTo(before + 1);
    Audience.Plan plan = Audience.of(s);
    assertThat(plan.groupOf("101")).isEqualTo("g100");
    assertThat(plan.groupOf("103")).isEqualTo("c103");
    assertThat(plan.groups()).contains(new Audience.GroupRoster("c103", "100", "103", Set.of("1", "2")));

    // A join widens nobody's loss: the version stays; a kick narrows the guild group.
    Guild.State joined = s.apply(new Guild.MemberJoined("4", "x", 3));
    assertThat(joined.audienceVersion()).isEqualTo(s.audienceVersion());
    Guild.State kicked = joined.apply(new Guild.MemberKicked("2", "1"));
    assertThat(kicked.audienceVersion()).isEqualTo(s.audienceVersion() + 1);
    assertThat(Audience.of(kicked).groups().get(0).userIds()).containsExactlyInAnyOrder("1", "3", "4");
  }
}
