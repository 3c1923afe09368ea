package dev.cloister.guild.voice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.sfu.SelectiveForwardingUnit;
import dev.cloister.sfu.SfuConfig;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Placement over three real standalone SFUs, each with its control API on loopback and a secret. */
class SfuPlacementTest {

  private static final String SECRET = "nodes-and-sfus-share-this";
  private final List<SelectiveForwardingUnit> sfus = new ArrayList<>();
  private SfuPlacement placement;

  private List<URI> start(int n) throws Exception {
    List<URI> controls = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      SelectiveForwardingUnit sfu = new SelectiveForwardingUnit(
          SfuConfig.loopbackEphemeral().withControlSecret(SECRET)).start();
      sfus.add(sfu);
      controls.add(URI.create("http://127.0.0.1:" + sfu.controlPort()));
    }
    return controls;
  }

  @AfterEach
  void stop() {
    if (placement != null) {
      placement.close();
    }
    sfus.forEach(SelectiveForwardingUnit::close);
  }

  private SelectiveForwardingUnit sfuAt(URI control) {
    return sfus.stream().filter(s -> control.getPort() == s.controlPort()).findFirst().orElseThrow();
  }

  @Test
  void callsSpreadOverTheSfusAndEachOperationReachesTheOneHoldingTheCall() throws Exception {
    List<URI> controls = start(3);
    placement = new SfuPlacement(controls, SECRET, Duration.ofSeconds(2), Duration.ofSeconds(1));
    Map<URI, Integer> perSfu = new HashMap<>();
    for (int i = 0; i < 60; i++) {
      perSfu.merge(placement.placementOf("v" + (1000 + i) + ".1"), 1, Integer::sum);
    }
    assertThat(perSfu).hasSize(3);
    assertThat(perSfu.values()).allMatch(n -> n >= 8); // 20 each expected

    String call = "v42.1";
    URI home = placement.placementOf(call);
    VoiceChannel.Endpoint a = placement.allocate(call, "alice.x").toCompletableFuture()
        .get(5, TimeUnit.SECONDS);
    assertThat(a.udpPort()).isEqualTo(sfuAt(home).udpPort());
    assertThat(a.ssrc()).isPositive();
    placement.update(call, "alice.x", true, false).toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertThat(sfuAt(home).conferences().describe(call).orElseThrow().endpoints().get(0)
        .serverMuted()).isTrue();
    assertThat(placement.speakers(call).toCompletableFuture().get(5, TimeUnit.SECONDS)).isEmpty();
    placement.free(call, "alice.x").toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertThat(sfuAt(home).conferences().describe(call)).isEmpty();
  }

  @Test
  void anSfuThatStopsAnsweringGetsNoNewCallsAndItsCallsMove() throws Exception {
    List<URI> controls = start(2);
    placement = new SfuPlacement(controls, SECRET, Duration.ofSeconds(1), Duration.ofMillis(200));
    String call = null;
    for (int i = 0; call == null; i++) {
      if (placement.placementOf("v" + i + ".1").equals(controls.get(0))) {
        call = "v" + i + ".1";
      }
    }
    sfuAt(controls.get(0)).close();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (placement.healthy().size() != 1 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(placement.healthy()).containsExactly(controls.get(1));
    VoiceChannel.Endpoint e = placement.allocate(call, "bob.y").toCompletableFuture()
        .get(5, TimeUnit.SECONDS);
    assertThat(e.udpPort()).isEqualTo(sfuAt(controls.get(1)).udpPort());
  }

  @Test
  void aWrongSecretFailsTheAllocationAndNothingIsAllocated() throws Exception {
    List<URI> controls = start(1);
    placement = new SfuPlacement(controls, "not-the-secret", Duration.ofSeconds(2),
        Duration.ofSeconds(1));
    assertThatThrownBy(() -> placement.allocate("v7.1", "carol.z").toCompletableFuture()
        .get(5, TimeUnit.SECONDS)).hasMessageContaining("401");
    assertThat(sfus.get(0).conferences().conferenceCount()).isZero();
  }

  @Test
  void parsesTheAddressList() {
    assertThat(SfuPlacement.parse(" sfu-a:8091, http://10.0.0.2:9000 ,"))
        .containsExactly(URI.create("http://sfu-a:8091"), URI.create("http://10.0.0.2:9000"));
    assertThatThrownBy(() -> SfuPlacement.parse("sfu-without-port"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("host:port");
  }
}
