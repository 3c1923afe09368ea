package dev.cloister.desktop;

import dev.cloister.client.Channel;
import dev.cloister.client.Guild;
import dev.cloister.client.Member;
import dev.cloister.client.Role;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import javafx.beans.property.SimpleStringProperty;
import javafx.beans.property.StringProperty;
import javafx.collections.FXCollections;
import javafx.collections.ObservableList;

/** A guild as the window shows it; touched on the FX thread only. */
final class GuildModel {

  final String id;
  final StringProperty name = new SimpleStringProperty();
  String ownerId;
  List<String> permissions = List.of();
  List<Role> roles = List.of();
  final ObservableList<Channel> channels = FXCollections.observableArrayList();
  final ObservableList<Member> members = FXCollections.observableArrayList();
  /** Bumped on each update (roles and your permissions may have changed: menus redraw). */
  final javafx.beans.property.IntegerProperty version =
      new javafx.beans.property.SimpleIntegerProperty();

  GuildModel(Guild g) {
    this.id = g.id();
    update(g);
  }

  /** Takes a guild from ready, GUILD_CREATE or REST; members only when it carries them all. */
  void update(Guild g) {
    name.set(g.name());
    ownerId = g.ownerId();
    permissions = g.permissions();
    roles = g.roles();
    channels.setAll(ordered(g.channels()));
    if (g.hasAllMembers()) {
      members.setAll(g.members());
    }
    version.set(version.get() + 1);
  }

  /** Whether you hold a permission guild-wide (the owner and ADMINISTRATOR hold all). */
  boolean may(String permission, String me) {
    return me.equals(ownerId) || permissions.contains("ADMINISTRATOR")
        || permissions.contains(permission);
  }

  /**
   * The roles {@code me} may give or take (README "Roles, permissions, moderation"): below their
   * highest role, or every role for the owner; never @everyone (it has the guild's id).
   */
  List<Role> assignableRoles(String me) {
    int highest;
    if (me.equals(ownerId)) {
      highest = Integer.MAX_VALUE;
    } else {
      List<String> mine = members.stream().filter(m -> m.userId().equals(me)).findFirst()
          .map(Member::roles).orElse(List.of());
      highest = roles.stream().filter(r -> mine != null && mine.contains(r.id()))
          .mapToInt(Role::position).max().orElse(0);
    }
    int top = highest;
    return roles.stream().filter(r -> !r.id().equals(id) && r.position() < top)
        .sorted(Comparator.comparingInt(Role::position).reversed()).toList();
  }

  void putChannel(Channel c) {
    List<Channel> all = new java.util.ArrayList<>(channels);
    all.removeIf(x -> x.id().equals(c.id()));
    all.add(c);
    channels.setAll(ordered(all));
  }

  void removeChannel(String channelId) {
    channels.removeIf(c -> c.id().equals(channelId));
  }

  void putMember(Member m) {
    for (int i = 0; i < members.size(); i++) {
      if (members.get(i).userId().equals(m.userId())) {
        members.set(i, m);
        return;
      }
    }
    members.add(m);
  }

  Optional<Channel> channel(String channelId) {
    return channels.stream().filter(c -> c.id().equals(channelId)).findFirst();
  }

  /** Role names of a member, highest first, without @everyone. */
  List<String> roleNames(Member m) {
    return roles.stream().filter(r -> m.roles() != null && m.roles().contains(r.id()))
        .sorted(Comparator.comparingInt(Role::position).reversed()).map(Role::name).toList();
  }

  /**
   * Discord's order: channels outside any category first, then each category followed by its
   * channels, each level by position.
   */
  static List<Channel> ordered(List<Channel> channels) {
    Comparator<Channel> byPosition = Comparator.comparingInt(Channel::position)
        .thenComparing(Channel::id);
    List<Channel> out = new java.util.ArrayList<>();
    channels.stream().filter(c -> !"category".equals(c.type()) && c.parentId() == null)
        .sorted(byPosition).forEach(out::add);
    channels.stream().filter(c -> "category".equals(c.type())).sorted(byPosition).forEach(cat -> {
      out.add(cat);
      channels.stream().filter(c -> cat.id().equals(c.parentId())).sorted(byPosition)
          .forEach(out::add);
    });
    // a channel whose category we cannot see still shows
    channels.stream().filter(c -> !out.contains(c)).sorted(byPosition).forEach(out::add);
    return out;
  }
}
