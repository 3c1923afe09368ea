package dev.cloister.node;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

/** What a node exposes when nobody configured anything: nothing an operator did not ask for. */
class DeploymentDefaultsTest {

  @Test
  void managementListensOnLoopbackUnlessToldOtherwise() {
    ConfigFactory.invalidateCaches();
    var config = ConfigFactory.load();
    assertThat(config.getString("pekko.management.http.hostname")).isEqualTo("127.0.0.1");
    assertThat(config.getString("pekko.management.http.bind-hostname"))
        .as("a management port on every interface lets anyone down the node").isEqualTo("127.0.0.1");
    var k8s = ConfigFactory.parseString("pekko.management.http.hostname = 10.1.2.3")
        .withFallback(ConfigFactory.parseResources("application.conf")).resolve();
    assertThat(k8s.getString("pekko.management.http.bind-hostname")).isEqualTo("10.1.2.3");
  }
}
