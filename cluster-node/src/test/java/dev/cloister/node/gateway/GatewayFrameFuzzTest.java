package dev.cloister.node.gateway;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.pekko.http.impl.engine.ws.FrameData;
import org.apache.pekko.http.impl.engine.ws.FrameHeader;
import org.apache.pekko.http.impl.engine.ws.FrameStart;
import org.apache.pekko.http.impl.engine.ws.Protocol;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Tag;
import scala.Option;

/**
 * The gateway's two readers of untrusted input. {@link ClientOp#parse}: whatever the text, an op
 * whose fields are within their bounds, or {@link ClientOp.Malformed} (close 4002), never another
 * exception (which would stop the connection's actor without a close frame). The frame decoder
 * ({@link WebSocketFrames.Decoder}), fed frame events as Pekko's framing would cut them from any
 * bytes: never an exception, never a text message above the limit, nothing after a refusal or a
 * close. Seeds are in {@code GatewayFrameFuzzTestInputs}. See {@code MlsWireFuzzTest}
 * (mls-groups) for how the runs are set up.
 */
class GatewayFrameFuzzTest {

  private static final int MAX_MESSAGE = 1024;

  @Tag("fuzz")
  @FuzzTest(maxDuration = "5s")
  void ops(byte[] input) {
    op(input);
  }

  @Tag("fuzz-long")
  @FuzzTest(maxDuration = "10m")
  void opsLong(byte[] input) {
    op(input);
  }

  @Tag("fuzz")
  @FuzzTest(maxDuration = "5s")
  void frames(FuzzedDataProvider data) {
    frames(data, new WebSocketFrames.Decoder(MAX_MESSAGE));
  }

  @Tag("fuzz-long")
  @FuzzTest(maxDuration = "10m")
  void framesLong(FuzzedDataProvider data) {
    frames(data, new WebSocketFrames.Decoder(MAX_MESSAGE));
  }

  private static void op(byte[] input) {
    ClientOp op;
    try {
      op = ClientOp.parse(new String(input, StandardCharsets.UTF_8));
    } catch (ClientOp.Malformed e) {
      if (e.getMessage() == null || e.getMessage().isBlank()) {
        throw new AssertionError("a malformed frame must say why");
      }
      return;
    }
    if (op instanceof ClientOp.Identify i) {
      bounded(i.token(), ClientOp.MAX_TOKEN_LENGTH);
      bounded(i.deviceId(), ClientOp.MAX_ID_LENGTH);
    } else if (op instanceof ClientOp.Resume r) {
      bounded(r.token(), ClientOp.MAX_TOKEN_LENGTH);
      bounded(r.sessionId(), ClientOp.MAX_ID_LENGTH);
      if (r.seq() < 0) {
        throw new AssertionError("resume seq below 0: " + r.seq());
      }
    } else if (op instanceof ClientOp.Typing t) {
      bounded(t.channelId(), ClientOp.MAX_ID_LENGTH);
    } else if (op instanceof ClientOp.Presence p) {
      if (!p.status().equals("online") && !p.status().equals("idle")) {
        throw new AssertionError("presence status " + p.status());
      }
    } else if (op instanceof ClientOp.RequestPresences r) {
      bounded(r.guildId(), ClientOp.MAX_ID_LENGTH);
      optional(r.nonce());
      if (r.userIds().isEmpty() || r.userIds().size() > ClientOp.MAX_PRESENCES_ASKED) {
        throw new AssertionError("request_presences of " + r.userIds().size() + " users");
      }
      r.userIds().forEach(u -> bounded(u, ClientOp.MAX_ID_LENGTH));
    } else if (op instanceof ClientOp.Send s) {
      bounded(s.channelId(), ClientOp.MAX_ID_LENGTH);
      optional(s.nonce());
      if (s.ciphertext() == null) {
        throw new AssertionError("send without ciphertext");
      }
    } else if (op instanceof ClientOp.MlsCommit c) {
      bounded(c.groupId(), ClientOp.MAX_ID_LENGTH);
      bounded(c.deviceId(), ClientOp.MAX_ID_LENGTH);
      optional(c.nonce());
      if (c.commit() == null) {
        throw new AssertionError("mls_commit without commit");
      }
    } else if (op instanceof ClientOp.MlsReset r) {
      bounded(r.groupId(), ClientOp.MAX_ID_LENGTH);
      bounded(r.deviceId(), ClientOp.MAX_ID_LENGTH);
      optional(r.nonce());
    } else if (op instanceof ClientOp.VoiceStateUpdate v) {
      bounded(v.guildId(), ClientOp.MAX_ID_LENGTH);
      if (v.channelId() != null) {
        bounded(v.channelId(), ClientOp.MAX_ID_LENGTH);
      }
      optional(v.nonce());
    } else if (op instanceof ClientOp.BadRequest b) {
      optional(b.nonce());
    } else if (op == null) {
      throw new AssertionError("no op and no refusal");
    }
  }

