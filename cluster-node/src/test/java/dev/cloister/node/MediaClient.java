package dev.cloister.node;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.sfu.rtp.RtpPacket;
import dev.cloister.sfu.stun.StunMessage;
import dev.cloister.sfu.stun.StunMessageBuilder;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The media side of a participant, as small as a test needs: binds to the SFU the
 * VOICE_SERVER_UPDATE named (a STUN Binding Request with the endpoint's ICE credentials) and sends
 * RTP with an audio level. Its payload is opaque bytes, as SFrame ciphertext is to the SFU.
 */
final class MediaClient implements AutoCloseable {

  private final DatagramSocket socket;
  private final InetSocketAddress sfu;
  private final int ssrc;
  private final int levelExtId;

  private MediaClient(JsonNode server) throws IOException {
    this.socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
    this.sfu = new InetSocketAddress(server.get("udpHost").asText(), server.get("udpPort").asInt());
    this.ssrc = (int) server.get("ssrc").asLong();
    this.levelExtId = server.get("audioLevelExtId").asInt();
  }

  /** Binds to the SFU; fails unless it answers the Binding Request within 2 s. */
  static MediaClient bind(JsonNode voiceServerUpdate) throws Exception {
    MediaClient c = new MediaClient(voiceServerUpdate);
    byte[] tx = new byte[12];
    new SecureRandom().nextBytes(tx);
    byte[] out = new byte[600];
    Mac mac = Mac.getInstance("HmacSHA1");
    mac.init(new SecretKeySpec(voiceServerUpdate.get("icePwd").asText()
        .getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
    StunMessageBuilder b = new StunMessageBuilder().start(out, 0, StunMessage.BINDING_REQUEST, tx, 0)
        .username(voiceServerUpdate.get("iceUfrag").asText() + ":test")
        .intAttribute(StunMessage.ATTR_PRIORITY, 0x6E0001FF)
        .flag(StunMessage.ATTR_USE_CANDIDATE)
        .messageIntegrity(mac)
        .fingerprint();
    byte[] request = Arrays.copyOf(out, b.length());
    c.socket.setSoTimeout(200);
    byte[] in = new byte[1500];
    for (int attempt = 0; attempt < 10; attempt++) {
      c.socket.send(new DatagramPacket(request, request.length, c.sfu));
      try {
        DatagramPacket p = new DatagramPacket(in, in.length);
        c.socket.receive(p);
        return c;
      } catch (SocketTimeoutException again) {
        // retransmit
      }
    }
    c.close();
    throw new IllegalStateException("the SFU did not answer the Binding Request");
  }

  /** One RTP packet of 20 ms with a loud audio level and 60 opaque payload bytes. */
  void sendRtp(int sequence) throws IOException {
    byte[] out = new byte[200];
    byte[] payload = new byte[60];
    int n = RtpPacket.write(out, 111, sequence, sequence * 960L, ssrc, levelExtId, 20, true,
        payload, 0, payload.length);
    socket.send(new DatagramPacket(out, n, sfu));
  }

  @Override
  public void close() {
    socket.close();
  }
}
