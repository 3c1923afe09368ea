package dev.cloister.client;

/**
 * Which page of a channel's history to read: the newest, those just older than {@code before},
 * those just newer than {@code after}, or the newest between both; 1..100 of them. Pages are
 * always newest first.
 */
public record HistoryQuery(String before, String after, int limit) {

  public static final int MAX_LIMIT = 100;

  public HistoryQuery {
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException("limit must be 1.." + MAX_LIMIT + ", was " + limit);
    }
  }

  public static HistoryQuery latest(int limit) {
    return new HistoryQuery(null, null, limit);
  }

  public static HistoryQuery before(String messageId, int limit) {
    return new HistoryQuery(messageId, null, limit);
  }

  public static HistoryQuery after(String messageId, int limit) {
    return new HistoryQuery(null, messageId, limit);
  }

  /** The query string, starting with '?'. */
  String toQueryString() {
    StringBuilder q = new StringBuilder("?limit=").append(limit);
    if (before != null) {
      q.append("&before=").append(dev.cloister.client.http.RestClient.segment(before));
    }
    if (after != null) {
      q.append("&after=").append(dev.cloister.client.http.RestClient.segment(after));
    }
    return q.toString();
  }
}
