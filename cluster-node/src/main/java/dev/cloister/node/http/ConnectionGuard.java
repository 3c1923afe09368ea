package dev.cloister.node.http;

import dev.cloister.node.limits.ClientAddress;
import dev.cloister.node.metrics.CloisterMetrics;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.IncomingConnection;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one client may hold of the HTTP server's connections. pekko-http reads request headers
 * with no deadline and counts connections only in total ({@code max-connections}), so without
 * this one address opening a thousand connections that send half a header each (slowloris) makes
 * the node unreachable for everyone. Here each address (an IPv6 client by its /64) may have
 * {@code maxPerClient} connections in HTTP at once, and a connection whose first request has not
 * fully arrived within {@code firstRequestTimeout} is closed. A connection over the limit gets one
 * {@code 429 too_many_connections} and is closed.
 *
 * <p>A gateway connection counts until its WebSocket upgrade; after that it is the gateway's (its
 * own connect rate and frame limits).
 */
public final class ConnectionGuard {

  private static final Logger log = LoggerFactory.getLogger(ConnectionGuard.class);
  private static final long LOG_EVERY_NANOS = 60_000_000_000L;

  /**
   * {@code maxConnections}: in all (more wait to be accepted, as pekko-http's own binding does);
   * {@code maxPerClient} 0: no per-client limit.
   */
  public record Settings(int maxConnections, int maxPerClient, Duration firstRequestTimeout) {}

  private final Settings settings;
  /** Connections in HTTP by client key; a key leaves with its last connection. */
  private final Map<String, Integer> open = new ConcurrentHashMap<>();
  private final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_EVERY_NANOS);
  private final AtomicLong unlogged = new AtomicLong();

  public ConnectionGuard(Settings settings) {
    this.settings = settings;
  }

  /** Binds {@code server}, serving every connection this guard lets in with {@code handler}. */
  public CompletionStage<ServerBinding> bind(ServerBuilder server,
      Function<HttpRequest, CompletionStage<HttpResponse>> handler, Materializer materializer) {
    return server.connectionSource()
        .mapAsyncUnordered(settings.maxConnections(), c -> accept(c, handler, materializer))
        .to(Sink.ignore())
        .run(materializer);
  }

  /** Connections in HTTP now from the client of this key (for tests and metrics). */
  int openFrom(String key) {
    return open.getOrDefault(key, 0);
  }

  /** Serves one connection; completes when it leaves HTTP (closed, or upgraded). */
  private CompletionStage<Done> accept(IncomingConnection connection,
      Function<HttpRequest, CompletionStage<HttpResponse>> handler, Materializer materializer) {
    String key = ClientAddress.limitKey(connection.remoteAddress().getAddress());
    int now = open.merge(key, 1, Integer::sum);
    Flow<HttpRequest, HttpResponse, CompletionStage<Done>> flow;
    if (settings.maxPerClient() > 0 && now > settings.maxPerClient()) {
      CloisterMetrics.RATE_LIMIT_REFUSALS.withTag("limit", "connections_per_client").increment();
      refused(key);
      flow = firstRequestWithin(Flow.of(HttpRequest.class)
          .take(1)
          .map(request -> {
            request.discardEntityBytes(materializer);
            return tooMany();
          }))
          .watchTermination(Keep.right());
    } else {
      flow = firstRequestWithin(Flow.of(HttpRequest.class).mapAsync(1, handler::apply))
          .watchTermination(Keep.right());
    }
    return connection.handleWith(flow, materializer).handle((done, failure) -> {
      open.computeIfPresent(key, (k, n) -> n == 1 ? null : n - 1);
      return Done.getInstance();
    });
  }

  /**
   * Serves requests if the first arrives within the deadline; else the connection is closed.
   * (pekko-http then answers the request it never finished parsing with an empty 500 and
   * "Connection: close", which no flow of ours can replace.)
   */
  private Flow<HttpRequest, HttpResponse, NotUsed> firstRequestWithin(
      Flow<HttpRequest, HttpResponse, NotUsed> serve) {
    return Flow.of(HttpRequest.class)
        .initialTimeout(settings.firstRequestTimeout())
        .recoverWithRetries(1, TimeoutException.class, Source::empty)
        .via(serve);
  }

  private static HttpResponse tooMany() {
    String body = JsonRoutes.obj().put("code", "too_many_connections")
        .put("message", "too many connections from your address; close some and try again")
        .toString();
    return HttpResponse.create().withStatus(429)
        .addHeader(Connection.create("close"))
        .withEntity(ContentTypes.APPLICATION_JSON, body);
  }

  /** One WARN a minute at most, with how many were refused since: refusals come in floods. */
  private void refused(String key) {
    long t = System.nanoTime();
    long last = lastLogged.get();
    if (t - last >= LOG_EVERY_NANOS && lastLogged.compareAndSet(last, t)) {
      log.warn("Refused {} connections over the per-client limit of {} in the last minute; the "
          + "latest from {}", unlogged.getAndSet(0) + 1, settings.maxPerClient(), key);
    } else {
      unlogged.incrementAndGet();
    }
  }
}
