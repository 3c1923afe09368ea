package dev.cloister.sfu.conference;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Speaker selection on a simulated clock: 50 packets per second per sender. */
class SpeakerSelectorTest {

    private static final long MS = 1_000_000L;
    private final Conference conference = new Conference("c");
    private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
    private final SpeakerSelector selector = new SpeakerSelector(3, 10, 8, 500 * MS, 1500 * MS);
    private long now = 1_000_000_000L;
    private int seq;

    @BeforeEach
    void members() {
        for (String id : List.of("a", "b", "c", "d", "e")) {
            Endpoint e = new Endpoint(conference, id, id.hashCode(), id + "ufrag", "pwd", 1);
            e.bind(new InetSocketAddress("127.0.0.1", 10_000 + endpoints.size()), Long.MAX_VALUE);
            conference.add(e);
            endpoints.put(id, e);
        }
    }

    /** Runs {@code millis} of 20 ms ticks; each entry of {@code levels} sends one packet per tick (null: sends nothing). */
    private void run(long millis, Map<String, Integer> levels) {
        for (long t = 0; t < millis; t += 20) {
            now += 20 * MS;
            seq++;
            levels.forEach((id, level) -> {
                if (level != null) {
                    endpoints.get(id).onRtp(seq, seq * 960L, level, 100, now);
                }
            });
            selector.select(conference, now);
        }
    }

    private List<String> speakers() {
        List<String> out = new ArrayList<>();
        endpoints.forEach((id, e) -> {
            if (e.isSpeaker()) {
                out.add(id);
            }
        });
        return out;
    }

    @Test
    void forwardsTheLoudestThree() {
        run(500, Map.of("a", 10, "b", 20, "c", 30, "d", 60, "e", 127));
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "c");
    }

    @Test
    void silenceAndMissingLevelsNeverTakeASlot() {
        run(1000, Map.of("a", 127, "b", -1, "c", 15));
        assertThat(speakers()).containsExactly("c");
    }

    @Test
    void aSlightlyLouderNewcomerDoesNotDisplaceASpeaker() {
        run(500, Map.of("a", 30, "b", 32, "c", 34));
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "c");
        // d is 4 dB louder than c: within the 8 dB margin, so nothing changes, for as long as it lasts.
        run(3000, Map.of("a", 30, "b", 32, "c", 34, "d", 30));
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "c");
    }

    @Test
    void aMuchLouderNewcomerReplacesTheQuietestSpeaker() {
        run(500, Map.of("a", 30, "b", 32, "c", 34));
        run(300, Map.of("a", 30, "b", 32, "c", 34, "d", 5));
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "d");
    }

    @Test
    void speakersDoNotFlapWhenLevelsCross() {
        run(500, Map.of("a", 20, "b", 20, "c", 30));
        int changes = 0;
        List<String> before = speakers();
        // c and d trade places every 200 ms, never more than 6 dB apart.
        for (int i = 0; i < 20; i++) {
            boolean odd = i % 2 == 1;
            run(200, Map.of("a", 20, "b", 20, "c", odd ? 27 : 33, "d", odd ? 33 : 27));
            List<String> after = speakers();
            if (!after.equals(before)) {
                changes++;
            }
            before = after;
        }
        assertThat(changes).isZero();
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "c");
    }

    @Test
    void aSpeakerWhoFallsSilentKeepsTheSlotForTheHoldTimeThenLosesIt() {
        run(500, Map.of("a", 20));
        assertThat(speakers()).containsExactly("a");
        Map<String, Integer> silent = new LinkedHashMap<>();
        silent.put("a", 127);
        run(1000, silent);
        assertThat(speakers()).containsExactly("a");
        run(2000, silent);
        assertThat(speakers()).isEmpty();
    }

    @Test
    void someoneWhoStartsTalkingTakesASilentSpeakersSlotWithoutWaitingOutItsHold() {
        run(500, Map.of("a", 10, "b", 20, "c", 30));
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "c");
        // Turn-taking: all three fall silent, then d speaks. The hold keeps a silent speaker only while nobody
        // needs the slot; d must be heard from its first words, not 1.5 s later.
        Map<String, Integer> turn = new LinkedHashMap<>(Map.of("a", 127, "b", 127, "c", 127));
        run(1000, turn);
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "c");
        turn.put("d", 40);
        run(100, turn);
        assertThat(speakers()).hasSize(3).contains("d");
    }

    @Test
    void aSenderThatStopsSendingCountsAsSilent() {
        run(500, Map.of("a", 20, "b", 20, "c", 20));
        // c stops; after the stale time it is silent and d takes its slot though d is not louder by the margin.
        run(3000, Map.of("a", 20, "b", 20, "d", 25));
        assertThat(speakers()).containsExactlyInAnyOrder("a", "b", "d");
    }

    @Test
    void serverMutedAndUnboundEndpointsAreNeverSpeakers() {
        endpoints.get("a").serverMuted(true);
        endpoints.get("b").unbind();
        run(500, Map.of("a", 5, "b", 5, "c", 30, "d", 40));
        assertThat(speakers()).containsExactlyInAnyOrder("c", "d");
        endpoints.get("c").serverMuted(true);
        run(40, Map.of("c", 30, "d", 40));
        assertThat(speakers()).containsExactly("d");
    }
}
