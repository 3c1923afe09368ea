package dev.cloister.sfu.conference;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ReceptionStatisticsTest {

    private static final long MS = 1_000_000L;

    @Test
    void countsLossAcrossSequenceWrap() {
        ReceptionStatistics s = new ReceptionStatistics(48_000);
        long t = 0;
        int seq = 65_530;
        for (int i = 0; i < 20; i++) {
            if (i != 3 && i != 9) {
                s.onPacket(seq & 0xFFFF, i * 960L, t);
            }
            seq++;
            t += 20 * MS;
        }
        assertThat(s.expected()).isEqualTo(20);
        assertThat(s.received()).isEqualTo(18);
        assertThat(s.lost()).isEqualTo(2);
    }

    @Test
    void jitterIsZeroForPerfectPacingAndGrowsWithVariation() {
        ReceptionStatistics steady = new ReceptionStatistics(48_000);
        ReceptionStatistics jittery = new ReceptionStatistics(48_000);
        for (int i = 0; i < 200; i++) {
            steady.onPacket(i, i * 960L, i * 20 * MS);
            jittery.onPacket(i, i * 960L, i * 20 * MS + (i % 2 == 0 ? 0 : 10 * MS));
        }
        assertThat(steady.jitter()).isZero();
        // Alternating 10 ms offsets: |D| = 480 units every packet, so J converges to 480 (10 ms).
        assertThat(jittery.jitterMillis()).isBetween(9.0, 10.5);
    }

    @Test
    void aLargeJumpRestartsCounting() {
        ReceptionStatistics s = new ReceptionStatistics(48_000);
        for (int i = 0; i < 10; i++) {
            s.onPacket(i, i * 960L, i * 20 * MS);
        }
        for (int i = 0; i < 10; i++) {
            s.onPacket(30_000 + i, i * 960L, (10 + i) * 20 * MS);
        }
        assertThat(s.lost()).isZero();
        assertThat(s.expected()).isEqualTo(10);
    }
}
