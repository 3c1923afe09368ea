package dev.cloister.client.gateway;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Per followed text channel, how far the client has seen (the newest message id delivered, or
 * the newest that existed when it started following) and up to which id a backfill already
 * delivered, so the next session's live copies of those messages are dropped. Message ids are
 * snowflakes assigned in order by the channel's single writer, so within a channel "already
 * delivered" is "at most this id". Used from the delivery thread only.
 */
public final class ChannelCursors {

  /** No history could be read when following started (no READ_MESSAGE_HISTORY): no backfill. */
  public static final long UNKNOWN = -1;

  private static final class Cursor {
    final String guildId;
    long seen;
    long backfilledUpTo;

    Cursor(String guildId, long seen) {
      this.guildId = guildId;
      this.seen = seen;
    }
  }

  private final Map<String, Cursor> channels = new HashMap<>();
  private long newestEver;

  /** Starts following; {@code baseline} is the newest id that existed then, 0 for none. */
  public void follow(String channelId, String guildId, long baseline) {
    Cursor c = channels.get(channelId);
    if (c == null) {
      channels.put(channelId, new Cursor(guildId, baseline));
    } else if (baseline > c.seen) {
      c.seen = baseline;
    }
    newestEver = Math.max(newestEver, baseline);
  }

  public boolean follows(String channelId) {
    return channels.containsKey(channelId);
  }

  public void unfollow(String channelId) {
    channels.remove(channelId);
  }

  public void unfollowGuild(String guildId) {
    channels.values().removeIf(c -> guildId.equals(c.guildId));
  }

  /**
   * Records a live MESSAGE_CREATE; false when a backfill already delivered it. A message in a
   * channel not followed yet starts following it there.
   */
  public boolean accept(String channelId, String guildId, long messageId) {
    // Never followed: what came before this message was not ours to see, so start from it.
    Cursor c = channels.computeIfAbsent(channelId, id -> new Cursor(guildId, messageId));
    if (messageId <= c.backfilledUpTo) {
      return false;
    }
    c.seen = Math.max(c.seen, messageId);
    newestEver = Math.max(newestEver, messageId);
    return true;
  }

  /** Records a message delivered by a backfill. */
  public void backfilled(String channelId, long messageId) {
    Cursor c = channels.get(channelId);
    if (c != null) {
      c.seen = Math.max(c.seen, messageId);
      c.backfilledUpTo = Math.max(c.backfilledUpTo, messageId);
    }
    newestEver = Math.max(newestEver, messageId);
  }

  /**
   * The newest message id seen in any channel, 0 if none. Ids are time-ordered across channels,
   * so it marks when the client was last known to be in step: a channel that appears after a
   * lost session is read from there, which covers whatever was posted in it during the gap.
   */
  public long newestEver() {
    return newestEver;
  }

  /** The id after which a backfill reads, {@link #UNKNOWN}, or 0 for "from the start". */
  public long seen(String channelId) {
    Cursor c = channels.get(channelId);
    return c == null ? UNKNOWN : c.seen;
  }

  public String guildOf(String channelId) {
    Cursor c = channels.get(channelId);
    return c == null ? null : c.guildId;
  }

  public List<String> channels() {
    return List.copyOf(channels.keySet());
  }
}
