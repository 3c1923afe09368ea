package dev.cloister.node.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HttpMetricsTest {

  private final HttpMetrics templates = new HttpMetrics();

  @Test
  void idsBecomePlaceholdersAndTheApisWordsStay() {
    assertThat(templates.template("/api/v1/channels/8123456789/messages/99"))
        .isEqualTo("/api/v1/channels/{id}/messages/{id}");
    assertThat(templates.template("/api/v1/users/@me/devices/laptop/key-packages"))
        .isEqualTo("/api/v1/users/@me/devices/{id}/key-packages");
    assertThat(templates.template("/gateway")).isEqualTo("/gateway");
    assertThat(templates.template("/")).isEqualTo("/");
  }

  @Test
  void deepOrEndlessPathsCannotGrowTheLabelSet() {
    assertThat(templates.template("/a/b/c/d/e/f/g/h/i")).isEqualTo(HttpMetrics.OTHER);
    // A scanner trying every combination of the API's words: at most MAX_TEMPLATES templates.
    String[] words = HttpMetrics.WORDS.toArray(String[]::new);
    java.util.Set<String> seen = new java.util.HashSet<>();
    for (String a : words) {
      for (String b : words) {
        seen.add(templates.template("/" + a + "/" + b + "/x"));
      }
    }
    assertThat(seen.size()).isLessThanOrEqualTo(HttpMetrics.MAX_TEMPLATES + 1);
    assertThat(seen).contains(HttpMetrics.OTHER);
  }
}
