package dev.cloister.guild;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Guild permissions. The bit of each is part of the API and the journal: append new ones, never
 * renumber.
 */
public enum Permission {
  VIEW_CHANNEL(0),
  SEND_MESSAGES(1),
  READ_MESSAGE_HISTORY(2),
  MANAGE_MESSAGES(3),
  MANAGE_CHANNELS(4),
  MANAGE_ROLES(5),
  MANAGE_GUILD(6),
  KICK_MEMBERS(7),
  BAN_MEMBERS(8),
  CREATE_INVITE(9),
  CONNECT(10),
  SPEAK(11),
  MUTE_MEMBERS(12),
  DEAFEN_MEMBERS(13),
  MOVE_MEMBERS(14),
  ADMINISTRATOR(15);

  public final long bit;

  Permission(int index) {
    this.bit = 1L << index;
  }

  /** Every permission there is. */
  public static final long ALL = mask(List.of(values()));

  /** What the @everyone role of a new guild allows. */
  public static final long EVERYONE_DEFAULT = mask(List.of(
      VIEW_CHANNEL, SEND_MESSAGES, READ_MESSAGE_HISTORY, CREATE_INVITE, CONNECT, SPEAK));

  public static long mask(Collection<Permission> permissions) {
    long m = 0;
    for (Permission p : permissions) {
      m |= p.bit;
    }
    return m;
  }

  public boolean in(long mask) {
    return (mask & bit) != 0;
  }

  public static List<String> names(long mask) {
    List<String> out = new ArrayList<>();
    for (Permission p : values()) {
      if (p.in(mask)) {
        out.add(p.name());
      }
    }
    return out;
  }

  public static Optional<Permission> byName(String name) {
    try {
      return Optional.of(valueOf(name.toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }
}
