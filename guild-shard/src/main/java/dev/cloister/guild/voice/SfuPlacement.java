package dev.cloister.guild.voice;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Standalone SFUs behind their control API ({@code CLOISTER_SFUS}): a conference is placed on the
 * healthy SFU that wins rendezvous (highest random weight) hashing of the conference id, so that
 * every node places a call on the same SFU without talking to the others, and adding or losing
 * an SFU moves only the calls that hashed to it. Health is a {@code GET /health} per SFU every
 * {@code healthInterval}; an SFU that fails a call is marked down at once. Every request carries
 * the shared secret.
 */
public final class SfuPlacement implements VoiceChannel.MediaServers, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SfuPlacement.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<URI> sfus;
  private final String authorization;
  private final Duration timeout;
  private final HttpClient http;
  private final Set<URI> down = ConcurrentHashMap.newKeySet();
  /** Where this node placed each live conference (so a change of health moves no live call). */
  private final Map<String, URI> placed = new ConcurrentHashMap<>();
  private final ScheduledExecutorService health;

  /**
   * {@code controlAddresses}: base URIs of the SFUs' control APIs ({@code http://host:8091});
   * {@code secret}: what they expect as bearer token ("" for none).
   */
  public SfuPlacement(List<URI> controlAddresses, String secret, Duration timeout,
      Duration healthInterval) {
    if (controlAddresses.isEmpty()) {
      throw new IllegalArgumentException("no SFU control address given");
    }
    this.sfus = List.copyOf(controlAddresses);
    this.authorization = secret.isEmpty() ? null : "Bearer " + secret;
    this.timeout = timeout;
    this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
    this.health = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "sfu-health");
      t.setDaemon(true);
      return t;
    });
    health.scheduleWithFixedDelay(this::checkHealth, 0, healthInterval.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** Parses {@code CLOISTER_SFUS}: comma-separated {@code host:port} or {@code http(s)://host:port}. */
  public static List<URI> parse(String list) {
    List<URI> out = new ArrayList<>();
    for (String part : list.split(",")) {
      String p = part.strip();
      if (p.isEmpty()) {
        continue;
      }
      URI u = URI.create(p.contains("://") ? p : "http://" + p);
      if (u.getHost() == null || u.getPort() < 0) {
        throw new IllegalArgumentException("an SFU control address is host:port, was '" + p + "'");
      }
      out.add(URI.create(u.getScheme() + "://" + u.getHost() + ":" + u.getPort()));
    }
    return out;
  }

  /** The SFUs answering now. */
  public List<URI> healthy() {
    return sfus.stream().filter(u -> !down.contains(u)).toList();
  }

  /** Where {@code conferenceId} lives, or would be placed now (null if no SFU is healthy). */
  public URI placementOf(String conferenceId) {
    URI at = placed.get(conferenceId);
    return at != null ? at : choose(conferenceId);
  }

  private URI choose(String conferenceId) {
    URI best = null;
    long bestWeight = Long.MIN_VALUE;
    for (URI sfu : healthy()) {
      long w = weight(sfu, conferenceId);
      if (best == null || w > bestWeight) {
        best = sfu;
        bestWeight = w;
      }
    }
    return best;
  }

  static long weight(URI sfu, String conferenceId) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(
          (sfu + "\n" + conferenceId).getBytes(StandardCharsets.UTF_8));
      long w = 0;
      for (int i = 0; i < 8; i++) {
        w = (w << 8) | (d[i] & 0xff);
      }
      return w;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public CompletionStage<VoiceChannel.Endpoint> allocate(String conferenceId, String endpointId) {
    URI chosen = placementOf(conferenceId);
    if (chosen == null) {
      return CompletableFuture.failedFuture(new IllegalStateException("no SFU is answering"));
    }
    URI sfu = placed.computeIfAbsent(conferenceId, c -> chosen);
    String body = JSON.createObjectNode().put("endpointId", endpointId).toString();
    return call(sfu, "POST", "/v1/conferences/" + conferenceId + "/endpoints", body, 201)
        .whenComplete((a, e) -> {
          if (e != null && down.contains(sfu)) {
            placed.remove(conferenceId, sfu); // the next join of this call tries a healthy SFU
          }
        })
        .thenApply(a -> new VoiceChannel.Endpoint(a.get("endpointId").asText(),
            a.get("ssrc").asLong(), a.get("iceUfrag").asText(), a.get("icePwd").asText(),
            a.get("udpHost").asText(), a.get("udpPort").asInt(), a.get("audioLevelExtId").asInt()));
  }

  @Override
  public CompletionStage<Done> update(String conferenceId, String endpointId, boolean serverMuted,
      boolean deafened) {
    String body = JSON.createObjectNode().put("serverMuted", serverMuted).put("deafened", deafened)
        .toString();
    return at(conferenceId, sfu -> call(sfu, "PATCH",
        "/v1/conferences/" + conferenceId + "/endpoints/" + endpointId, body, 200))
        .thenApply(x -> Done.getInstance());
  }

  @Override
  public CompletionStage<Done> free(String conferenceId, String endpointId) {
    return at(conferenceId, sfu -> call(sfu, "DELETE",
        "/v1/conferences/" + conferenceId + "/endpoints/" + endpointId, null, 204)
        // already gone (404) or the SFU is down: nothing left to free
        .handle((x, e) -> Done.getInstance()));
  }

  @Override
  public CompletionStage<List<String>> speakers(String conferenceId) {
    return at(conferenceId, sfu -> call(sfu, "GET", "/v1/conferences/" + conferenceId
        + "/speakers", null, 200)
        .exceptionally(e -> {
          Throwable cause = e instanceof java.util.concurrent.CompletionException
              ? e.getCause() : e;
          if (cause instanceof Status st && st.status == 404) {
            throw new VoiceChannel.ConferenceGone("SFU " + sfu + " does not hold " + conferenceId);
          }
          throw cause instanceof RuntimeException r ? r
              : new java.util.concurrent.CompletionException(cause);
        }))
        .thenApply(b -> {
          List<String> out = new ArrayList<>();
          b.get("speakers").forEach(n -> out.add(n.asText()));
          return out;
        });
  }

  /** Forgets where the call was: its next allocation chooses among the SFUs answering then. */
  @Override
  public void replace(String conferenceId) {
    URI was = placed.remove(conferenceId);
    if (was != null) {
      log.warn("Call {} leaves SFU {}{}", conferenceId, was,
          down.contains(was) ? " (not answering)" : "");
    }
  }

  @Override
  public void callEnded(String conferenceId) {
    placed.remove(conferenceId);
  }

  private <T> CompletionStage<T> at(String conferenceId,
      java.util.function.Function<URI, CompletionStage<T>> call) {
    URI sfu = placementOf(conferenceId);
    if (sfu == null) {
      return CompletableFuture.failedFuture(new IllegalStateException("no SFU is answering"));
    }
    return call.apply(sfu);
  }

  /** An SFU's answer other than the expected status. */
  static final class Status extends RuntimeException {
    final int status;

    Status(int status, String message) {
      super(message, null, false, false);
      this.status = status;
    }
  }

  private CompletableFuture<JsonNode> call(URI sfu, String method, String path, String body,
      int expected) {
    HttpRequest.Builder b = HttpRequest.newBuilder(sfu.resolve(path)).timeout(timeout)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.sendAsync(b.build(), HttpResponse.BodyHandlers.ofString())
        .whenComplete((r, e) -> {
          if (e != null && down.add(sfu)) {
            log.warn("SFU {} is not answering ({}); new calls go elsewhere", sfu, e.toString());
          }
        })
        .thenApply(r -> {
          if (r.statusCode() != expected) {
            if (r.statusCode() == 401) {
              log.error("SFU {} refused this node's secret: set the same CLOISTER_SFU_SECRET on "
                  + "both", sfu);
            }
            throw new Status(r.statusCode(), "SFU " + sfu + " answered " + r.statusCode() + " to "
                + method + " " + path + ": " + r.body());
          }
          try {
            return r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
          } catch (java.io.IOException e) {
            throw new Status(502, "SFU " + sfu + " answered malformed JSON");
          }
        });
  }

  private void checkHealth() {
    for (URI sfu : sfus) {
      try {
        HttpResponse<Void> r = http.send(HttpRequest.newBuilder(sfu.resolve("/health"))
            .timeout(timeout).GET().build(), HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200) {
          if (down.remove(sfu)) {
            log.info("SFU {} answers again", sfu);
          }
        } else if (down.add(sfu)) {
          log.warn("SFU {} is unhealthy ({}); new calls go elsewhere", sfu, r.statusCode());
        }
      } catch (java.io.IOException e) {
        if (down.add(sfu)) {
          log.warn("SFU {} is not answering ({}); new calls go elsewhere", sfu, e.toString());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  @Override
  public void close() {
    health.shutdownNow();
  }
}
