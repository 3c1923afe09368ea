package dev.cloister.node.http;

import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.model.StatusCode;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;

/**
 * Answers requests too malformed to reach the routes (a bad target, an unknown method, a line or
 * header over the limits, an unknown HTTP version) in the API's own {@code {code, message}} JSON,
 * and logs them at most once a minute with a count: Pekko HTTP's default logs a WARN per request,
 * which lets anyone flood the log. Named in {@code pekko.http.server.parsing.error-handler}.
 */
public final class JsonParsingErrors extends ParsingErrorHandler {

  private static final long LOG_EVERY_NANOS = 60_000_000_000L;
  private static final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);
  private static final AtomicLong unlogged = new AtomicLong();

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo error, LoggingAdapter log,
      ServerSettings settings) {
    long now = System.nanoTime();
    long last = lastLogged.get();
    if (now - last >= LOG_EVERY_NANOS && lastLogged.compareAndSet(last, now)) {
      log.warning("Malformed HTTP requests answered {} in the last minute; the latest: {} {}",
          unlogged.getAndSet(0) + 1, status.intValue(), error.summary());
    } else {
      unlogged.incrementAndGet();
    }
    String code = switch (status.intValue()) {
      case 413 -> "payload_too_large";
      case 414 -> "uri_too_long";
      case 431 -> "headers_too_large";
      case 501 -> "not_implemented";
      case 505 -> "http_version_not_supported";
      default -> "bad_request";
    };
    String body = JsonRoutes.obj().put("code", code).put("message", error.summary()).toString();
    return HttpResponse.create().withStatus(status.intValue())
        .withEntity(ContentTypes.APPLICATION_JSON, body);
  }
}
