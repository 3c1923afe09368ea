package dev.cloister.sfu;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Bindings lapse without consent refresh (30 s in production, shortened here). */
class ConsentExpiryTest {

    @Test
    void aBindingExpiresWithoutRefreshAndComesBackWithANewRequest() throws Exception {
        SfuConfig config = SfuConfig.loopbackEphemeral().withConsentTimeout(Duration.ofMillis(1000));
        try (SelectiveForwardingUnit sfu = new SelectiveForwardingUnit(config).start();
             TestClient a = new TestClient(new ControlClient(sfu.controlPort()).allocate("c", "a"));
             TestClient l = new TestClient(new ControlClient(sfu.controlPort()).allocate("c", "l"))) {
            ControlClient control = new ControlClient(sfu.controlPort());
            a.bind();
            l.bind();
            assertThat(hears(a, l)).isTrue();

            Thread.sleep(1400);
            assertThat(control.endpoint("c", "a").get("bound").asBoolean()).isFalse();
            assertThat(hears(a, l)).isFalse();

            assertThat(a.bind()).isNotNull();
            assertThat(l.bind()).isNotNull();
            assertThat(hears(a, l)).isTrue();
        }
    }

    /** Whether {@code listener} hears {@code speaker} within a few packets (all well within the timeout). */
    private static boolean hears(TestClient speaker, TestClient listener) throws Exception {
        listener.drain();
        for (int i = 0; i < 10; i++) {
            speaker.sendAudio(10);
            Thread.sleep(20);
        }
        List<byte[]> got = listener.receiveFor(100);
        return TestClient.rtpSsrcs(got).contains(speaker.ssrc());
    }
}
