package dev.cloister.node.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Renders each overlay of {@code k8s/} with the real Kustomize ({@code kubectl kustomize}) and
 * checks it against the code: every environment variable a container sets is one its program
 * reads, with that environment the configured ports are the container ports and the probes hit
 * management's health paths, cluster bootstrap finds exactly the node pods, selectors match
 * labels, and every Secret is referenced by name (listed in {@code k8s/expected-secrets.txt}),
 * never inlined. Without kubectl on the PATH it is skipped, unless {@code CI} is set (.ci/run
 * installs kubectl) or {@code -Dcloister.manifests.require-kubectl=true}.
 */
class KubernetesManifestTest {

  private static final Pattern ENV_SUBSTITUTION = Pattern.compile("\\$\\{\\?([A-Za-z0-9_]+)}");
  /** Read by the JVM itself, not by our configuration. */
  private static final Set<String> JVM_VARIABLES = Set.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS");
  private static final String NODE_MAIN = "dev.cloister.node.Node";
  /** The label a StatefulSet's controller puts on each pod: its ordinal. */
  private static final String POD_INDEX = "apps.kubernetes.io/pod-index";

  private static Path repo;

  @BeforeAll
  static void findRepo() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isDirectory(dir.resolve("k8s/overlays"))) {
      dir = dir.getParent();
    }
    assertThat(dir).as("the repository root (a folder holding k8s/overlays)").isNotNull();
    repo = dir;
  }

  @ParameterizedTest
  @ValueSource(strings = {"dev", "production"})
  void overlayStaysTrueToTheCode(String overlay) throws Exception {
    Rendered r = new Rendered(render(repo.resolve("k8s/overlays/" + overlay)));
    List<String> problems = new ArrayList<>();

    JsonNode node = r.one("StatefulSet", "cloister");
    JsonNode nodeContainer = container(node, "node");
    checkNode(r, node, nodeContainer, problems);

    JsonNode sfu = r.one("StatefulSet", "cloister-sfu");
    checkSfu(sfu, container(sfu, "sfu"), problems);
    checkNodeFindsEverySfu(nodeContainer, sfu, problems);

    for (JsonNode d : r.workloads()) {
      checkSelectorMatchesTemplate(d, problems);
    }
    checkServicesAndMonitors(r, problems);
    checkSecrets(r, problems);
    checkDashboards(r, problems);

    assertThat(problems).as("overlay %s against the code", overlay).isEmpty();
  }

  // --- the node ---------------------------------------------------------------------------------

  private static void checkNode(Rendered r, JsonNode deployment, JsonNode c, List<String> problems)
      throws IOException {
    if (c.has("command") && !c.get("command").toString().contains(NODE_MAIN)) {
      problems.add("the node container runs " + c.get("command") + ", not " + NODE_MAIN);
    }
    Set<String> read = variablesIn(allConfigResources());
    read.addAll(JVM_VARIABLES);
    Map<String, String> env = environment(deployment, c, problems);
    for (String name : env.keySet()) {
      if (!read.contains(name)) {
        problems.add("node: " + name + " is set but no configuration the node loads reads it");
      }
    }
    Config config = nodeConfigWith(env);

    // Every node makes ids with its own node bits: numbered pods, or a single one.
    boolean numbered = false;
    for (JsonNode e : c.path("env")) {
      numbered |= e.path("name").asText().equals("CLOISTER_NODE_ID")
          && deployment.path("kind").asText().equals("StatefulSet")
          && e.at("/valueFrom/fieldRef/fieldPath").asText()
              .equals("metadata.labels['" + POD_INDEX + "']");
    }
    if (!numbered && deployment.at("/spec/replicas").asInt(1) > 1) {
      problems.add("node: " + deployment.at("/spec/replicas").asInt() + " replicas share one "
          + "CLOISTER_NODE_ID: take it from a StatefulSet pod's " + POD_INDEX + " label");
    }
    try {
      int id = config.getInt("cloister.node-id");
      if (id < 0 || id > 1023) {
        problems.add("node: node id " + id + " is outside 0..1023");
      }
    } catch (com.typesafe.config.ConfigException e) {
      problems.add("node: CLOISTER_NODE_ID is not a number: " + e.getMessage());
    }

    if (!config.getString("cloister.cluster.discovery").equals("kubernetes")) {
      problems.add("node: cloister.cluster.discovery is '"
          + config.getString("cloister.cluster.discovery") + "'; bootstrap needs kubernetes");
    }
    if (!config.getString("pekko.management.http.bind-hostname").equals("0.0.0.0")) {
      problems.add("node: management binds " + config.getString("pekko.management.http.bind-hostname")
          + ": probes and bootstrap from other pods cannot reach it");
    }
    if (!config.getString("cloister.http.host").equals("0.0.0.0")) {
      problems.add("node: the API binds " + config.getString("cloister.http.host"));
    }

    Map<String, Integer> ports = containerPorts(c);
    expectPort(problems, "node", ports, "http", config.getInt("cloister.http.port"));
    expectPort(problems, "node", ports, "management", config.getInt("pekko.management.http.port"));
    expectPort(problems, "node", ports, "metrics", config.getInt("cloister.metrics.port"));
    expectPort(problems, "node", ports, "remoting",
        config.getInt("pekko.remote.artery.canonical.port"));
    String bootstrapPortName = config.getString(
        "pekko.management.cluster.bootstrap.contact-point-discovery.port-name");
    if (!ports.containsKey(bootstrapPortName)) {
      problems.add("node: bootstrap probes the port named '" + bootstrapPortName
          + "', which the container does not have");
    }

    String prefix = config.getString("pekko.management.http.base-path");
    prefix = prefix.isEmpty() ? "" : "/" + prefix;
    checkProbe(problems, c, "readinessProbe",
        prefix + "/" + config.getString("pekko.management.health-checks.readiness-path"),
        config.getInt("pekko.management.http.port"), ports);
    checkProbe(problems, c, "livenessProbe",
        prefix + "/" + config.getString("pekko.management.health-checks.liveness-path"),
        config.getInt("pekko.management.http.port"), ports);

    // Bootstrap lists the pods matching app=<service-name>: all the node's pods and nothing else.
    String selector = String.format(
        config.getString("pekko.discovery.kubernetes-api.pod-label-selector"),
        config.getString("pekko.management.cluster.bootstrap.contact-point-discovery.service-name"));
    Map<String, String> wanted = parseSelector(selector);
    for (JsonNode d : r.workloads()) {
      boolean matches = isSubset(wanted, labels(d.at("/spec/template/metadata/labels")));
      boolean isNode = d == deployment;
      if (matches != isNode) {
        problems.add("bootstrap's pod selector " + selector + (isNode ? " misses" : " also finds")
            + " the pods of " + d.path("kind").asText() + " " + name(d));
      }
    }
    if (deployment.at("/spec/template/spec/serviceAccountName").asText().isEmpty()) {
      problems.add("node: no serviceAccountName, so bootstrap cannot list pods");
    } else {
      checkPodReader(r, deployment.at("/spec/template/spec/serviceAccountName").asText(), problems);
    }

    // The addresses the node is given are the ones the operators' resources make.
    JsonNode db = r.one("Cluster", "cloister-db");
    String dbUrl = config.getString("cloister.db.url");
    if (!dbUrl.startsWith("jdbc:postgresql://" + name(db) + "-rw:")) {
      problems.add("node: CLOISTER_DB_URL " + dbUrl + " is not the primary Service of Cluster "
          + name(db) + " (" + name(db) + "-rw)");
    }
    String database = db.at("/spec/bootstrap/initdb/database").asText("app");
    if (!dbUrl.endsWith("/" + database)) {
      problems.add("node: CLOISTER_DB_URL " + dbUrl + " does not name database " + database);
    }
    JsonNode kafka = r.one("Kafka", "cloister-kafka");
    Set<String> bootstraps = new TreeSet<>();
    for (JsonNode l : kafka.at("/spec/kafka/listeners")) {
      bootstraps.add(name(kafka) + "-kafka-bootstrap:" + l.get("port").asInt());
    }
    String kafkaBootstrap = config.getString("cloister.kafka.bootstrap");
    if (!bootstraps.contains(kafkaBootstrap)) {
      problems.add("node: CLOISTER_KAFKA_BOOTSTRAP " + kafkaBootstrap + " is none of " + bootstraps);
    }
  }

  private static void checkPodReader(Rendered r, String account, List<String> problems) {
    for (JsonNode binding : r.all("RoleBinding")) {
      boolean forAccount = false;
      for (JsonNode s : binding.at("/subjects")) {
        forAccount |= s.path("kind").asText().equals("ServiceAccount")
            && s.path("name").asText().equals(account);
      }
      if (!forAccount || !binding.at("/roleRef/kind").asText().equals("Role")) {
        continue;
      }
      Optional<JsonNode> role = r.find("Role", binding.at("/roleRef/name").asText());
      if (role.isEmpty()) {
        continue;
      }
      for (JsonNode rule : role.get().at("/rules")) {
        if (rule.get("resources").toString().contains("\"pods\"")
            && rule.get("verbs").toString().contains("\"list\"")) {
          if (r.find("ServiceAccount", account).isEmpty()) {
            problems.add("ServiceAccount " + account + " is not in the manifests");
          }
          return;
        }
      }
    }
    problems.add("no Role bound to ServiceAccount " + account + " may list pods");
  }

  // --- the SFU ----------------------------------------------------------------------------------

  private static void checkSfu(JsonNode deployment, JsonNode c, List<String> problems)
      throws IOException {
    if (!deployment.at("/spec/template/spec/hostNetwork").asBoolean(false)) {
      problems.add("sfu: not on the host's network");
    }
    List<String> command = new ArrayList<>();
    c.path("command").forEach(a -> command.add(a.asText()));
    String main = command.isEmpty() ? "" : command.get(command.size() - 1);
    try {
      Class.forName(main, false, KubernetesManifestTest.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      problems.add("sfu: the main class " + main + " is not in the node's image (its classpath)");
    }
    URL sfuReference = configResourceDefining("cloister.sfu");
    Set<String> read = variablesIn(sfuReference == null ? List.of() : List.of(sfuReference));
    read.addAll(JVM_VARIABLES);
    Map<String, String> env = environment(deployment, c, problems);
    for (String name : env.keySet()) {
      if (!read.contains(name)) {
        problems.add("sfu: " + name + " is set but the SFU's configuration does not read it");
      }
    }
    Config config = withEnvironment(ConfigFactory.parseURL(sfuReference), env);
    Map<String, Integer> ports = containerPorts(c);
    expectPort(problems, "sfu", ports, "media", config.getInt("cloister.sfu.udp-port"));
    expectPort(problems, "sfu", ports, "control", config.getInt("cloister.sfu.control-port"));
    for (JsonNode p : c.path("ports")) {
      if (deployment.at("/spec/template/spec/hostNetwork").asBoolean(false) && p.has("hostPort")
          && p.get("hostPort").asInt() != p.get("containerPort").asInt()) {
        problems.add("sfu: with host networking port " + p.path("name").asText()
            + " must have hostPort = containerPort");
      }
    }
    checkProbe(problems, c, "readinessProbe", "/health", config.getInt("cloister.sfu.control-port"),
        ports);
  }

  /** CLOISTER_SFUS names each SFU pod by its stable name, at its control port, and nothing else. */
  private static void checkNodeFindsEverySfu(JsonNode node, JsonNode sfu, List<String> problems) {
    String listed = "";
    for (JsonNode e : node.path("env")) {
      if (e.path("name").asText().equals("CLOISTER_SFUS")) {
        listed = e.path("value").asText();
      }
    }
    int control = containerPorts(container(sfu, "sfu")).getOrDefault("control", -1);
    Set<String> expected = new TreeSet<>();
    for (int i = 0; i < sfu.at("/spec/replicas").asInt(1); i++) {
      expected.add(name(sfu) + "-" + i + "." + sfu.at("/spec/serviceName").asText() + ":" + control);
    }
    Set<String> actual = new TreeSet<>();
    for (String a : listed.split(",")) {
      if (!a.isBlank()) {
        actual.add(a.strip());
      }
    }
    if (!actual.equals(expected)) {
      problems.add("node: CLOISTER_SFUS is " + actual + ", the SFU pods are " + expected);
    }
  }

  // --- labels, selectors, services, monitors ----------------------------------------------------

  private static void checkSelectorMatchesTemplate(JsonNode d, List<String> problems) {
    Map<String, String> selector = labels(d.at("/spec/selector/matchLabels"));
    Map<String, String> template = labels(d.at("/spec/template/metadata/labels"));
    if (selector.isEmpty() || !isSubset(selector, template)) {
      problems.add(d.path("kind").asText() + " " + name(d) + ": selector " + selector
          + " does not match its pod labels " + template);
    }
    for (JsonNode term : d.at("/spec/template/spec/affinity/podAntiAffinity")
        .path("requiredDuringSchedulingIgnoredDuringExecution")) {
      if (!isSubset(labels(term.at("/labelSelector/matchLabels")), template)) {
        problems.add(d.path("kind").asText() + " " + name(d) + ": anti-affinity selects other pods than its own");
      }
    }
  }

  private static void checkServicesAndMonitors(Rendered r, List<String> problems) {
    for (JsonNode s : r.all("Service")) {
      Map<String, String> selector = labels(s.at("/spec/selector"));
      List<JsonNode> pods = r.workloads().stream()
          .filter(d -> isSubset(selector, labels(d.at("/spec/template/metadata/labels"))))
          .toList();
      if (selector.isEmpty() || pods.isEmpty()) {
        problems.add("Service " + name(s) + ": selector " + selector + " matches no pods");
        continue;
      }
      for (JsonNode p : s.at("/spec/ports")) {
        JsonNode target = p.has("targetPort") ? p.get("targetPort") : p.get("port");
        for (JsonNode d : pods) {
          Set<String> names = new HashSet<>();
          Set<Integer> numbers = new HashSet<>();
          for (JsonNode c : d.at("/spec/template/spec/containers")) {
            containerPorts(c).forEach((n, v) -> {
              names.add(n);
              numbers.add(v);
            });
          }
          boolean ok = target.isInt() ? numbers.contains(target.asInt())
              : names.contains(target.asText());
          if (!ok) {
            problems.add("Service " + name(s) + ": port " + p.path("name").asText() + " targets "
                + target.asText() + ", which the pods of " + name(d) + " do not have");
          }
        }
      }
    }
    for (JsonNode d : r.all("PodDisruptionBudget")) {
      Map<String, String> selector = labels(d.at("/spec/selector/matchLabels"));
      if (selector.isEmpty() || r.workloads().stream().noneMatch(
          dep -> isSubset(selector, labels(dep.at("/spec/template/metadata/labels"))))) {
        problems.add("PodDisruptionBudget " + name(d) + ": selector " + selector
            + " matches no pods");
      }
    }
    for (JsonNode m : r.all("ServiceMonitor")) {
      Map<String, String> selector = labels(m.at("/spec/selector/matchLabels"));
      List<JsonNode> services = r.all("Service").stream()
          .filter(s -> isSubset(selector, labels(s.at("/metadata/labels")))).toList();
      if (selector.isEmpty() || services.isEmpty()) {
        problems.add("ServiceMonitor " + name(m) + ": selector " + selector
            + " matches no Service");
      }
      for (JsonNode e : m.at("/spec/endpoints")) {
        for (JsonNode s : services) {
          boolean named = false;
          for (JsonNode p : s.at("/spec/ports")) {
            named |= p.path("name").asText().equals(e.path("port").asText());
          }
          if (!named) {
            problems.add("ServiceMonitor " + name(m) + ": Service " + name(s)
                + " has no port named " + e.path("port").asText());
          }
        }
      }
    }
  }

  // --- secrets ----------------------------------------------------------------------------------

  private static void checkSecrets(Rendered r, List<String> problems) throws IOException {
    Map<String, Set<String>> expected = new LinkedHashMap<>();
    Map<String, String> makers = new HashMap<>();
    for (String line : Files.readAllLines(repo.resolve("k8s/expected-secrets.txt"))) {
      String l = line.strip();
      if (l.isEmpty() || l.startsWith("#")) {
        continue;
      }
      String[] f = l.split("\\s+");
      expected.computeIfAbsent(f[0], k -> new TreeSet<>()).add(f[1]);
      makers.put(f[0], f[2]);
    }
    if (!r.all("Secret").isEmpty()) {
      problems.add("the manifests hold Secrets (values inlined): " + r.all("Secret").stream()
          .map(KubernetesManifestTest::name).toList());
    }
    Map<String, Set<String>> used = new LinkedHashMap<>();
    for (JsonNode d : r.workloads()) {
      for (JsonNode c : d.at("/spec/template/spec/containers")) {
        for (JsonNode e : c.path("env")) {
          JsonNode ref = e.at("/valueFrom/secretKeyRef");
          if (!ref.isMissingNode()) {
            used.computeIfAbsent(ref.get("name").asText(), k -> new TreeSet<>())
                .add(ref.get("key").asText());
          } else if (e.has("value") && e.get("name").asText().matches(
              ".*(KEY|PASSWORD|SECRET|TOKEN).*")) {
            problems.add(name(d) + ": " + e.get("name").asText()
                + " is given inline; take it from a Secret");
          }
        }
        for (JsonNode f : c.path("envFrom")) {
          if (f.has("secretRef")) {
            problems.add(name(d) + ": envFrom a whole Secret hides which variables it sets");
          }
        }
      }
      for (JsonNode v : d.at("/spec/template/spec/volumes")) {
        if (v.has("secret")) {
          used.computeIfAbsent(v.at("/secret/secretName").asText(), k -> new TreeSet<>());
        }
      }
    }
    used.forEach((secret, keys) -> {
      if (!expected.containsKey(secret)) {
        problems.add("Secret " + secret + " is referenced but not in k8s/expected-secrets.txt");
      } else if (!expected.get(secret).containsAll(keys)) {
        problems.add("Secret " + secret + ": keys " + keys + " referenced, "
            + expected.get(secret) + " listed");
      }
    });
    expected.forEach((secret, keys) -> {
      if (!used.containsKey(secret) || !used.get(secret).containsAll(keys)) {
        problems.add("k8s/expected-secrets.txt lists " + secret + " " + keys
            + " but the manifests use " + used.getOrDefault(secret, Set.of()));
      }
    });
    for (JsonNode db : r.all("Cluster")) {
      String app = name(db) + "-app";
      if (makers.containsKey(app) && !makers.get(app).equals("cloudnative-pg")) {
        problems.add(app + " is made by CloudNativePG, not by " + makers.get(app));
      }
    }
    makers.forEach((secret, maker) -> {
      if (maker.equals("cloudnative-pg") && r.all("Cluster").stream()
          .noneMatch(db -> (name(db) + "-app").equals(secret))) {
        problems.add(secret + " is listed as CloudNativePG's, but no Cluster makes it");
      }
    });
  }

  private static void checkDashboards(Rendered r, List<String> problems) throws IOException {
    Optional<JsonNode> map = r.find("ConfigMap", "cloister-dashboards");
    if (map.isEmpty()) {
      problems.add("no ConfigMap cloister-dashboards");
      return;
    }
    try (Stream<Path> files = Files.list(repo.resolve("grafana/dashboards"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).toList()) {
        String key = f.getFileName().toString();
        if (!map.get().at("/data").has(key)) {
          problems.add("dashboard " + key + " is not in ConfigMap cloister-dashboards");
        } else if (!map.get().at("/data").get(key).asText().strip()
            .equals(Files.readString(f).strip())) {
          problems.add("dashboard " + key + " in the ConfigMap differs from grafana/dashboards");
        }
      }
    }
  }

  // --- helpers ----------------------------------------------------------------------------------

  /** The environment as the node would see it: literal values, fieldRefs resolved from the pod. */
  private static Map<String, String> environment(JsonNode deployment, JsonNode c,
      List<String> problems) {
    Map<String, String> env = new LinkedHashMap<>();
    Map<String, String> podLabels = labels(deployment.at("/spec/template/metadata/labels"));
    if (deployment.path("kind").asText().equals("StatefulSet")) {
      podLabels.put(POD_INDEX, "2"); // set by the StatefulSet controller on each pod
    }
    for (JsonNode e : c.path("env")) {
      String name = e.get("name").asText();
      if (env.containsKey(name)) {
        problems.add(name(deployment) + ": " + name + " is set twice");
      }
      if (e.has("value")) {
        env.put(name, e.get("value").asText());
      } else if (e.at("/valueFrom/fieldRef/fieldPath").isTextual()) {
        String path = e.at("/valueFrom/fieldRef/fieldPath").asText();
        Matcher label = Pattern.compile("metadata\\.labels\\['(.+)']").matcher(path);
        if (label.matches()) {
          if (!podLabels.containsKey(label.group(1))) {
            problems.add(name(deployment) + ": " + name + " reads label " + label.group(1)
                + ", which its pods do not have");
          }
          env.put(name, podLabels.getOrDefault(label.group(1), ""));
        } else {
          env.put(name, "10.0.0.7"); // status.podIP, status.hostIP
        }
      } else {
        env.put(name, "from-a-secret");
      }
    }
    return env;
  }

  private static Config nodeConfigWith(Map<String, String> env) {
    Config unresolved = ConfigFactory.parseResourcesAnySyntax("application",
            ConfigParseOptions.defaults())
        .withFallback(ConfigFactory.defaultReferenceUnresolved());
    return withEnvironment(unresolved, env);
  }

  /** Resolves {@code ${?VAR}} from {@code env} alone, never from this JVM's environment. */
  private static Config withEnvironment(Config unresolved, Map<String, String> env) {
    return unresolved.withFallback(ConfigFactory.parseMap(env))
        .resolve(ConfigResolveOptions.defaults().setUseSystemEnvironment(false));
  }

  private static void checkProbe(List<String> problems, JsonNode c, String probe, String path,
      int port, Map<String, Integer> ports) {
    JsonNode get = c.at("/" + probe + "/httpGet");
    if (get.isMissingNode()) {
      problems.add(c.get("name").asText() + ": no HTTP " + probe);
      return;
    }
    if (!get.path("path").asText().equals(path)) {
      problems.add(c.get("name").asText() + ": " + probe + " asks " + get.path("path").asText()
          + ", the health path is " + path);
    }
    JsonNode p = get.get("port");
    int actual = p.isInt() ? p.asInt() : ports.getOrDefault(p.asText(), -1);
    if (actual != port) {
      problems.add(c.get("name").asText() + ": " + probe + " asks port " + p.asText() + " ("
          + actual + "), the health endpoint listens on " + port);
    }
  }

  private static void expectPort(List<String> problems, String who, Map<String, Integer> ports,
      String name, int configured) {
    if (!ports.containsKey(name)) {
      problems.add(who + ": no container port named " + name + " (configured " + configured + ")");
    } else if (ports.get(name) != configured) {
      problems.add(who + ": container port " + name + " is " + ports.get(name)
          + " but the configuration listens on " + configured);
    }
  }

  private static Map<String, Integer> containerPorts(JsonNode c) {
    Map<String, Integer> ports = new LinkedHashMap<>();
    for (JsonNode p : c.path("ports")) {
      ports.put(p.path("name").asText(), p.get("containerPort").asInt());
    }
    return ports;
  }

  private static JsonNode container(JsonNode deployment, String name) {
    for (JsonNode c : deployment.at("/spec/template/spec/containers")) {
      if (c.get("name").asText().equals(name)) {
        return c;
      }
    }
    return fail("Deployment " + name(deployment) + " has no container " + name);
  }

  private static List<URL> allConfigResources() throws IOException {
    List<URL> urls = new ArrayList<>();
    for (String r : List.of("reference.conf", "application.conf")) {
      urls.addAll(Collections.list(KubernetesManifestTest.class.getClassLoader().getResources(r)));
    }
    return urls;
  }

  private static URL configResourceDefining(String path) throws IOException {
    for (URL u : allConfigResources()) {
      if (ConfigFactory.parseURL(u).hasPathOrNull(path)) {
        return u;
      }
    }
    return null;
  }

  private static Set<String> variablesIn(List<URL> resources) throws IOException {
    Set<String> names = new TreeSet<>();
    for (URL u : resources) {
      try (InputStream in = u.openStream()) {
        Matcher m = ENV_SUBSTITUTION.matcher(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        while (m.find()) {
          names.add(m.group(1));
        }
      }
    }
    return names;
  }

  private static Map<String, String> parseSelector(String selector) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String part : selector.split(",")) {
      String[] kv = part.split("=", 2);
      m.put(kv[0].strip(), kv[1].strip());
    }
    return m;
  }

  private static Map<String, String> labels(JsonNode node) {
    Map<String, String> m = new LinkedHashMap<>();
    node.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asText()));
    return m;
  }

  private static boolean isSubset(Map<String, String> part, Map<String, String> whole) {
    return part.entrySet().stream().allMatch(e -> e.getValue().equals(whole.get(e.getKey())));
  }

  private static String name(JsonNode o) {
    return o.at("/metadata/name").asText();
  }

  /** {@code kubectl kustomize <dir>}; its YAML documents. */
  private static List<JsonNode> render(Path dir) throws Exception {
    Optional<Path> kubectl = onPath("kubectl");
    if (kubectl.isEmpty()) {
      boolean required = System.getenv("CI") != null
          || Boolean.getBoolean("cloister.manifests.require-kubectl");
      if (required) {
        fail("kubectl is not on the PATH (apt-get install kubernetes-client); .ci/run installs it");
      }
      Assumptions.abort("kubectl is not on the PATH: the k8s/ overlays are not checked here");
    }
    Path err = Files.createTempFile("kustomize", ".err");
    try {
      Process p = new ProcessBuilder(kubectl.get().toString(), "kustomize", dir.toString())
          .redirectError(err.toFile()).start();
      byte[] out = p.getInputStream().readAllBytes();
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as("kubectl kustomize %s: %s", dir, Files.readString(err))
          .isZero();
      List<JsonNode> docs = new ArrayList<>();
      try (MappingIterator<JsonNode> it = new YAMLMapper().readerFor(JsonNode.class)
          .readValues(out)) {
        while (it.hasNext()) {
          JsonNode d = it.next();
          if (d != null && !d.isNull() && d.has("kind")) {
            docs.add(d);
          }
        }
      }
      assertThat(docs).as("documents rendered from %s", dir).isNotEmpty();
      return docs;
    } finally {
      Files.deleteIfExists(err);
    }
  }

  private static Optional<Path> onPath(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    for (String dir : path.split(java.io.File.pathSeparator)) {
      Path p = Path.of(dir, program);
      if (Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** The rendered objects by kind. */
  private record Rendered(List<JsonNode> docs) {
    List<JsonNode> all(String kind) {
      return docs.stream().filter(d -> d.path("kind").asText().equals(kind)).toList();
    }

    /** Deployments and StatefulSets: what runs pods. */
    List<JsonNode> workloads() {
      return docs.stream().filter(d -> d.path("kind").asText().equals("Deployment")
          || d.path("kind").asText().equals("StatefulSet")).toList();
    }

    Optional<JsonNode> find(String kind, String name) {
      return all(kind).stream().filter(d -> name(d).equals(name)).findFirst();
    }

    JsonNode one(String kind, String name) {
      return find(kind, name).orElseGet(() -> fail("no " + kind + " " + name + " rendered"));
    }
  }
}
