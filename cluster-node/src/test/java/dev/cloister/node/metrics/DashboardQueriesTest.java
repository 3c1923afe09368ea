package dev.cloister.node.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The dashboard files themselves: what the live test reads out of them, and their shape. */
class DashboardQueriesTest {

  @Test
  void readsTheMetricNamesOutOfPromql() {
    assertThat(DashboardQueries.metrics(
        "histogram_quantile(0.99, sum by (le, route) (rate(cloister_http_server_requests_seconds_bucket"
            + "{route!=\"/gateway\"}[$__rate_interval])))"))
        .containsExactly("cloister_http_server_requests_seconds_bucket");
    assertThat(DashboardQueries.metrics("sum(rate(a_total[5m])) / sum(rate(b_count[${__range}]))"
        + " or vector(0)")).containsExactly("a_total", "b_count");
    assertThat(DashboardQueries.metrics("max by (projection) (cloister_projection_lag_seconds)"))
        .containsExactly("cloister_projection_lag_seconds");
  }

  @Test
  void everyDashboardIsProvisionableWithUnitsAndUniqueIds() throws Exception {
    ObjectMapper json = new ObjectMapper();
    Set<String> uids = new HashSet<>();
    try (Stream<Path> files = Files.list(DashboardQueries.DASHBOARDS)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).toList()) {
        JsonNode d = json.readTree(f.toFile());
        assertThat(uids.add(d.path("uid").asText())).as("uid of %s", f).isTrue();
        assertThat(d.path("title").asText()).startsWith("Cloister / ");
        Set<Integer> ids = new HashSet<>();
        for (JsonNode p : d.path("panels")) {
          assertThat(ids.add(p.path("id").asInt())).as("panel id in %s", f).isTrue();
          if (!p.path("type").asText().equals("row")) {
            assertThat(p.path("fieldConfig").path("defaults").path("unit").asText())
                .as("unit of %s / %s", f, p.path("title").asText()).isNotEmpty();
            assertThat(p.path("datasource").path("uid").asText()).isEqualTo("cloister-prometheus");
            assertThat(p.path("targets").size()).isPositive();
          }
        }
      }
    }
    assertThat(uids).hasSizeGreaterThanOrEqualTo(5);
  }
}
