package dev.cloister.sfu.control;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.sfu.ControlClient;
import dev.cloister.sfu.ControlClient.Reply;
import dev.cloister.sfu.SelectiveForwardingUnit;
import dev.cloister.sfu.SfuConfig;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ControlApiTest {

    private static SelectiveForwardingUnit sfu;
    private static ControlClient control;

    @BeforeAll
    static void start() throws Exception {
        sfu = new SelectiveForwardingUnit(SfuConfig.loopbackEphemeral().withHosts("127.0.0.1", "sfu.example.org",
                "127.0.0.1")).start();
        control = new ControlClient(sfu.controlPort());
    }

    @AfterAll
    static void stop() {
        sfu.close();
    }

    @Test
    void health() throws Exception {
        Reply r = control.call("GET", "/health", null);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().get("status").asText()).isEqualTo("UP");
    }

    @Test
    void allocationReturnsEverythingAClientNeeds() throws Exception {
        Reply r = control.call("POST", "/v1/conferences/guild1.voice/endpoints", "{\"endpointId\":\"alice-1\"}");
        assertThat(r.status()).isEqualTo(201);
        JsonNode b = r.body();
        assertThat(b.get("endpointId").asText()).isEqualTo("alice-1");
        assertThat(b.get("ssrc").asLong()).isBetween(1L, 0xFFFFFFFFL);
        assertThat(b.get("iceUfrag").asText()).matches("[A-Za-z0-9]{8}");
        assertThat(b.get("icePwd").asText()).matches("[A-Za-z0-9]{24}");
        assertThat(b.get("udpHost").asText()).isEqualTo("sfu.example.org");
        assertThat(b.get("udpPort").asInt()).isEqualTo(sfu.udpPort());
        assertThat(b.get("audioLevelExtId").asInt()).isEqualTo(1);

        Reply again = control.call("POST", "/v1/conferences/guild1.voice/endpoints", "{\"endpointId\":\"alice-1\"}");
        assertThat(again.status()).isEqualTo(409);
        assertThat(control.delete("guild1.voice", "alice-1").status()).isEqualTo(204);
    }

    @Test
    void ssrcsAndUfragsAreUniqueInAConference() throws Exception {
        Set<Long> ssrcs = new HashSet<>();
        Set<String> ufrags = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            var a = control.allocate("big", "e" + i);
            ssrcs.add(a.ssrc());
            ufrags.add(a.iceUfrag());
        }
        assertThat(ssrcs).hasSize(200);
        assertThat(ufrags).hasSize(200);
        assertThat(control.conference("big").body().get("endpoints")).hasSize(200);
        for (int i = 0; i < 200; i++) {
            assertThat(control.delete("big", "e" + i).status()).isEqualTo(204);
        }
        assertThat(control.conference("big").status()).isEqualTo(404);
    }

    @Test
    void malformedRequestsAreRejected() throws Exception {
        String path = "/v1/conferences/c1/endpoints";
        assertThat(control.call("POST", path, null).status()).isEqualTo(400);
        assertThat(control.call("POST", path, "{").status()).isEqualTo(400);
        assertThat(control.call("POST", path, "[]").status()).isEqualTo(400);
        assertThat(control.call("POST", path, "{}").status()).isEqualTo(400);
        assertThat(control.call("POST", path, "{\"endpointId\":42}").status()).isEqualTo(400);
        assertThat(control.call("POST", path, "{\"endpointId\":\"\"}").status()).isEqualTo(400);
        assertThat(control.call("POST", path, "{\"endpointId\":\"has space\"}").status()).isEqualTo(400);
        assertThat(control.call("POST", path, "{\"endpointId\":\"" + "x".repeat(129) + "\"}").status()).isEqualTo(400);
        assertThat(control.call("POST", path, "{\"endpointId\":\"" + "x".repeat(20_000) + "\"}").status())
                .isEqualTo(413);
        assertThat(control.call("GET", "/v1/conferences/c1", null).status()).isEqualTo(404);
        assertThat(control.call("GET", "/v2/anything", null).status()).isEqualTo(404);
        assertThat(control.call("PUT", path, "{\"endpointId\":\"a\"}").status()).isEqualTo(405);
    }

    @Test
    void patchChangesFlagsAndValidatesThem() throws Exception {
        control.allocate("p", "a");
        Reply r = control.patch("p", "a", "{\"serverMuted\":true}");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().get("serverMuted").asBoolean()).isTrue();
        assertThat(r.body().get("deafened").asBoolean()).isFalse();
        r = control.patch("p", "a", "{\"deafened\":true}");
        assertThat(r.body().get("serverMuted").asBoolean()).isTrue();
        assertThat(r.body().get("deafened").asBoolean()).isTrue();
        assertThat(control.patch("p", "a", "{\"deafened\":\"yes\"}").status()).isEqualTo(400);
        assertThat(control.patch("p", "a", "nope").status()).isEqualTo(400);
        assertThat(control.patch("p", "nobody", "{\"deafened\":true}").status()).isEqualTo(404);
        assertThat(control.patch("nowhere", "a", "{\"deafened\":true}").status()).isEqualTo(404);
        JsonNode view = control.endpoint("p", "a");
        assertThat(view.get("serverMuted").asBoolean()).isTrue();
        assertThat(view.get("bound").asBoolean()).isFalse();
        assertThat(control.delete("p", "a").status()).isEqualTo(204);
        assertThat(control.delete("p", "a").status()).isEqualTo(404);
    }

    @Test
    void statsAreExposed() throws Exception {
        JsonNode stats = control.stats();
        assertThat(stats.has("datagramsIn")).isTrue();
        assertThat(stats.has("droppedMalformed")).isTrue();
        assertThat(stats.get("ioWorkers").asInt()).isPositive();
    }

    @Test
    void speakersAreListedLoudestFirstAndAnUnknownConferenceIs404() throws Exception {
        control.allocate("quiet", "a");
        Reply r = control.call("GET", "/v1/conferences/quiet/speakers", null);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body().get("speakers").isArray()).isTrue();
        assertThat(r.body().get("speakers")).isEmpty(); // nobody has sent a level yet
        // A node polling a call this SFU does not hold (it restarted) must learn so, to move it.
        Reply unknown = control.call("GET", "/v1/conferences/nowhere/speakers", null);
        assertThat(unknown.status()).isEqualTo(404);
        control.delete("quiet", "a");
        assertThat(control.call("GET", "/v1/conferences/quiet/speakers", null).status()).isEqualTo(404);
    }

    @Test
    void withASecretEveryV1RequestNeedsItAndHealthStaysOpen() throws Exception {
        try (SelectiveForwardingUnit guarded = new SelectiveForwardingUnit(
                SfuConfig.loopbackEphemeral().withControlSecret("s3cret-of-the-nodes")).start()) {
            ControlClient anonymous = new ControlClient(guarded.controlPort());
            ControlClient wrong = new ControlClient(guarded.controlPort(), "s3cret-of-the-node");
            ControlClient node = new ControlClient(guarded.controlPort(), "s3cret-of-the-nodes");
            assertThat(anonymous.call("GET", "/health", null).status()).isEqualTo(200);
            Reply refused = anonymous.call("POST", "/v1/conferences/c/endpoints", "{\"endpointId\":\"a\"}");
            assertThat(refused.status()).isEqualTo(401);
            assertThat(refused.body().get("error").asText()).contains("Authorization");
            assertThat(wrong.call("GET", "/v1/stats", null).status()).isEqualTo(401);
            assertThat(guarded.conferences().conferenceCount()).isZero();
            assertThat(node.call("POST", "/v1/conferences/c/endpoints", "{\"endpointId\":\"a\"}").status())
                    .isEqualTo(201);
            assertThat(node.call("GET", "/v1/stats", null).status()).isEqualTo(200);
        }
    }

    @Test
    void refusesToListenBeyondLoopbackWithoutASecret() {
        SfuConfig open = SfuConfig.loopbackEphemeral().withHosts("127.0.0.1", "127.0.0.1", "0.0.0.0");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SelectiveForwardingUnit(open).start())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("CLOISTER_SFU_SECRET");
    }
}
