package dev.cloister.node.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.pekko.http.impl.engine.ws.FrameHeader;
import org.apache.pekko.http.impl.engine.ws.FrameStart;
import org.apache.pekko.http.impl.engine.ws.Protocol;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;
import scala.Option;

/** The frame decoder's limits, at their edges. */
class WebSocketFramesTest {

  private static FrameStart start(int opcode, boolean fin, long length, byte[] data) {
    return new FrameStart(new FrameHeader(Protocol.Opcode$.MODULE$.forCode((byte) opcode),
        Option.<Object>apply(0), length, fin, false, false, false), ByteString.fromArray(data));
  }

  @Test
  void aContinuationWhoseLengthWouldOverflowTheSumIsRefusedFromItsHeader() {
    WebSocketFrames.Decoder d = new WebSocketFrames.Decoder(1024);
    assertThat(d.accept(start(1, false, 10, new byte[10]))).isEmpty();
    List<WebSocketFrames.Inbound> out = d.accept(start(0, false, Long.MAX_VALUE - 5, new byte[0]));
    assertThat(out).containsExactly(new WebSocketFrames.Refused(CloseCode.FRAME_TOO_LARGE.code,
        "a message may be at most 1024 bytes"));
  }

  @Test
  void aMessageOfExactlyTheLimitPassesAndOneByteMoreDoesNot() {
    WebSocketFrames.Decoder d = new WebSocketFrames.Decoder(4);
    assertThat(d.accept(start(1, false, 2, "{}".getBytes()))).isEmpty();
    assertThat(d.accept(start(0, true, 2, "  ".getBytes())))
        .containsExactly(new WebSocketFrames.Text("{}  "));
    assertThat(new WebSocketFrames.Decoder(4).accept(start(1, true, 5, "{}   ".getBytes())))
        .hasSize(1).first().isInstanceOf(WebSocketFrames.Refused.class);
  }
}
