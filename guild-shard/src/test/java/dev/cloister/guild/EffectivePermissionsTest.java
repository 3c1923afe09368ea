package dev.cloister.guild;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The permission function against Discord's rules, stated independently as layers: for each
 * permission the most specific overwrite that mentions it wins (member over roles over
 * @everyone; among roles, allow over deny), otherwise the roles' union decides; no VIEW_CHANNEL
 * means nothing; the owner and ADMINISTRATOR hold everything.
 */
class EffectivePermissionsTest {

  private static final String GUILD = "1";
  private static final String OWNER = "10";
  private static final String USER = "20";
  private static final String ROLE_A = "100";
  private static final String ROLE_B = "101";

  /** -1 deny, 0 not mentioned, +1 allow. */
  private static long ow(int setting, Permission p, boolean allowSide) {
    return (setting == (allowSide ? 1 : -1)) ? p.bit : 0;
  }

  private static Guild.State guild(long everyone, long roleA, long roleB, List<String> userRoles,
      List<Guild.Overwrite> overwrites) {
    Map<String, Guild.Member> members = new LinkedHashMap<>();
    members.put(OWNER, new Guild.Member(OWNER, null, List.of(), 0));
    members.put(USER, new Guild.Member(USER, null, userRoles, 0));
    return new Guild.State(GUILD, "g", OWNER,
        List.of(new Guild.Role(GUILD, "@everyone", everyone), new Guild.Role(ROLE_A, "a", roleA),
            new Guild.Role(ROLE_B, "b", roleB)),
        List.of(new Guild.Channel("5", "c", ChannelType.TEXT, null, overwrites)),
        members, Map.of(), Map.of(), 0);
  }

  @Test
  void everyLayerCombinationForEveryPermissionFollowsTheRules() {
    int checked = 0;
    for (Permission p : Permission.values()) {
      if (p == Permission.ADMINISTRATOR || p == Permission.VIEW_CHANNEL) {
        continue; // each has its own test below
      }
      for (int everyoneBase = 0; everyoneBase < 2; everyoneBase++) {
        for (int roleBase = 0; roleBase < 2; roleBase++) {
          for (int everyoneOw = -1; everyoneOw <= 1; everyoneOw++) {
            for (int roleAOw = -1; roleAOw <= 1; roleAOw++) {
              for (int roleBOw = -1; roleBOw <= 1; roleBOw++) {
                for (int memberOw = -1; memberOw <= 1; memberOw++) {
                  long view = Permission.VIEW_CHANNEL.bit;
                  List<Guild.Overwrite> ows = new ArrayList<>();
                  ows.add(new Guild.Overwrite(GUILD, Guild.OverwriteType.ROLE,
                      ow(everyoneOw, p, true), ow(everyoneOw, p, false)));
                  ows.add(new Guild.Overwrite(ROLE_A, Guild.OverwriteType.ROLE,
                      ow(roleAOw, p, true), ow(roleAOw, p, false)));
                  ows.add(new Guild.Overwrite(ROLE_B, Guild.OverwriteType.ROLE,
                      ow(roleBOw, p, true), ow(roleBOw, p, false)));
                  ows.add(new Guild.Overwrite(USER, Guild.OverwriteType.MEMBER,
                      ow(memberOw, p, true), ow(memberOw, p, false)));
                  Guild.State g = guild(view | (everyoneBase == 1 ? p.bit : 0),
                      roleBase == 1 ? p.bit : 0, 0, List.of(ROLE_A, ROLE_B), ows);

                  boolean expected;
                  if (memberOw != 0) {
                    expected = memberOw > 0;
                  } else if (roleAOw > 0 || roleBOw > 0) {
                    expected = true;
                  } else if (roleAOw < 0 || roleBOw < 0) {
                    expected = false;
                  } else if (everyoneOw != 0) {
                    expected = everyoneOw > 0;
                  } else {
                    expected = everyoneBase == 1 || roleBase == 1;
                  }
                  long actual = EffectivePermissions.inChannel(g, USER, g.channels().get(0));
                  assertThat(p.in(actual))
                      .as("%s base(everyone=%d role=%d) ow(everyone=%d a=%d b=%d member=%d)", p,
                          everyoneBase, roleBase, everyoneOw, roleAOw, roleBOw, memberOw)
                      .isEqualTo(expected);
                  assertThat(p.in(EffectivePermissions.inGuild(g, USER)))
                      .as("guild-wide ignores overwrites")
                      .isEqualTo(everyoneBase == 1 || roleBase == 1);
                  checked++;
                }
              }
            }
          }
        }
      }
    }
    assertThat(checked).isEqualTo(14 * 2 * 2 * 3 * 3 * 3 * 3);
  }

