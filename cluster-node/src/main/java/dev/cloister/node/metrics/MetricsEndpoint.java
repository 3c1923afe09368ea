package dev.cloister.node.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The Prometheus scrape endpoint, {@code GET /metrics} in the text exposition format, on its own
 * port (default 9095) so that it can be firewalled apart from the API. One small thread: a scrape
 * is a string copy.
 */
public final class MetricsEndpoint implements AutoCloseable {

  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  /** Endpoints by host:port: nodes of one JVM (tests) share one, as they share Kamon. */
  private static final Map<String, MetricsEndpoint> SHARED = new HashMap<>();

  private final HttpServer server;
  private final ExecutorService executor;
  private final String key;
  private int users = 1;

  private MetricsEndpoint(HttpServer server, ExecutorService executor, String key) {
    this.server = server;
    this.executor = executor;
    this.key = key;
  }

  /**
   * Binds {@code host:port} (0: a free port) and serves until {@link #close}; a node of this JVM
   * that asks for an address already served here shares that endpoint.
   */
  public static MetricsEndpoint start(String host, int port) throws IOException {
    String key = port == 0 ? null : host + ":" + port;
    synchronized (SHARED) {
      MetricsEndpoint running = key == null ? null : SHARED.get(key);
      if (running != null) {
        running.users++;
        return running;
      }
      MetricsEndpoint started = bind(host, port, key);
      if (key != null) {
        SHARED.put(key, started);
      }
      return started;
    }
  }

  private static MetricsEndpoint bind(String host, int port, String key) throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 16);
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "cloister-metrics-http");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/", MetricsEndpoint::handle);
    server.start();
    return new MetricsEndpoint(server, executor, key);
  }

  private static void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      if (!path.equals("/metrics")) {
        reply(exchange, 404, "not found: the metrics are at /metrics\n");
      } else if (!exchange.getRequestMethod().equals("GET")
          && !exchange.getRequestMethod().equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        reply(exchange, 405, "only GET and HEAD\n");
      } else {
        exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
        reply(exchange, 200, Metrics.scrape());
      }
    }
  }

  private static void reply(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : bytes.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(bytes);
      }
    }
  }

  public InetSocketAddress address() {
    return server.getAddress();
  }

  @Override
  public void close() {
    synchronized (SHARED) {
      if (--users > 0) {
        return;
      }
      if (key != null) {
        SHARED.remove(key);
      }
    }
    server.stop(0);
    executor.shutdownNow();
  }
}
