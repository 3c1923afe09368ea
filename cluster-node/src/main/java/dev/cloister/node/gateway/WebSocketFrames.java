package dev.cloister.node.gateway;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.pekko.http.impl.engine.ws.FrameData;
import org.apache.pekko.http.impl.engine.ws.FrameEvent;
import org.apache.pekko.http.impl.engine.ws.FrameHeader;
import org.apache.pekko.http.impl.engine.ws.FrameStart;
import org.apache.pekko.http.impl.engine.ws.Protocol;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;
import scala.Option;

/**
 * RFC 6455 frames to and from what the gateway deals in. Pekko HTTP's message-level WebSocket API
 * cannot close a connection with an application close code (4000-4999), so the gateway takes the
 * frames themselves (after Pekko's framing, before its frame handling) and does the little that
 * is left: unmasking, reassembling fragmented text, control frames, and refusing a message as soon
 * as its declared length passes the limit, before reading its payload. This is the only class that
 * touches Pekko HTTP's internal frame types.
 */
final class WebSocketFrames {

  private WebSocketFrames() {}

  private static final byte CONTINUATION = 0;
  private static final byte TEXT = 1;
  private static final byte BINARY = 2;
  private static final byte CLOSE = 8;
  private static final byte PING = 9;
  private static final byte PONG = 10;

  /** What the client sent. */
  sealed interface Inbound {}

  record Text(String text) implements Inbound {}

  record Ping(ByteString data) implements Inbound {}

  /** The client's frames break a rule; the connection must be closed with this code. */
  record Refused(int code, String reason) implements Inbound {}

  /** The client sent a close frame. */
  record PeerClosed(int code) implements Inbound {}

  // ---- decoding ----

  static final class Decoder {
    private final int max;
    // the frame being read
    private byte opcode;
    private boolean fin;
    private int mask;
    private long offset;
    private long length;
    // the message being assembled (text frames) or the control frame's payload
    private boolean inMessage;
    private final ByteStringBuilder message = new ByteStringBuilder();
    private final ByteStringBuilder control = new ByteStringBuilder();
    private boolean done;

    Decoder(int max) {
      this.max = max;
    }

    List<Inbound> accept(FrameEvent event) {
      if (done) {
        return List.of();
      }
      if (event instanceof FrameStart start) {
        Inbound refused = begin(start.header());
        if (refused != null) {
          done = true;
          return List.of(refused);
        }
        return data(start.data(), start.lastPart());
      }
      if (event instanceof FrameData data) {
        return data(data.data(), data.lastPart());
      }
      return List.of();
    }

    private Inbound begin(FrameHeader h) {
      if (h.rsv1() || h.rsv2() || h.rsv3()) {
        return new Refused(CloseCode.PROTOCOL_ERROR.code, "reserved bits are set");
      }
      Option<Object> m = h.mask();
      if (m.isEmpty()) {
        return new Refused(CloseCode.PROTOCOL_ERROR.code, "client frames must be masked");
      }
      opcode = h.opcode().code();
      fin = h.fin();
      mask = (Integer) m.get();
      offset = 0;
      length = h.length();
      control.clear();
      switch (opcode) {
        case CLOSE, PING, PONG -> {
          if (!fin || length > 125) {
            return new Refused(CloseCode.PROTOCOL_ERROR.code, "invalid control frame");
          }
          return null;
        }
        case TEXT -> {
          if (inMessage) {
            return new Refused(CloseCode.PROTOCOL_ERROR.code, "a new message inside a fragmented one");
          }
          inMessage = true;
          message.clear();
        }
        case CONTINUATION -> {
          if (!inMessage) {
            return new Refused(CloseCode.PROTOCOL_ERROR.code, "continuation without a message");
          }
        }
        case BINARY -> {
          return new Refused(CloseCode.DECODE_ERROR.code,
              "binary frames are not accepted; send JSON text frames");
        }
        default -> {
          return new Refused(CloseCode.PROTOCOL_ERROR.code, "unknown opcode " + opcode);
        }
      }
      // Not message.length() + length: a continuation may declare up to 2^63 - 1 bytes, and the
      // sum would overflow past the check.
      if (length > max - message.length()) {
        return tooLarge();
      }
      return null;
    }

    private Refused tooLarge() {
      return new Refused(CloseCode.FRAME_TOO_LARGE.code,
          "a message may be at most " + max + " bytes");
    }

    private List<Inbound> data(ByteString masked, boolean lastPart) {
      byte[] bytes = masked.toArray();
      for (int i = 0; i < bytes.length; i++) {
        int shift = 24 - 8 * (int) ((offset + i) & 3);
        bytes[i] ^= (byte) (mask >>> shift);
      }
      offset += bytes.length;
      boolean isControl = opcode == CLOSE || opcode == PING || opcode == PONG;
      if (offset > length || (isControl ? control.length() : message.length()) + bytes.length
          > (isControl ? 125 : max)) {
        // More than the header declared: never from Pekko's framing, refused all the same.
        done = true;
        return List.of(tooLarge());
      }
      (isControl ? control : message).putBytes(bytes);
      if (!lastPart) {
        return List.of();
      }
      if (isControl) {
        return controlFrame(control.result());
      }
      if (!fin) {
        return List.of();
      }
      inMessage = false;
      ByteString whole = message.result();
      message.clear();
      try {
        String text = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(whole.toArray())).toString();
        return List.of(new Text(text));
      } catch (CharacterCodingException e) {
        done = true;
        return List.of(new Refused(CloseCode.DECODE_ERROR.code, "the text is not UTF-8"));
      }
    }

    private List<Inbound> controlFrame(ByteString payload) {
      switch (opcode) {
        case PING:
          return List.of(new Ping(payload));
        case CLOSE:
          done = true;
          int code = payload.size() >= 2
              ? ((payload.apply(0) & 0xff) << 8) | (payload.apply(1) & 0xff) : 1005;
          return List.of(new PeerClosed(code));
        default:
          return List.of(); // pong
      }
    }
  }

  // ---- encoding ----

  private static final Protocol.Opcode TEXT_OPCODE = Protocol.Opcode$.MODULE$.forCode(TEXT);
  private static final Protocol.Opcode PONG_OPCODE = Protocol.Opcode$.MODULE$.forCode(PONG);

  static FrameEvent text(String text) {
    return text(ByteString.fromString(text, StandardCharsets.UTF_8));
  }

  /** A text frame of these UTF-8 bytes (a rope of shared pieces is written as it is, uncopied). */
  static FrameEvent text(ByteString utf8) {
    return FrameEvent.fullFrame(TEXT_OPCODE, Option.empty(), utf8, true, false, false, false);
  }

  static FrameEvent pong(ByteString data) {
    return FrameEvent.fullFrame(PONG_OPCODE, Option.empty(), data, true, false, false, false);
  }

  static FrameEvent close(int code, String reason) {
    // A close reason is at most 123 bytes of UTF-8.
    String r = reason.length() > 100 ? reason.substring(0, 100) : reason;
    return FrameEvent.closeFrame(code, r, Option.empty());
  }
}
