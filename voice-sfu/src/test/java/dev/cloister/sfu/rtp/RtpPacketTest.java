package dev.cloister.sfu.rtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RtpPacketTest {

    @Test
    void readsHeaderAndAudioLevel() {
        byte[] payload = {1, 2, 3, 4, 5};
        byte[] out = new byte[64];
        int n = RtpPacket.write(out, 111, 0xFFFE, 0xFFFFFFF0L, 0xCAFEBABE, 3, 42, true, payload, 0, 5);
        RtpPacket p = new RtpPacket();
        assertThat(p.wrap(out, 0, n)).isTrue();
        assertThat(p.payloadType()).isEqualTo(111);
        assertThat(p.sequenceNumber()).isEqualTo(0xFFFE);
        assertThat(p.timestamp()).isEqualTo(0xFFFFFFF0L);
        assertThat(p.ssrc()).isEqualTo(0xCAFEBABE);
        assertThat(p.extensionProfile()).isEqualTo(0xBEDE);
        assertThat(p.audioLevel(3)).isEqualTo(42);
        assertThat(p.voiceActivity(3)).isTrue();
        assertThat(p.audioLevel(4)).isEqualTo(RtpPacket.NO_AUDIO_LEVEL);
        assertThat(p.payloadLength()).isEqualTo(5);
        assertThat(out[p.payloadOffset()]).isEqualTo((byte) 1);
    }

    @Test
    void findsTheLevelAmongOtherElementsAndPadding() {
        // RFC 8285 4.2: one-byte elements; id 1 with 2 bytes, a padding byte, id 5 (audio level) with 1 byte.
        byte[] packet = HexFormat.of().parseHex(
                "90" + "6f" + "0001" + "00000960" + "11223344"
                        + "bede" + "0002" + "11aabb" + "00" + "50" + "85" + "0000"
                        + "deadbeef");
        RtpPacket p = new RtpPacket();
        assertThat(p.wrap(packet, 0, packet.length)).isTrue();
        assertThat(p.audioLevel(5)).isEqualTo(5);
        assertThat(p.voiceActivity(5)).isTrue();
        assertThat(p.findOneByteExtension(1)).isEqualTo(17);
        assertThat(p.payloadLength()).isEqualTo(4);
    }

    @Test
    void withoutExtensionThereIsNoLevel() {
        byte[] out = new byte[64];
        int n = RtpPacket.write(out, 111, 1, 2, 3, 1, RtpPacket.NO_AUDIO_LEVEL, false, new byte[3], 0, 3);
        RtpPacket p = new RtpPacket();
        assertThat(p.wrap(out, 0, n)).isTrue();
        assertThat(p.hasExtension()).isFalse();
        assertThat(p.audioLevel(1)).isEqualTo(RtpPacket.NO_AUDIO_LEVEL);
    }

    @Test
    void rejectsMalformedPackets() {
        RtpPacket p = new RtpPacket();
        byte[] shortPacket = new byte[11];
        shortPacket[0] = (byte) 0x80;
        assertThat(p.wrap(shortPacket, 0, 11)).isFalse();
        byte[] version1 = new byte[20];
        version1[0] = 0x40;
        assertThat(p.wrap(version1, 0, 20)).isFalse();
        byte[] csrcOverrun = new byte[20];
        csrcOverrun[0] = (byte) 0x8F; // 15 CSRCs need 72 bytes
        assertThat(p.wrap(csrcOverrun, 0, 20)).isFalse();
        byte[] extOverrun = HexFormat.of().parseHex("9000000100000000000000" + "01" + "bede00ff" + "10000000");
        assertThat(p.wrap(extOverrun, 0, extOverrun.length)).isFalse();
        byte[] padOverrun = new byte[16];
        padOverrun[0] = (byte) 0xA0;
        padOverrun[15] = 10; // 10 bytes of padding, only 4 after the header
        assertThat(p.wrap(padOverrun, 0, 16)).isFalse();
        padOverrun[15] = 0;
        assertThat(p.wrap(padOverrun, 0, 16)).isFalse();
    }

    @Test
    void elementRunningPastTheExtensionIsIgnored() {
        byte[] packet = HexFormat.of().parseHex("90000001000000000000000" + "1" + "bede0001" + "1f000000");
        RtpPacket p = new RtpPacket();
        assertThat(p.wrap(packet, 0, packet.length)).isTrue();
        assertThat(p.audioLevel(1)).isEqualTo(RtpPacket.NO_AUDIO_LEVEL);
    }

    @Test
    void survivesRandomBytes() {
        Random random = new Random(7);
        RtpPacket p = new RtpPacket();
        byte[] b = new byte[128];
        for (int i = 0; i < 50_000; i++) {
            random.nextBytes(b);
            b[0] = (byte) (0x80 | (b[0] & 0x3F));
            int len = random.nextInt(b.length + 1);
            if (p.wrap(b, 0, len)) {
                for (int id = 1; id <= 14; id++) {
                    p.audioLevel(id);
                }
                assertThat(p.payloadOffset() + p.payloadLength()).isLessThanOrEqualTo(len);
            }
        }
    }
}
