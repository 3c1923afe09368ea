package dev.cloister.sfu.rtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RtcpPacketTest {

    @Test
    void readsAReceiverReport() {
        byte[] out = new byte[64];
        int n = RtcpPacket.writeReceiverReport(out, 0x01020304, 0x0A0B0C0D, 64, -3, 70_000, 480);
        RtcpPacket p = new RtcpPacket();
        assertThat(RtcpPacket.looksLikeRtcp(out, 0, n)).isTrue();
        assertThat(p.wrap(out, 0, n)).isTrue();
        assertThat(p.firstPacketType()).isEqualTo(RtcpPacket.RR);
        assertThat(p.senderSsrc()).isEqualTo(0x01020304);
        assertThat(p.reportBlockCount()).isEqualTo(1);
        assertThat(p.sourceSsrc(0)).isEqualTo(0x0A0B0C0D);
        assertThat(p.fractionLost(0)).isEqualTo(64);
        assertThat(p.cumulativeLost(0)).isEqualTo(-3);
        assertThat(p.extendedHighestSequence(0)).isEqualTo(70_000);
        assertThat(p.jitter(0)).isEqualTo(480);
    }

    @Test
    void readsACompoundSenderReportWithSdes() {
        // SR with one report block, then SDES with one CNAME chunk ("ab").
        String sr = "81c8000c" + "11111111" + "0000000000000000" + "00000000" + "00000010" + "00000100"
                + "22222222" + "0a000005" + "00000064" + "00000020" + "00000000" + "00000000";
        String sdes = "81ca0003" + "11111111" + "01026162" + "00000000";
        byte[] b = HexFormat.of().parseHex(sr + sdes);
        RtcpPacket p = new RtcpPacket();
        assertThat(p.wrap(b, 0, b.length)).isTrue();
        assertThat(p.packetCount()).isEqualTo(2);
        assertThat(p.firstPacketType()).isEqualTo(RtcpPacket.SR);
        assertThat(p.senderSsrc()).isEqualTo(0x11111111);
        assertThat(p.reportBlockCount()).isEqualTo(1);
        assertThat(p.sourceSsrc(0)).isEqualTo(0x22222222);
        assertThat(p.fractionLost(0)).isEqualTo(10);
        assertThat(p.cumulativeLost(0)).isEqualTo(5);
        assertThat(p.jitter(0)).isEqualTo(0x20);
    }

    @Test
    void rejectsMalformedCompounds() {
        byte[] out = new byte[64];
        int n = RtcpPacket.writeReceiverReport(out, 1, 2, 0, 0, 0, 0);
        RtcpPacket p = new RtcpPacket();
        assertThat(p.wrap(out, 0, n - 4)).isFalse(); // length field says more than there is
        assertThat(p.wrap(out, 0, n + 2)).isFalse(); // not a multiple of four
        byte[] tooManyBlocks = Arrays.copyOf(out, n);
        tooManyBlocks[0] = (byte) 0x83; // three blocks claimed, one present
        assertThat(p.wrap(tooManyBlocks, 0, n)).isFalse();
        byte[] version = Arrays.copyOf(out, n);
        version[0] = 0x41;
        assertThat(p.wrap(version, 0, n)).isFalse();
    }

    @Test
    void survivesRandomBytes() {
        Random random = new Random(11);
        RtcpPacket p = new RtcpPacket();
        byte[] b = new byte[256];
        for (int i = 0; i < 50_000; i++) {
            random.nextBytes(b);
            b[0] = (byte) (0x80 | (b[0] & 0x1F));
            b[2] = 0;
            int len = random.nextInt(b.length + 1) & ~3;
            if (p.wrap(b, 0, len)) {
                for (int k = 0; k < p.reportBlockCount(); k++) {
                    p.jitter(k);
                    p.cumulativeLost(k);
                }
            }
        }
    }
}
