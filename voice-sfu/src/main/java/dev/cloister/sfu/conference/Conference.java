package dev.cloister.sfu.conference;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One voice channel's set of endpoints. Membership changes (control API, cold) replace the
 * {@link #endpoints()} array under the conference's lock; the forwarding path reads the array
 * without locking.
 */
public final class Conference {

    private static final Endpoint[] NONE = new Endpoint[0];

    private final String id;
    private final Map<String, Endpoint> byId = new LinkedHashMap<>();
    private volatile Endpoint[] endpoints = NONE;
    private boolean closed;

    Conference(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** A snapshot of the members; never modified after publication. */
    public Endpoint[] endpoints() {
        return endpoints;
    }

    synchronized Endpoint endpoint(String endpointId) {
        return byId.get(endpointId);
    }

    synchronized boolean hasSsrc(int ssrc) {
        for (Endpoint e : endpoints) {
            if (e.ssrc() == ssrc) {
                return true;
            }
        }
        return false;
    }

    /** @return false if the conference was freed meanwhile or the id is taken */
    synchronized boolean add(Endpoint endpoint) {
        if (closed || byId.containsKey(endpoint.id())) {
            return false;
        }
        byId.put(endpoint.id(), endpoint);
        Endpoint[] next = Arrays.copyOf(endpoints, endpoints.length + 1);
        next[next.length - 1] = endpoint;
        endpoints = next;
        return true;
    }

    /** Removes the endpoint; when the last one leaves the conference is closed for good. */
    synchronized Endpoint remove(String endpointId) {
        Endpoint e = byId.remove(endpointId);
        if (e == null) {
            return null;
        }
        endpoints = byId.isEmpty() ? NONE : byId.values().toArray(NONE);
        if (byId.isEmpty()) {
            closed = true;
        }
        return e;
    }

    synchronized boolean isClosed() {
        return closed;
    }
}
