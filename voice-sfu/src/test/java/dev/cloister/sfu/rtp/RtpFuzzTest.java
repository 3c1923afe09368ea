package dev.cloister.sfu.rtp;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Tag;

/**
 * RTP and RTCP as the SFU reads them per datagram: wrap, header extensions (the RFC 6464 audio
 * level), report blocks; every offset stays inside the datagram. See {@code StunFuzzTest}.
 */
class RtpFuzzTest {

  @Tag("fuzz")
  @FuzzTest(maxDuration = "5s")
  void packets(byte[] input) {
    read(input);
  }

  @Tag("fuzz-long")
  @FuzzTest(maxDuration = "10m")
  void packetsLong(byte[] input) {
    read(input);
  }

  private static void read(byte[] input) {
    RtpPacket rtp = new RtpPacket();
    if (rtp.wrap(input, 0, input.length)) {
      if (rtp.payloadOffset() + rtp.payloadLength() > input.length || rtp.payloadLength() < 0) {
        throw new AssertionError("payload outside the datagram");
      }
      rtp.marker();
      rtp.ssrc();
      rtp.sequenceNumber();
      rtp.timestamp();
      if (rtp.hasExtension()) {
        rtp.extensionProfile();
        for (int id = 1; id <= 14; id++) {
          int at = rtp.findOneByteExtension(id);
          if (at >= input.length) {
            throw new AssertionError("extension outside the datagram");
          }
          rtp.audioLevel(id);
          rtp.voiceActivity(id);
        }
      }
    }
    RtcpPacket.looksLikeRtcp(input, 0, input.length);
    RtcpPacket rtcp = new RtcpPacket();
    if (rtcp.wrap(input, 0, input.length)) {
      rtcp.packetCount();
      rtcp.firstPacketType();
      rtcp.senderSsrc();
      for (int b = 0; b < rtcp.reportBlockCount(); b++) {
        rtcp.sourceSsrc(b);
        rtcp.fractionLost(b);
        rtcp.cumulativeLost(b);
        rtcp.jitter(b);
      }
    }
  }
}