  @Test
  void withoutViewChannelAMemberHoldsNothingInTheChannel() {
    long everything = Permission.ALL & ~Permission.ADMINISTRATOR.bit;
    for (int everyoneOw = -1; everyoneOw <= 1; everyoneOw++) {
      for (int memberOw = -1; memberOw <= 1; memberOw++) {
        Permission v = Permission.VIEW_CHANNEL;
        Guild.State g = guild(everything, 0, 0, List.of(), List.of(
            new Guild.Overwrite(GUILD, Guild.OverwriteType.ROLE, ow(everyoneOw, v, true),
                ow(everyoneOw, v, false)),
            new Guild.Overwrite(USER, Guild.OverwriteType.MEMBER, ow(memberOw, v, true),
                ow(memberOw, v, false))));
        boolean sees = memberOw != 0 ? memberOw > 0 : everyoneOw >= 0;
        long actual = EffectivePermissions.inChannel(g, USER, g.channels().get(0));
        assertThat(actual).as("everyone=%d member=%d", everyoneOw, memberOw)
            .isEqualTo(sees ? everything : 0);
      }
    }
  }

  @Test
  void ownerAndAdministratorsBypassEveryOverwrite() {
    List<Guild.Overwrite> denyAll = List.of(
        new Guild.Overwrite(GUILD, Guild.OverwriteType.ROLE, 0, Permission.ALL),
        new Guild.Overwrite(USER, Guild.OverwriteType.MEMBER, 0, Permission.ALL),
        new Guild.Overwrite(OWNER, Guild.OverwriteType.MEMBER, 0, Permission.ALL));
    Guild.State g = guild(0, Permission.ADMINISTRATOR.bit, 0, List.of(ROLE_A), denyAll);
    assertThat(EffectivePermissions.inChannel(g, OWNER, g.channels().get(0))).isEqualTo(Permission.ALL);
    assertThat(EffectivePermissions.inChannel(g, USER, g.channels().get(0))).isEqualTo(Permission.ALL);
    assertThat(EffectivePermissions.inGuild(g, USER)).isEqualTo(Permission.ALL);

    Guild.State plain = guild(0, 0, 0, List.of(ROLE_A), denyAll);
    assertThat(EffectivePermissions.inChannel(plain, USER, plain.channels().get(0))).isZero();
    assertThat(EffectivePermissions.inGuild(plain, OWNER)).isEqualTo(Permission.ALL);
  }

  @Test
  void strangersHoldNothingAndRolesTheyDoNotHaveDoNotCount() {
    Guild.State g = guild(Permission.EVERYONE_DEFAULT, Permission.MANAGE_GUILD.bit,
        Permission.KICK_MEMBERS.bit, List.of(ROLE_B), List.of());
    assertThat(EffectivePermissions.inGuild(g, "999")).isZero();
    assertThat(EffectivePermissions.inChannel(g, "999", g.channels().get(0))).isZero();
    long user = EffectivePermissions.inGuild(g, USER);
    assertThat(Permission.KICK_MEMBERS.in(user)).isTrue();
    assertThat(Permission.MANAGE_GUILD.in(user)).isFalse();
    assertThat(user & Permission.EVERYONE_DEFAULT).isEqualTo(Permission.EVERYONE_DEFAULT);
  }

  @Test
  void highestPositionFollowsRoleOrderAndTheOwnerOutranksAll() {
    Guild.State g = guild(0, 0, 0, List.of(ROLE_A), List.of());
    assertThat(EffectivePermissions.highestPosition(g, USER)).isEqualTo(1);
    assertThat(EffectivePermissions.highestPosition(g, OWNER)).isEqualTo(Integer.MAX_VALUE);
    assertThat(EffectivePermissions.highestPosition(g, "999")).isEqualTo(-1);
    Guild.State both = guild(0, 0, 0, List.of(ROLE_A, ROLE_B), List.of());
    assertThat(EffectivePermissions.highestPosition(both, USER)).isEqualTo(2);
  }
}
