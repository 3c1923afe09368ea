package dev.cloister.sfu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cloister.sfu.conference.EndpointAllocation;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The control API as a node would call it, over real HTTP. */
public final class ControlClient {

    public record Reply(int status, JsonNode body) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String base;
    private final String secret;

    public ControlClient(int port) {
        this(port, "");
    }

    /** A client that sends {@code Authorization: Bearer <secret>} (none when "" ). */
    public ControlClient(int port, String secret) {
        this.base = "http://127.0.0.1:" + port;
        this.secret = secret;
    }

    public Reply call(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (!secret.isEmpty()) {
            b.header("Authorization", "Bearer " + secret);
        }
        HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode node = r.body() == null || r.body().isEmpty() ? null : JSON.readTree(r.body());
        return new Reply(r.statusCode(), node);
    }

    public EndpointAllocation allocate(String conference, String endpoint) throws IOException, InterruptedException {
        Reply r = call("POST", "/v1/conferences/" + conference + "/endpoints", "{\"endpointId\":\"" + endpoint + "\"}");
        if (r.status() != 201) {
            throw new IllegalStateException("allocate failed: " + r);
        }
        return JSON.treeToValue(r.body(), EndpointAllocation.class);
    }

    public Reply patch(String conference, String endpoint, String body) throws IOException, InterruptedException {
        return call("PATCH", "/v1/conferences/" + conference + "/endpoints/" + endpoint, body);
    }

    public Reply delete(String conference, String endpoint) throws IOException, InterruptedException {
        return call("DELETE", "/v1/conferences/" + conference + "/endpoints/" + endpoint, null);
    }

    public Reply conference(String conference) throws IOException, InterruptedException {
        return call("GET", "/v1/conferences/" + conference, null);
    }

    public JsonNode stats() throws IOException, InterruptedException {
        return call("GET", "/v1/stats", null).body();
    }

    /** The endpoint's entry in {@code GET /v1/conferences/{id}}. */
    public JsonNode endpoint(String conference, String endpoint) throws IOException, InterruptedException {
        for (JsonNode e : conference(conference).body().get("endpoints")) {
            if (e.get("endpointId").asText().equals(endpoint)) {
                return e;
            }
        }
        return null;
    }
}
