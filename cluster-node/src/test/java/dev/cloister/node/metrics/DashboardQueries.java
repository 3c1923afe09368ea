package dev.cloister.node.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** The PromQL queries of the Grafana dashboards under {@code grafana/dashboards}, and the metrics they read. */
public final class DashboardQueries {

  /** The dashboards, from the cluster-node module's directory (where Surefire runs). */
  public static final Path DASHBOARDS = Path.of("..", "grafana", "dashboards");

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern GROUPING =
      Pattern.compile("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
  private static final Set<String> PROMQL = Set.of(
      "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
      "count_values", "group", "rate", "irate", "increase", "delta", "idelta", "deriv",
      "histogram_quantile", "abs", "ceil", "floor", "round", "clamp_min", "clamp_max", "clamp",
      "label_replace", "label_join", "vector", "scalar", "time", "timestamp", "absent",
      "sort", "sort_desc", "avg_over_time", "max_over_time", "min_over_time", "sum_over_time",
      "count_over_time", "last_over_time", "and", "or", "unless", "offset", "bool", "inf", "nan");

  private DashboardQueries() {}

  /** Every query, by "dashboard file / panel title". */
  public static Map<String, List<String>> queries(Path dir) throws IOException {
    Map<String, List<String>> out = new TreeMap<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
        JsonNode d = JSON.readTree(f.toFile());
        for (JsonNode panel : d.path("panels")) {
          List<String> exprs = new ArrayList<>();
          panel.path("targets").forEach(t -> exprs.add(t.path("expr").asText()));
          if (!exprs.isEmpty()) {
            out.put(f.getFileName() + " / " + panel.path("title").asText(), exprs);
          }
        }
      }
    }
    return out;
  }

  /** The metric names a PromQL expression reads (not its functions, labels or variables). */
  public static Set<String> metrics(String expr) {
    String s = expr.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"") // string literals
        .replaceAll("\\{[^}]*}", "")                              // label matchers
        .replaceAll("\\[[^]]*]", "")                              // ranges ($__rate_interval)
        .replaceAll("\\$\\{?[A-Za-z_]+}?", "");                   // Grafana variables
    s = GROUPING.matcher(s).replaceAll("");
    Set<String> names = new TreeSet<>();
    Matcher m = IDENTIFIER.matcher(s);
    while (m.find()) {
      String id = m.group();
      boolean isFunctionCall = s.substring(m.end()).stripLeading().startsWith("(");
      if (!PROMQL.contains(id) && !isFunctionCall && !id.matches("\\d.*")) {
        names.add(id);
      }
    }
    return names;
  }
}
