package dev.cloister.sfu;

import java.time.Duration;
import com.typesafe.config.Config;

/**
 * Everything an SFU needs to start. {@link #defaults()} gives the documented defaults;
 * {@link #fromConfig(Config)} reads {@code cloister.sfu.*} (and so the {@code CLOISTER_SFU_*} variables).
 * Ports may be 0 (ephemeral) when embedding or testing.
 *
 * @param bindHost            local address for the UDP media socket
 * @param publicHost          address advertised to clients as {@code udpHost}
 * @param udpPort             UDP media port (STUN, RTP and RTCP share it)
 * @param controlHost         local address of the HTTP control API
 * @param controlPort         HTTP control API port
 * @param topN                speakers forwarded per conference
 * @param audioLevelExtId     RFC 8285 one-byte extension id carrying the RFC 6464 audio level (1..14)
 * @param ioThreads           UDP I/O workers (each its own SO_REUSEPORT socket on epoll)
 * @param consentTimeout      a binding expires this long after its last valid STUN request
 * @param speakerFloorDb      loudness (dB above RFC 6464 silence, level 127) needed to become a speaker
 * @param speakerMarginDb     how much louder than the quietest speaker a candidate must be to replace it
 * @param speakerQuietHold    how long a speaker may stay below the floor before losing the slot
 * @param selectionInterval   how often speakers are re-selected and expired bindings swept
 * @param controlSecret       bearer token the control API requires on {@code /v1/**} ("" for none;
 *                            required whenever {@code controlHost} is not a loopback address)
 */
public record SfuConfig(
        String bindHost,
        String publicHost,
        int udpPort,
        String controlHost,
        int controlPort,
        int topN,
        int audioLevelExtId,
        int ioThreads,
        Duration consentTimeout,
        int speakerFloorDb,
        int speakerMarginDb,
        Duration speakerQuietHold,
        Duration selectionInterval,
        String controlSecret) {

    public SfuConfig {
        controlSecret = controlSecret == null ? "" : controlSecret;
        requirePort("udpPort", udpPort);
        requirePort("controlPort", controlPort);
        if (topN < 0 || topN > 64) {
            throw new IllegalArgumentException("topN must be 0..64, was " + topN);
        }
        if (audioLevelExtId < 1 || audioLevelExtId > 14) {
            throw new IllegalArgumentException("audioLevelExtId must be 1..14, was " + audioLevelExtId);
        }
        if (ioThreads < 1 || ioThreads > 64) {
            throw new IllegalArgumentException("ioThreads must be 1..64, was " + ioThreads);
        }
        if (consentTimeout.isNegative() || consentTimeout.isZero()) {
            throw new IllegalArgumentException("consentTimeout must be positive");
        }
        if (selectionInterval.isNegative() || selectionInterval.isZero()) {
            throw new IllegalArgumentException("selectionInterval must be positive");
        }
    }

    public static SfuConfig defaults() {
        return new SfuConfig("0.0.0.0", "127.0.0.1", 50000, "127.0.0.1", 8091, 3, 1,
                Math.max(1, Runtime.getRuntime().availableProcessors()), Duration.ofSeconds(30),
                10, 8, Duration.ofMillis(1500), Duration.ofMillis(20), "");
    }

    /** Defaults with both ports ephemeral and everything on loopback: for tests and embedding. */
    public static SfuConfig loopbackEphemeral() {
        return defaults().withHosts("127.0.0.1", "127.0.0.1", "127.0.0.1").withPorts(0, 0);
    }

    /**
     * Reads {@code cloister.sfu.*}: defaults from this module's {@code reference.conf}, which maps
     * the {@code CLOISTER_SFU_*} environment variables onto its keys.
     */
    public static SfuConfig fromConfig(Config root) {
        Config c = root.getConfig("cloister.sfu");
        int io = c.getInt("io-threads");
        return new SfuConfig(
                c.getString("bind-host"),
                c.getString("public-host"),
                c.getInt("udp-port"),
                c.getString("control-host"),
                c.getInt("control-port"),
                c.getInt("top-n"),
                c.getInt("audio-level-ext-id"),
                io > 0 ? io : Math.max(1, Runtime.getRuntime().availableProcessors()),
                Duration.ofMillis(c.getLong("consent-timeout-ms")),
                c.getInt("speaker-floor-db"),
                c.getInt("speaker-margin-db"),
                Duration.ofMillis(c.getLong("speaker-hold-ms")),
                Duration.ofMillis(c.getLong("selection-interval-ms")),
                c.getString("control-secret"));
    }

    public SfuConfig withPorts(int udp, int control) {
        return new SfuConfig(bindHost, publicHost, udp, controlHost, control, topN, audioLevelExtId, ioThreads,
                consentTimeout, speakerFloorDb, speakerMarginDb, speakerQuietHold, selectionInterval, controlSecret);
    }

    public SfuConfig withHosts(String bind, String advertised, String control) {
        return new SfuConfig(bind, advertised, udpPort, control, controlPort, topN, audioLevelExtId, ioThreads,
                consentTimeout, speakerFloorDb, speakerMarginDb, speakerQuietHold, selectionInterval, controlSecret);
    }

    public SfuConfig withTopN(int n) {
        return new SfuConfig(bindHost, publicHost, udpPort, controlHost, controlPort, n, audioLevelExtId, ioThreads,
                consentTimeout, speakerFloorDb, speakerMarginDb, speakerQuietHold, selectionInterval, controlSecret);
    }

    public SfuConfig withIoThreads(int n) {
        return new SfuConfig(bindHost, publicHost, udpPort, controlHost, controlPort, topN, audioLevelExtId, n,
                consentTimeout, speakerFloorDb, speakerMarginDb, speakerQuietHold, selectionInterval, controlSecret);
    }

    public SfuConfig withConsentTimeout(Duration timeout) {
        return new SfuConfig(bindHost, publicHost, udpPort, controlHost, controlPort, topN, audioLevelExtId, ioThreads,
                timeout, speakerFloorDb, speakerMarginDb, speakerQuietHold, selectionInterval, controlSecret);
    }

    public SfuConfig withControlSecret(String secret) {
        return new SfuConfig(bindHost, publicHost, udpPort, controlHost, controlPort, topN, audioLevelExtId, ioThreads,
                consentTimeout, speakerFloorDb, speakerMarginDb, speakerQuietHold, selectionInterval, secret);
    }

    private static void requirePort(String name, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(name + " must be 0..65535, was " + port);
        }
    }
}
