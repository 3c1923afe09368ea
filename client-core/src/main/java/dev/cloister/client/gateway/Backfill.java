package dev.cloister.client.gateway;

import java.util.function.Consumer;

/**
 * How a client catches up on what a lost session would have delivered. {@link HistoryBackfill}
 * reads channel history; a layer above (MLS sync) may wrap it. Called on the delivery thread.
 */
public interface Backfill {

  /** The newest message id of a channel when following starts: 0 if none, or {@link ChannelCursors#UNKNOWN}. */
  long newestMessageId(String channelId);

  /**
   * Delivers, as backfilled MESSAGE_CREATEs in id order, every message of the followed channels
   * newer than their cursors, recording each in {@code cursors}; false if it had to stop early.
   */
  boolean run(ChannelCursors cursors, Consumer<Dispatch> deliver);
}
