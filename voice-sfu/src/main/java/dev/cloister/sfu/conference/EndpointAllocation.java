package dev.cloister.sfu.conference;

/** What a client needs to reach the SFU: returned when an endpoint is allocated. */
public record EndpointAllocation(
        String endpointId,
        long ssrc,
        String iceUfrag,
        String icePwd,
        String udpHost,
        int udpPort,
        int audioLevelExtId) {
}
