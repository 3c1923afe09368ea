package dev.cloister.client;

import java.util.List;

/** A channel: {@code type} is "text", "voice" or "category"; {@code parentId} its category or null. */
public record Channel(String id, String guildId, String name, String type, String parentId,
    int position, List<Overwrite> overwrites) {

  public Channel {
    overwrites = overwrites == null ? List.of() : List.copyOf(overwrites);
  }

  public boolean isText() {
    return "text".equals(type);
  }

  /** A permission overwrite on a channel for a role or a member ({@code type} "role"|"member"). */
  public record Overwrite(String id, String type, List<String> allow, List<String> deny) {}
}
