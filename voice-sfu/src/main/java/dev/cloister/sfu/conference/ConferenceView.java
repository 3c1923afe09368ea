package dev.cloister.sfu.conference;

import java.util.List;

/** A point-in-time view of one conference for the control API. */
public record ConferenceView(String conferenceId, int topN, List<String> speakers, List<EndpointView> endpoints) {
}
