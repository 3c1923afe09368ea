package dev.cloister.node.metrics;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Times every HTTP request by route template, method and status. The template replaces each
 * path segment that is not one of the API's own words by {@code {id}}, so ids never become
 * label values; paths deeper than the API's, and templates beyond a fixed number, count as
 * {@code other}, so that a scanner cannot grow the label set.
 */
public final class HttpMetrics {

  /** Every literal segment of the API's paths (ApiRoutes and the route classes beside it). */
  static final Set<String> WORDS = Set.of("api", "v1", "health", "gateway", "auth", "register",
      "login", "start", "finish", "guilds", "channels", "overwrites", "messages", "pins",
      "users", "devices", "key-packages", "mls", "delivery-service", "groups", "group", "create",
      "commits", "group-info", "revoke", "reset", "welcome", "log", "roles", "members", "bans",
      "invites", "@me", "me", "nick");

  static final int MAX_SEGMENTS = 8;
  static final int MAX_TEMPLATES = 200;
  static final String OTHER = "other";

  private static final HttpMetrics NODE = new HttpMetrics();

  private final Set<String> seen = ConcurrentHashMap.newKeySet();

  HttpMetrics() {}

  /** Wraps a request handler so that each request is timed and counted. */
  public static Function<HttpRequest, CompletionStage<HttpResponse>> timed(
      Function<HttpRequest, CompletionStage<HttpResponse>> handler) {
    return request -> {
      long t0 = System.nanoTime();
      String route = NODE.template(request.getUri().path());
      String method = request.method().name();
      CompletionStage<HttpResponse> response;
      try {
        response = handler.apply(request);
      } catch (Exception e) {
        record(route, method, 500, t0);
        return CompletableFuture.failedFuture(e);
      }
      return response.whenComplete((r, failure) ->
          record(route, method, failure != null ? 500 : r.status().intValue(), t0));
    };
  }

  private static void record(String route, String method, int status, long t0) {
    CloisterMetrics.HTTP_REQUESTS.withTag("route", route).withTag("method", method)
        .withTag("status", Integer.toString(status)).record(System.nanoTime() - t0);
  }

  /** {@code /api/v1/channels/123/messages} becomes {@code /api/v1/channels/{id}/messages}. */
  String template(String path) {
    String[] segments = path.split("/", -1);
    if (segments.length - 1 > MAX_SEGMENTS) {
      return OTHER;
    }
    StringBuilder t = new StringBuilder();
    for (int i = 1; i < segments.length; i++) {
      String s = segments[i];
      t.append('/').append(s.isEmpty() || WORDS.contains(s) ? s : "{id}");
    }
    String template = t.length() == 0 ? "/" : t.toString();
    if (seen.contains(template)) {
      return template;
    }
    if (seen.size() >= MAX_TEMPLATES) {
      return OTHER;
    }
    seen.add(template);
    return template;
  }
}
