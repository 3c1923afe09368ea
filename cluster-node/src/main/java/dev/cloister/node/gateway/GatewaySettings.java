package dev.cloister.node.gateway;

import com.typesafe.config.Config;
import java.time.Duration;

/** The gateway's tunables, from {@code cloister.gateway} (see reference.conf). */
public record GatewaySettings(
    Duration heartbeatInterval, Duration heartbeatTimeout, Duration identifyTimeout,
    int maxFrameBytes, int outboundBuffer, long outboundMaxBytes, int resumeMaxEvents,
    long resumeMaxBytes, Duration resumeMaxAge,
    double sessionBurst, double sessionPerSecond, Duration replicaSettle,
    Duration replicaLinger) {

  public static GatewaySettings of(Config gateway) {
    return new GatewaySettings(
        gateway.getDuration("heartbeat-interval"),
        gateway.getDuration("heartbeat-timeout"),
        gateway.getDuration("identify-timeout"),
        (int) Math.min(Integer.MAX_VALUE, gateway.getBytes("max-frame-size")),
        gateway.getInt("outbound-buffer"),
        gateway.getBytes("outbound-max-bytes"),
        gateway.getInt("resume.max-events"),
        gateway.getBytes("resume.max-bytes"),
        gateway.getDuration("resume.max-age"),
        gateway.getDouble("rate-limit.burst"),
        gateway.getDouble("rate-limit.per-second"),
        gateway.getDuration("replica-settle"),
        gateway.getDuration("replica-linger"));
  }
}
