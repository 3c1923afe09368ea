package dev.cloister.guild;

import java.util.Locale;
import java.util.Optional;

public enum ChannelType {
  TEXT,
  VOICE,
  /** Groups channels; holds no messages or voice itself. */
  CATEGORY;

  /** The name used on the API: {@code "text"}, {@code "voice"} or {@code "category"}. */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Optional<ChannelType> fromWire(String name) {
    for (ChannelType t : values()) {
      if (t.wireName().equals(name)) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }
}
