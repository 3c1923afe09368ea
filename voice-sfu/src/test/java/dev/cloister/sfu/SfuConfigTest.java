package dev.cloister.sfu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class SfuConfigTest {

  @Test
  void referenceConfHoldsTheDocumentedDefaults() {
    SfuConfig c = SfuConfig.fromConfig(ConfigFactory.defaultReference());
    assertThat(c.udpPort()).isEqualTo(50000);
    assertThat(c.controlPort()).isEqualTo(8091);
    assertThat(c.topN()).isEqualTo(3);
    assertThat(c.controlHost()).isEqualTo("127.0.0.1");
    assertThat(c.consentTimeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.ioThreads()).isEqualTo(Math.max(1, Runtime.getRuntime().availableProcessors()));
  }

  @Test
  void overridesApplyAndBadValuesAreRefusedWithTheirName() {
    var overridden = ConfigFactory.parseString("cloister.sfu { top-n = 5, udp-port = 0 }")
        .withFallback(ConfigFactory.defaultReference());
    assertThat(SfuConfig.fromConfig(overridden).topN()).isEqualTo(5);
    var bad = ConfigFactory.parseString("cloister.sfu.top-n = 500")
        .withFallback(ConfigFactory.defaultReference());
    assertThatThrownBy(() -> SfuConfig.fromConfig(bad)).hasMessageContaining("topN");
    var notANumber = ConfigFactory.parseString("cloister.sfu.udp-port = lots")
        .withFallback(ConfigFactory.defaultReference());
    assertThatThrownBy(() -> SfuConfig.fromConfig(notANumber)).hasMessageContaining("udp-port");
  }
}