  private static void bounded(String s, int max) {
    if (s == null || s.isEmpty() || s.length() > max) {
      throw new AssertionError("a field out of its bounds (1.." + max + "): " + s);
    }
  }

  private static void optional(String nonce) {
    if (nonce != null) {
      bounded(nonce, ClientOp.MAX_ID_LENGTH);
    }
  }

  /**
   * Frame events as Pekko's framing delivers them: a header with its declared length, then that
   * many payload bytes in one or more parts (fewer if the input runs out, as when a connection
   * drops mid-frame).
   */
  private static void frames(FuzzedDataProvider data, WebSocketFrames.Decoder decoder) {
    boolean ended = false;
    while (data.remainingBytes() > 0) {
      int opcode = data.consumeInt(0, 15);
      boolean fin = data.consumeBoolean();
      int flags = data.consumeInt(0, 7);
      Option<Object> mask = data.consumeBoolean() ? Option.<Object>apply(data.consumeInt())
          : Option.empty();
      // A length near the limit, any 63-bit length (RFC 6455 5.2), or one near the largest.
      int kind = data.consumeInt(0, 3);
      long length = kind == 0 ? data.consumeLong() & Long.MAX_VALUE
          : kind == 1 ? Long.MAX_VALUE - data.consumeInt(0, 2 * MAX_MESSAGE)
          : data.consumeInt(0, 2 * MAX_MESSAGE);
      FrameHeader header = new FrameHeader(Protocol.Opcode$.MODULE$.forCode((byte) opcode),
          mask, length, fin, (flags & 4) != 0, (flags & 2) != 0, (flags & 1) != 0);
      long left = length;
      int first = (int) Math.min(left, data.consumeInt(0, MAX_MESSAGE));
      byte[] part = data.consumeBytes(first);
      left -= part.length;
      ended = check(decoder.accept(new FrameStart(header, ByteString.fromArrayUnsafe(part))),
          ended);
      while (left > 0 && data.remainingBytes() > 0) {
        part = data.consumeBytes((int) Math.min(left, data.consumeInt(1, MAX_MESSAGE)));
        if (part.length == 0) {
          break;
        }
        left -= part.length;
        ended = check(decoder.accept(
            new FrameData(ByteString.fromArrayUnsafe(part), left == 0)), ended);
      }
      if (left > 0) {
        return; // the connection dropped mid-frame
      }
    }
  }

  /** Checks what the decoder gave for one event; returns whether the stream has ended. */
  private static boolean check(List<WebSocketFrames.Inbound> out, boolean ended) {
    for (WebSocketFrames.Inbound in : out) {
      if (ended) {
        throw new AssertionError("the decoder gave " + in + " after a refusal or a close");
      }
      if (in instanceof WebSocketFrames.Text t
          && t.text().getBytes(StandardCharsets.UTF_8).length > MAX_MESSAGE) {
        throw new AssertionError("a text message of " + t.text().length() + " chars passed the "
            + MAX_MESSAGE + " byte limit");
      }
      if (in instanceof WebSocketFrames.Ping p && p.data().size() > 125) {
        throw new AssertionError("a ping of " + p.data().size() + " bytes");
      }
      if (in instanceof WebSocketFrames.Refused r && (r.code() < 1000 || r.reason().isBlank())) {
        throw new AssertionError("a refusal without a code or reason: " + r);
      }
      ended = in instanceof WebSocketFrames.Refused || in instanceof WebSocketFrames.PeerClosed;
    }
    return ended;
  }
}
