package dev.cloister.sfu.conference;

/**
 * A point-in-time view of one endpoint for the control API.
 *
 * @param inbound  what the SFU measured on the RTP the endpoint sent (RFC 3550 A.3, A.8)
 * @param reported what the endpoint said, in its last RTCP reception report, about what it receives
 */
public record EndpointView(
        String endpointId,
        long ssrc,
        boolean bound,
        String address,
        boolean serverMuted,
        boolean deafened,
        boolean speaker,
        int audioLevelDb,
        long packetsIn,
        long bytesIn,
        long packetsOut,
        long bytesOut,
        Inbound inbound,
        Reported reported) {

    public record Inbound(long expected, long lost, double lossRatio, double jitterMs) {
    }

    /** {@code fractionLost} is null until a report arrives. */
    public record Reported(long reports, Double fractionLost, long cumulativeLost, double jitterMs) {
    }

    static EndpointView of(Endpoint e, long nowNanos) {
        ReceptionStatistics r = e.reception();
        long expected = r.expected();
        long lost = r.lost();
        var address = e.hasConsent(nowNanos) ? e.address() : null;
        int fraction = e.reportedFractionLost();
        return new EndpointView(
                e.id(),
                Integer.toUnsignedLong(e.ssrc()),
                address != null,
                address == null ? null : address.getAddress().getHostAddress() + ":" + address.getPort(),
                e.isServerMuted(),
                e.isDeafened(),
                e.isSpeaker(),
                e.lastLoudness(),
                e.packetsIn(),
                e.bytesIn(),
                e.forwarded().packets(),
                e.forwarded().bytes(),
                new Inbound(expected, lost, expected == 0 ? 0.0 : (double) lost / expected, r.jitterMillis()),
                new Reported(e.rtcpPacketsIn(), fraction < 0 ? null : fraction / 256.0,
                        e.reportedCumulativeLost(), e.reportedJitter() / 48.0));
    }
}
