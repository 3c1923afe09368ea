package dev.cloister.node.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * A benchmark member's gateway connection: identifies when the node says hello, reports once
 * whether it got ready (or failed before), and hands on every other whole text frame with the
 * time its last part arrived.
 */
abstract class MemberSocket implements WebSocket.Listener {

  private final String identify;
  private final StringBuilder partial = new StringBuilder();
  private boolean settled;

  MemberSocket(String token, String deviceId) {
    this.identify = "{\"op\":\"identify\",\"d\":{\"token\":\"" + token + "\",\"deviceId\":\""
        + deviceId + "\"}}";
  }

  /** Once, when the session is ready. */
  abstract void ready();

  /** Once, if the connection failed before the session got ready. */
  abstract void failed();

  /** Any frame but hello and ready; {@code arrivedNanos} is when its last part came. */
  void frame(String frame, long arrivedNanos) {}

  /** Connects to {@code gateway}, adding the socket to {@code open} (guarded by itself). */
  void connect(HttpClient http, URI gateway, List<WebSocket> open) {
    http.newWebSocketBuilder().buildAsync(gateway, this).whenComplete((ws, t) -> {
      if (t != null) {
        onError(null, t);
      } else {
        synchronized (open) {
          open.add(ws);
        }
      }
    });
  }

  @Override
  public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
    long now = System.nanoTime();
    partial.append(data);
    if (last) {
      String f = partial.toString();
      partial.setLength(0);
      if (f.startsWith("{\"op\":\"hello\"")) {
        ws.sendText(identify, true);
      } else if (f.startsWith("{\"op\":\"ready\"")) {
        if (!settled) {
          settled = true;
          ready();
        }
      } else {
        frame(f, now);
      }
    }
    ws.request(1);
    return null;
  }

  @Override
  public void onError(WebSocket ws, Throwable error) {
    if (!settled) {
      settled = true;
      failed();
    }
  }
}
