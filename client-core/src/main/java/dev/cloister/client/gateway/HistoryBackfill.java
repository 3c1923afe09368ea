package dev.cloister.client.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.http.ServerUnreachableException;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Backfills from {@code GET /channels/{id}/messages?after=}: for each followed channel, pages just
 * newer than the last id seen until an empty page, oldest first. The read model serves a channel's
 * own writes (the server waits for it), so nothing acknowledged before the page is missing.
 */
public final class HistoryBackfill implements Backfill {

  private static final System.Logger LOG = System.getLogger(HistoryBackfill.class.getName());
  private static final int PAGE = 100;
  // A flooded channel still ends: 100,000 pages is 10 million messages.
  private static final int MAX_PAGES = 100_000;
  private static final int ATTEMPTS = 5;

  private final RestClient rest;
  private final Duration firstRetryWait;

  public HistoryBackfill(RestClient rest) {
    this(rest, Duration.ofSeconds(1));
  }

  HistoryBackfill(RestClient rest, Duration firstRetryWait) {
    this.rest = rest;
    this.firstRetryWait = firstRetryWait;
  }

  @Override
  public long newestMessageId(String channelId) {
    try {
      JsonNode page = rest.get(path(channelId) + "?limit=1");
      return page != null && page.size() > 0 ? Long.parseLong(page.get(0).path("id").asText("0")) : 0;
    } catch (ApiException | ServerUnreachableException | NumberFormatException e) {
      LOG.log(System.Logger.Level.DEBUG, "no history baseline for channel " + channelId + ": " + e);
      return ChannelCursors.UNKNOWN;
    }
  }

  @Override
  public boolean run(ChannelCursors cursors, Consumer<Dispatch> deliver) {
    boolean complete = true;
    for (String channelId : cursors.channels()) {
      complete &= channel(cursors, channelId, deliver);
    }
    return complete;
  }

  private boolean channel(ChannelCursors cursors, String channelId, Consumer<Dispatch> deliver) {
    if (cursors.seen(channelId) == ChannelCursors.UNKNOWN) {
      return true;
    }
    String guildId = cursors.guildOf(channelId);
    for (int pages = 0; pages < MAX_PAGES; pages++) {
      // The API's ids are positive: "after 1" is the whole channel.
      long after = Math.max(1, cursors.seen(channelId));
      JsonNode page;
      try {
        page = withRetries(() -> rest.get(path(channelId) + "?limit=" + PAGE + "&after=" + after));
      } catch (ApiException e) {
        if (e.status() == 403 || e.status() == 404) {
          cursors.unfollow(channelId); // deleted, or no longer ours to read
          return true;
        }
        LOG.log(System.Logger.Level.WARNING, "backfill of channel " + channelId + " stopped: " + e);
        return false;
      } catch (ServerUnreachableException e) {
        LOG.log(System.Logger.Level.WARNING, "backfill of channel " + channelId + " stopped: " + e);
        return false;
      }
      if (page == null || page.size() == 0) {
        return true;
      }
      // Pages are newest first; deliver oldest first.
      for (int i = page.size() - 1; i >= 0; i--) {
        JsonNode m = page.get(i);
        long id;
        try {
          id = Long.parseLong(m.path("id").asText());
        } catch (NumberFormatException e) {
          LOG.log(System.Logger.Level.WARNING, "skipping a history entry without a numeric id");
          continue;
        }
        if (id <= after) {
          continue; // the server answered outside the asked range: never loop on it
        }
        ObjectNode d = m.deepCopy();
        if (guildId != null && !d.has("guildId")) {
          d.put("guildId", guildId);
        }
        cursors.backfilled(channelId, id);
        deliver.accept(new Dispatch(Dispatch.MESSAGE_CREATE, 0, d, true));
      }
      if (cursors.seen(channelId) <= after) {
        return true; // no progress: nothing newer to read
      }
    }
    return true;
  }

  /** A network failure is retried a few times with doubling waits: the gateway just reconnected. */
  private JsonNode withRetries(java.util.function.Supplier<JsonNode> call) {
    Duration wait = firstRetryWait;
    for (int attempt = 1; ; attempt++) {
      try {
        return call.get();
      } catch (ServerUnreachableException e) {
        if (attempt >= ATTEMPTS) {
          throw e;
        }
        try {
          Thread.sleep(wait.toMillis());
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
        wait = wait.multipliedBy(2);
      }
    }
  }

  private static String path(String channelId) {
    return "/api/v1/channels/" + RestClient.segment(channelId) + "/messages";
  }
}
