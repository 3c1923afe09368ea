package dev.cloister.sfu.control;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.cloister.sfu.conference.ConferenceRegistry;
import dev.cloister.sfu.conference.EndpointAllocation;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/JSON control API (documented in the module README), on the JDK's HTTP server.
 *
 * <pre>
 * GET    /health
 * GET    /v1/stats
 * POST   /v1/conferences/{conferenceId}/endpoints                {endpointId}
 * PATCH  /v1/conferences/{conferenceId}/endpoints/{endpointId}   {serverMuted?, deafened?}
 * DELETE /v1/conferences/{conferenceId}/endpoints/{endpointId}
 * GET    /v1/conferences/{conferenceId}
 * GET    /v1/conferences/{conferenceId}/speakers
 * </pre>
 *
 * <p>With a secret, every {@code /v1} request must carry {@code Authorization: Bearer <secret>}
 * ({@code 401} otherwise); {@code /health} stays open for probes.
 */
public final class ControlApi implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControlApi.class);
    private static final int MAX_BODY = 16 * 1024;

    private final ConferenceRegistry registry;
    private final Supplier<Map<String, Object>> stats;
    private final ObjectMapper json = new ObjectMapper();
    private final HttpServer server;
    private final ExecutorService executor;
    private final byte[] expectedAuthorization;

    private ControlApi(ConferenceRegistry registry, Supplier<Map<String, Object>> stats, HttpServer server,
                       ExecutorService executor, String secret) {
        this.expectedAuthorization = secret.isEmpty() ? null
                : ("Bearer " + secret).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        this.registry = registry;
        this.stats = stats;
        this.server = server;
        this.executor = executor;
    }

    /**
     * Serves on {@code host:port}; {@code secret} "" means no authentication, which is refused
     * unless {@code host} is a loopback address.
     */
    public static ControlApi start(ConferenceRegistry registry, Supplier<Map<String, Object>> stats, String host,
                                   int port, String secret) throws IOException {
        if (secret.isEmpty() && !java.net.InetAddress.getByName(host).isLoopbackAddress()) {
            throw new IllegalArgumentException("the SFU control API would listen on " + host
                    + " without authentication: set CLOISTER_SFU_SECRET (cloister.sfu.control-secret), "
                    + "or CLOISTER_SFU_CONTROL_HOST=127.0.0.1");
        }
        // Small JSON replies are written as headers then body; without TCP_NODELAY each waits on a delayed ACK.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) {
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 64);
        AtomicInteger n = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "sfu-control-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        ControlApi api = new ControlApi(registry, stats, server, executor, secret);
        server.createContext("/", api::handle);
        server.setExecutor(executor);
        server.start();
        log.info("SFU control API on http://{}:{}", host, api.port());
        return api;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Response response;
            try {
                response = route(exchange);
            } catch (BadRequest e) {
                response = error(e.status, e.getMessage());
            } catch (RuntimeException e) {
                log.warn("control request {} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
                response = error(500, "internal error");
            }
            byte[] body = response.body == null ? null : json.writeValueAsBytes(response.body);
            if (body != null) {
                exchange.getResponseHeaders().set("Content-Type", "application/json");
            }
            exchange.sendResponseHeaders(response.status, body == null ? -1 : body.length);
            if (body != null) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    private Response route(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        URI uri = exchange.getRequestURI();
        String[] parts = uri.getRawPath().replaceAll("^/+|/+$", "").split("/", -1);
        if (parts.length == 1 && parts[0].equals("health")) {
            requireMethod(method, "GET");
            return new Response(200, Map.of("status", "UP"));
        }
        if (parts.length < 2 || !parts[0].equals("v1")) {
            throw new BadRequest(404, "no such resource");
        }
        if (expectedAuthorization != null) {
            String given = exchange.getRequestHeaders().getFirst("Authorization");
            if (given == null || !java.security.MessageDigest.isEqual(expectedAuthorization,
                    given.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
                throw new BadRequest(401, "a valid 'Authorization: Bearer <secret>' is required");
            }
        }
        if (parts.length == 2 && parts[1].equals("stats")) {
            requireMethod(method, "GET");
            return new Response(200, stats.get());
        }
        if (!parts[1].equals("conferences") || parts.length < 3) {
            throw new BadRequest(404, "no such resource");
        }
        String conferenceId = parts[2];
        if (parts.length == 3) {
            requireMethod(method, "GET");
            return registry.describe(conferenceId)
                    .map(v -> new Response(200, v))
                    .orElseThrow(() -> new BadRequest(404, "no such conference"));
        }
        if (parts.length == 4 && parts[3].equals("speakers")) {
            requireMethod(method, "GET");
            // 404 tells a node that this SFU lost the call (it restarted): the node moves it.
            if (!registry.holds(conferenceId)) {
                throw new BadRequest(404, "no such conference");
            }
            return new Response(200, Map.of("speakers", registry.speakers(conferenceId)));
        }
        if (!parts[3].equals("endpoints") || parts.length > 5) {
            throw new BadRequest(404, "no such resource");
        }
        if (parts.length == 4) {
            requireMethod(method, "POST");
            return allocate(conferenceId, readObject(exchange));
        }
        String endpointId = parts[4];
        switch (method) {
            case "PATCH" -> {
                ObjectNode body = readObject(exchange);
                Boolean muted = optionalBoolean(body, "serverMuted");
                Boolean deafened = optionalBoolean(body, "deafened");
                return registry.update(conferenceId, endpointId, muted, deafened)
                        .map(v -> new Response(200, v))
                        .orElseThrow(() -> new BadRequest(404, "no such endpoint"));
            }
            case "DELETE" -> {
                if (!registry.remove(conferenceId, endpointId)) {
                    throw new BadRequest(404, "no such endpoint");
                }
                return new Response(204, null);
            }
            default -> throw new BadRequest(405, "method not allowed");
        }
    }

    private Response allocate(String conferenceId, ObjectNode body) {
        JsonNode id = body.get("endpointId");
        if (id == null || !id.isTextual()) {
            throw new BadRequest(400, "endpointId (string) is required");
        }
        if (!ConferenceRegistry.ID.matcher(conferenceId).matches()
                || !ConferenceRegistry.ID.matcher(id.textValue()).matches()) {
            throw new BadRequest(400, "ids must be 1..128 characters of [A-Za-z0-9._~-]");
        }
        Optional<EndpointAllocation> allocation = registry.allocate(conferenceId, id.textValue());
        return allocation.map(a -> new Response(201, a))
                .orElseThrow(() -> new BadRequest(409, "endpoint already exists in this conference"));
    }

    private ObjectNode readObject(HttpExchange exchange) throws IOException {
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readNBytes(MAX_BODY + 1);
        }
        if (body.length > MAX_BODY) {
            throw new BadRequest(413, "body too large");
        }
        if (body.length == 0) {
            throw new BadRequest(400, "a JSON object body is required");
        }
        JsonNode node;
        try {
            node = json.readTree(body);
        } catch (JsonProcessingException e) {
            throw new BadRequest(400, "malformed JSON");
        }
        if (node == null || !node.isObject()) {
            throw new BadRequest(400, "a JSON object body is required");
        }
        return (ObjectNode) node;
    }

    private static Boolean optionalBoolean(ObjectNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isBoolean()) {
            throw new BadRequest(400, field + " must be a boolean");
        }
        return v.booleanValue();
    }

    private static void requireMethod(String actual, String expected) {
        if (!actual.equals(expected)) {
            throw new BadRequest(405, "method not allowed");
        }
    }

    private static Response error(int status, String message) {
        return new Response(status, Map.of("error", message));
    }

    private record Response(int status, Object body) {
    }

    private static final class BadRequest extends RuntimeException {
        private final int status;

        BadRequest(int status, String message) {
            super(message, null, false, false);
            this.status = status;
        }
    }
}
