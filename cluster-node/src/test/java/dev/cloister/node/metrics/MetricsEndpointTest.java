package dev.cloister.node.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

class MetricsEndpointTest {

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static int status(int port, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  @Test
  void nodesOfOneJvmShareAnAddressAndTheLastOneStopsIt() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    MetricsEndpoint a = MetricsEndpoint.start("127.0.0.1", port);
    MetricsEndpoint b = MetricsEndpoint.start("127.0.0.1", port);
    assertThat(b).isSameAs(a);
    assertThat(status(port, "/metrics")).isEqualTo(200);
    assertThat(status(port, "/")).isEqualTo(404);
    a.close();
    assertThat(status(port, "/metrics")).isEqualTo(200);
    b.close();
    assertThatThrownBy(() -> status(port, "/metrics")).isInstanceOf(IOException.class);
  }

  @Test
  void aPortTakenByAnotherProcessIsAnError() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      assertThatThrownBy(() -> MetricsEndpoint.start("127.0.0.1", taken.getLocalPort()))
          .isInstanceOf(IOException.class);
    }
  }
}
