package dev.cloister.node.localcluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * {@code ./cloister cluster status}: the members of the local cluster and their reachability (Pekko
 * management's {@code /cluster/members}, asked of the first node that answers), then each
 * answering node's shards and entities per entity type ({@code /cluster/shards/<type>}).
 * Arguments: the management base URLs to ask, e.g. {@code http://127.0.0.1:8558}.
 */
public final class ClusterStatus {

  /** The sharded entity types of a node (their EntityTypeKey names). */
  static final List<String> ENTITY_TYPES = List.of("Account", "User", "Guild", "TextChannel",
      "EncryptionGroup", "VoiceChannel", "GatewaySession");

  private static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(2)).build();

  private ClusterStatus() {
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: ClusterStatus <management base URL>...");
      System.exit(2);
    }
    System.exit(new ClusterStatus().print(List.of(args)) ? 0 : 1);
  }

  /** Prints the report; false when no node answered. */
  boolean print(List<String> managementUrls) throws InterruptedException {
    Map<String, JsonNode> members = new LinkedHashMap<>();
    for (String url : managementUrls) {
      get(url + "/cluster/members").ifPresent(m -> members.put(url, m));
    }
    if (members.isEmpty()) {
      System.out.println("No node answers on " + String.join(", ", managementUrls));
      return false;
    }
    String asker = members.keySet().iterator().next();
    JsonNode view = members.get(asker);
    TreeSet<String> unreachable = new TreeSet<>();
    Map<String, List<String>> observers = new LinkedHashMap<>();
    for (JsonNode u : view.path("unreachable")) {
      unreachable.add(u.path("node").asText());
      List<String> by = new ArrayList<>();
      u.path("observedBy").forEach(o -> by.add(o.asText()));
      observers.put(u.path("node").asText(), by);
    }
    System.out.printf("Cluster as %s sees it (leader %s, oldest %s):%n", asker,
        view.path("leader").asText("none"), view.path("oldest").asText("none"));
    System.out.printf("  %-36s %-8s %-10s%n", "member", "status", "reachable");
    for (JsonNode m : view.path("members")) {
      String node = m.path("node").asText();
      System.out.printf("  %-36s %-8s %-10s%n", node, m.path("status").asText(),
          unreachable.contains(node) ? "NO (by " + String.join(", ", observers.get(node)) + ")"
              : "yes");
    }
    // Nodes that disagree on the membership are two clusters on one database: say so loudly.
    Map<String, List<String>> views = new LinkedHashMap<>();
    members.forEach((url, m) -> {
      List<String> nodes = new ArrayList<>();
      m.path("members").forEach(x -> nodes.add(x.path("node").asText()));
      views.put(url, nodes);
    });
    if (views.values().stream().distinct().count() > 1) {
      System.out.println("  WARNING: the nodes see different clusters (split brain); stop the"
          + " smaller side:");
      views.forEach((url, nodes) -> System.out.println("    " + url + " sees " + nodes));
    }
    if (members.size() < managementUrls.size()) {
      List<String> silent = new ArrayList<>(managementUrls);
      silent.removeAll(members.keySet());
      System.out.println("  not answering: " + String.join(", ", silent));
    }

    System.out.println();
    System.out.println("Shards / entities hosted, per node:");
    StringBuilder header = new StringBuilder(String.format("  %-24s", "node"));
    ENTITY_TYPES.forEach(t -> header.append(String.format(" %16s", t)));
    System.out.println(header);
    for (Map.Entry<String, JsonNode> e : members.entrySet()) {
      StringBuilder row = new StringBuilder(String.format("  %-24s",
          e.getKey().replaceFirst("^https?://", "")));
      for (String type : ENTITY_TYPES) {
        Optional<JsonNode> shards = get(e.getKey() + "/cluster/shards/" + type);
        if (shards.isEmpty()) {
          row.append(String.format(" %16s", "-"));
          continue;
        }
        int count = 0;
        long entities = 0;
        for (JsonNode region : shards.get().path("regions")) {
          count++;
          entities += region.path("numEntities").asLong();
        }
        row.append(String.format(" %16s", count + " / " + entities));
      }
      System.out.println(row);
    }
    return true;
  }

  private Optional<JsonNode> get(String url) throws InterruptedException {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url))
          .timeout(Duration.ofSeconds(3)).GET().build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? Optional.of(JSON.readTree(r.body())) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
