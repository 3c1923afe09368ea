package dev.cloister.node.gateway;

/** Why the gateway closed a connection: the code in the WebSocket close frame. */
enum CloseCode {
  /** RFC 6455: the client broke the framing rules (unmasked frame, bad control frame). */
  PROTOCOL_ERROR(1002),
  /** RFC 6455: the node is stopping (a rolling restart): resume on another node. */
  SERVICE_RESTART(1012),
  UNKNOWN_ERROR(4000),
  UNKNOWN_OP(4001),
  DECODE_ERROR(4002),
  NOT_AUTHENTICATED(4003),
  AUTHENTICATION_FAILED(4004),
  ALREADY_AUTHENTICATED(4005),
  INVALID_SEQ(4007),
  RATE_LIMITED(4008),
  SESSION_TIMED_OUT(4009),
  FRAME_TOO_LARGE(4010),
  SESSION_REPLACED(4011),
  /** The client did not read its frames fast enough (outbound-buffer, outbound-max-bytes). */
  TOO_SLOW(4012);

  final int code;

  CloseCode(int code) {
    this.code = code;
  }
}
