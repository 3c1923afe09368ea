package dev.cloister.client.voice;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cloister.sfu.SelectiveForwardingUnit;
import dev.cloister.sfu.SfuConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** A real voice-sfu on loopback (ephemeral ports), endpoints allocated over its HTTP control API. */
final class SfuFixture implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final SelectiveForwardingUnit sfu;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  SfuFixture() throws IOException, InterruptedException {
    sfu = new SelectiveForwardingUnit(SfuConfig.loopbackEphemeral().withIoThreads(1)).start();
  }

  /** Allocates an endpoint as the VoiceChannel entity will, and reads the reply as the gateway would forward it. */
  VoiceServer allocate(String conference, String endpoint) throws IOException, InterruptedException {
    JsonNode reply = call("POST", "/v1/conferences/" + conference + "/endpoints",
        "{\"endpointId\":\"" + endpoint + "\"}", 201);
    return VoiceServer.fromJson(reply);
  }

  JsonNode conference(String conference) throws IOException, InterruptedException {
    return call("GET", "/v1/conferences/" + conference, null, 200);
  }

  void delete(String conference, String endpoint) throws IOException, InterruptedException {
    HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sfu.controlPort() + "/v1/conferences/"
        + conference + "/endpoints/" + endpoint)).DELETE().timeout(Duration.ofSeconds(10)).build();
    int status = http.send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
    if (status != 204) {
      throw new IllegalStateException("DELETE endpoint " + endpoint + ": " + status);
    }
  }

  JsonNode stats() throws IOException, InterruptedException {
    return call("GET", "/v1/stats", null, 200);
  }

  private JsonNode call(String method, String path, String body, int expect) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + sfu.controlPort() + path))
        .timeout(Duration.ofSeconds(10))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != expect) {
      throw new IllegalStateException(method + " " + path + ": " + r.statusCode() + " " + r.body());
    }
    return JSON.readTree(r.body());
  }

  @Override
  public void close() {
    sfu.close();
  }
}
