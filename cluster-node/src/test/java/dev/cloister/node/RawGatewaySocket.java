package dev.cloister.node;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A gateway client over a plain socket, for what well-behaved clients never do: stop reading,
 * send frames the RFC forbids, lie about lengths. It reads only when told to.
 */
final class RawGatewaySocket implements AutoCloseable {

  private final Socket socket;
  private final OutputStream out;
  private final InputStream in;

  private RawGatewaySocket(Socket socket) throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.in = socket.getInputStream();
  }

  /**
   * Connects and upgrades; {@code receiveBuffer} bytes of kernel buffer on our side (small for a
   * client that stops reading, so the server notices sooner).
   */
  static RawGatewaySocket connect(int port, int receiveBuffer) throws IOException {
    Socket s = new Socket();
    s.setReceiveBufferSize(receiveBuffer);
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    s.setSoTimeout(10_000);
    RawGatewaySocket raw = new RawGatewaySocket(s);
    raw.out.write(("GET /gateway HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n"
        + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII));
    raw.out.flush();
    String head = raw.readHead();
    if (!head.startsWith("HTTP/1.1 101")) {
      s.close();
      throw new IOException("upgrade refused: " + head.lines().findFirst().orElse(""));
    }
    return raw;
  }

  private String readHead() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    byte[] end = {'\r', '\n', '\r', '\n'};
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      head.write(b);
      matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.US_ASCII);
  }

  void sendText(String text) throws IOException {
    sendFrame(0x1, true, text.getBytes(StandardCharsets.UTF_8));
  }

  /** One masked frame, as a client must send it. */
  void sendFrame(int opcode, boolean fin, byte[] payload) throws IOException {
    out.write(header(opcode, fin, payload.length, true));
    byte[] mask = new byte[4];
    ThreadLocalRandom.current().nextBytes(mask);
    out.write(mask);
    byte[] masked = payload.clone();
    for (int i = 0; i < masked.length; i++) {
      masked[i] ^= mask[i & 3];
    }
    out.write(masked);
    out.flush();
  }

  /** Raw bytes, as they are. */
  void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  static byte[] header(int opcode, boolean fin, long length, boolean masked) {
    ByteArrayOutputStream h = new ByteArrayOutputStream();
    h.write((fin ? 0x80 : 0) | opcode);
    int m = masked ? 0x80 : 0;
    if (length < 126) {
      h.write(m | (int) length);
    } else if (length <= 0xffff) {
      h.write(m | 126);
      h.write((int) (length >>> 8));
      h.write((int) length);
    } else {
      h.write(m | 127);
      for (int i = 7; i >= 0; i--) {
        h.write((int) (length >>> (8 * i)));
      }
    }
    return h.toByteArray();
  }

  /** Reads what is there (up to {@code buf.length}): the count, 0 after 100 ms of nothing, -1 at the end. */
  int read(byte[] buf) throws IOException {
    socket.setSoTimeout(100);
    try {
      int n = in.read(buf);
      return n < 0 ? -1 : n;
    } catch (SocketTimeoutException e) {
      return 0;
    } catch (IOException reset) {
      return -1;
    }
  }

  /**
   * Reads (and drops) whatever arrives until the server ends the connection; returns the close
   * code of the last close frame seen, -1 for none (the connection was cut), or throws if the
   * connection is still open after {@code timeout}.
   */
  int drainUntilClosed(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    socket.setSoTimeout(200);
    FrameScanner frames = new FrameScanner();
    byte[] buf = new byte[64 * 1024];
    while (System.nanoTime() < deadline) {
      int n;
      try {
        n = in.read(buf);
      } catch (SocketTimeoutException e) {
        continue;
      } catch (IOException reset) {
        return frames.closeCode;
      }
      if (n < 0) {
        return frames.closeCode;
      }
      frames.accept(buf, n);
    }
    throw new AssertionError("the server kept the connection open for " + timeout);
  }

  /** Follows server frames (unmasked) just far enough to see a close frame's code. */
  private static final class FrameScanner {
    int closeCode = -1;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    void accept(byte[] buf, int n) {
      pending.write(buf, 0, n);
      byte[] b = pending.toByteArray();
      int at = 0;
      while (true) {
        if (b.length - at < 2) {
          break;
        }
        int opcode = b[at] & 0x0f;
        int len = b[at + 1] & 0x7f;
        int headLen = 2;
        long length = len;
        if (len == 126) {
          if (b.length - at < 4) {
            break;
          }
          length = ((b[at + 2] & 0xff) << 8) | (b[at + 3] & 0xff);
          headLen = 4;
        } else if (len == 127) {
          if (b.length - at < 10) {
            break;
          }
          length = 0;
          for (int i = 0; i < 8; i++) {
            length = (length << 8) | (b[at + 2 + i] & 0xff);
          }
          headLen = 10;
        }
        if (b.length - at < headLen + length) {
          break;
        }
        if (opcode == 0x8 && length >= 2) {
          closeCode = ((b[at + headLen] & 0xff) << 8) | (b[at + headLen + 1] & 0xff);
        }
        at += headLen + (int) length;
      }
      pending.reset();
      pending.write(b, at, b.length - at);
    }
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // already gone
    }
  }
}
