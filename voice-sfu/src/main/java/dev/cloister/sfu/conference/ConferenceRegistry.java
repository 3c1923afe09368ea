package dev.cloister.sfu.conference;

import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * All conferences of one SFU and the two indexes the media path needs: endpoints by ICE ufrag
 * (for STUN) and by bound UDP address (for RTP/RTCP). Control operations are cold and may lock
 * a conference; media lookups are lock-free map reads.
 */
public final class ConferenceRegistry {

    /** Conference and endpoint ids: 1..128 URL-safe characters. */
    public static final Pattern ID = Pattern.compile("[A-Za-z0-9._~-]{1,128}");
    private static final char[] ICE_CHARS =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();

    private final ConcurrentHashMap<String, Conference> conferences = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<InetSocketAddress, Endpoint> byAddress = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Endpoint> byUfrag = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final SpeakerSelector selector;
    private final int workers;
    private final long consentTimeoutNanos;
    private final int audioLevelExtId;
    private final Supplier<InetSocketAddress> advertisedAddress;

    /**
     * @param advertisedAddress the {@code udpHost}/{@code udpPort} handed to clients (known once the socket is bound)
     */
    public ConferenceRegistry(SpeakerSelector selector, int workers, long consentTimeoutNanos, int audioLevelExtId,
                              Supplier<InetSocketAddress> advertisedAddress) {
        this.selector = selector;
        this.workers = workers;
        this.consentTimeoutNanos = consentTimeoutNanos;
        this.audioLevelExtId = audioLevelExtId;
        this.advertisedAddress = advertisedAddress;
    }

    public int audioLevelExtId() {
        return audioLevelExtId;
    }

    /**
     * Allocates an endpoint with a fresh SSRC (unique in the conference) and fresh ICE credentials.
     *
     * @return empty if the conference already has an endpoint with this id
     * @throws IllegalArgumentException if an id is not valid
     */
    public Optional<EndpointAllocation> allocate(String conferenceId, String endpointId) {
        requireId("conferenceId", conferenceId);
        requireId("endpointId", endpointId);
        while (true) {
            Conference conference = conferences.computeIfAbsent(conferenceId, Conference::new);
            Endpoint endpoint;
            synchronized (conference) {
                if (conference.isClosed()) {
                    conferences.remove(conferenceId, conference);
                    continue; // freed meanwhile: make a new one
                }
                if (conference.endpoint(endpointId) != null) {
                    return Optional.empty();
                }
                int ssrc;
                do {
                    ssrc = random.nextInt();
                } while (ssrc == 0 || conference.hasSsrc(ssrc));
                String ufrag;
                do {
                    ufrag = randomIceString(8);
                } while (byUfrag.containsKey(ufrag));
                endpoint = new Endpoint(conference, endpointId, ssrc, ufrag, randomIceString(24), workers);
                if (byUfrag.putIfAbsent(ufrag, endpoint) != null) {
                    continue;
                }
                conference.add(endpoint);
            }
            InetSocketAddress advertised = advertisedAddress.get();
            return Optional.of(new EndpointAllocation(endpointId, Integer.toUnsignedLong(endpoint.ssrc()),
                    endpoint.iceUfrag(), endpoint.icePwd(), advertised.getHostString(), advertised.getPort(),
                    audioLevelExtId));
        }
    }

    /**
     * Changes an endpoint's server mute and deafen flags; a null leaves that flag as it is.
     *
     * @return the endpoint after the change, or empty if there is no such endpoint
     */
    public Optional<EndpointView> update(String conferenceId, String endpointId, Boolean serverMuted, Boolean deafened) {
        Endpoint e = find(conferenceId, endpointId);
        if (e == null) {
            return Optional.empty();
        }
        if (serverMuted != null) {
            e.serverMuted(serverMuted);
        }
        if (deafened != null) {
            e.deafened(deafened);
        }
        return Optional.of(EndpointView.of(e, System.nanoTime()));
    }

    /** Removes an endpoint and its binding; an emptied conference is freed. False if there was none. */
    public boolean remove(String conferenceId, String endpointId) {
        Conference conference = conferences.get(conferenceId);
        if (conference == null) {
            return false;
        }
        Endpoint e;
        synchronized (conference) {
            e = conference.remove(endpointId);
            if (e == null) {
                return false;
            }
            if (conference.isClosed()) {
                conferences.remove(conferenceId, conference);
            }
        }
        InetSocketAddress address = e.address();
        e.markRemoved();
        byUfrag.remove(e.iceUfrag(), e);
        if (address != null) {
            byAddress.remove(address, e);
        }
        return true;
    }

    public Optional<ConferenceView> describe(String conferenceId) {
        Conference conference = conferences.get(conferenceId);
        if (conference == null) {
            return Optional.empty();
        }
        long now = System.nanoTime();
        List<String> speakers = new ArrayList<>();
        List<EndpointView> views = new ArrayList<>();
        for (Endpoint e : conference.endpoints()) {
            if (e.isForwarded()) {
                speakers.add(e.id());
            }
            views.add(EndpointView.of(e, now));
        }
        return Optional.of(new ConferenceView(conferenceId, selector.topN(), speakers, views));
    }

    /** Whether the conference exists here (it lives from its first endpoint to its last). */
    public boolean holds(String conferenceId) {
        return conferences.containsKey(conferenceId);
    }

    /**
     * The endpoints forwarded in the conference now, loudest first; empty for an unknown one.
     * Cheaper than {@link #describe} for callers that poll it several times a second.
     */
    public List<String> speakers(String conferenceId) {
        Conference conference = conferences.get(conferenceId);
        if (conference == null) {
            return List.of();
        }
        List<Endpoint> forwarded = new ArrayList<>();
        for (Endpoint e : conference.endpoints()) {
            if (e.isForwarded()) {
                forwarded.add(e);
            }
        }
        forwarded.sort((a, b) -> Integer.compare(b.lastLoudness(), a.lastLoudness()));
        List<String> ids = new ArrayList<>(forwarded.size());
        forwarded.forEach(e -> ids.add(e.id()));
        return ids;
    }

    public List<String> conferenceIds() {
        return new ArrayList<>(conferences.keySet());
    }

    /** Endpoints over every conference (bound or not). */
    public int endpointCount() {
        int n = 0;
        for (Conference c : conferences.values()) {
            n += c.endpoints().length;
        }
        return n;
    }

    public int conferenceCount() {
        return conferences.size();
    }

    // ---- media path ----

    /** The endpoint bound to this UDP address, or null. Lock-free and allocation-free. */
    public Endpoint endpointAt(InetSocketAddress address) {
        return byAddress.get(address);
    }

    /** The endpoint whose ICE ufrag this is, or null. */
    public Endpoint endpointByUfrag(String ufrag) {
        return byUfrag.get(ufrag);
    }

    /** How long a live binding's address must have been silent before a request from elsewhere moves it. */
    static final long MOVE_QUIET_NANOS = 2_000_000_000L;

    /** What a valid Binding Request did to its endpoint's binding. */
    public enum BindResult {
        /** Bound, moved or refreshed: answer it. */
        BOUND,
        /** A retransmission (or the bound address presenting a request seen elsewhere): answer, change nothing. */
        RETRANSMISSION,
        /** A request already seen from another address: someone replays it; drop it unanswered. */
        REPLAYED,
        /** A fresh request from a new address while the binding is alive: one more from there moves it. */
        MOVE_PENDING
    }

    /**
     * Binds (or refreshes the consent of) {@code e} at {@code from} after a valid STUN Binding Request whose
     * 12-byte transaction ID starts at {@code txOffset} of {@code message}. Whichever endpoint was bound at that
     * address before loses it; the endpoint's previous address is released.
     *
     * <p>MESSAGE-INTEGRITY proves who made a request, not where it comes from: anyone who sees one can send it
     * again from elsewhere. So a transaction ID binds once (the last 64 are remembered), and a live binding moves
     * only when two fresh requests in a row come from the new address while the bound one has been silent (no RTP,
     * no valid request) for two seconds: the owner moved (a NAT rebinding, a new network). A replayer cannot make
     * the owner fall silent, so clients must send media or a consent request at least every 2 s while they stay.
     */
    public BindResult bind(Endpoint e, InetSocketAddress from, byte[] message, int txOffset, long nowNanos) {
        long high = 0;
        for (int i = 0; i < 8; i++) {
            high = (high << 8) | (message[txOffset + i] & 0xFF);
        }
        int low = ((message[txOffset + 8] & 0xFF) << 24) | ((message[txOffset + 9] & 0xFF) << 16)
                | ((message[txOffset + 10] & 0xFF) << 8) | (message[txOffset + 11] & 0xFF);
        long expires = nowNanos + consentTimeoutNanos;
        synchronized (e.conference()) {
            if (e.isRemoved()) {
                return BindResult.REPLAYED;
            }
            InetSocketAddress current = e.address();
            boolean live = current != null && nowNanos - e.consentExpiresNanos() < 0;
            InetSocketAddress seenFrom = e.transactionSeenFrom(high, low);
            if (seenFrom != null) {
                if (seenFrom.equals(from)) {
                    return BindResult.RETRANSMISSION;
                }
                if (live && from.equals(current)) {
                    // Someone raced the owner's own request from elsewhere; the owner is still here.
                    e.moveCandidate = null;
                    e.lastStunNanos = nowNanos;
                    e.refreshConsent(expires);
                    return BindResult.RETRANSMISSION;
                }
                return BindResult.REPLAYED;
            }
            e.rememberTransaction(high, low, from);
            if (live && !from.equals(current)) {
                boolean quiet = nowNanos - e.lastHeardNanos() >= MOVE_QUIET_NANOS;
                if (!from.equals(e.moveCandidate) || !quiet) {
                    e.moveCandidate = from;
                    return BindResult.MOVE_PENDING;
                }
            }
            e.moveCandidate = null;
            e.lastStunNanos = nowNanos;
            if (from.equals(current) && byAddress.get(from) == e) {
                e.refreshConsent(expires);
                return BindResult.BOUND;
            }
            Endpoint displaced = byAddress.put(from, e);
            if (displaced != null && displaced != e) {
                displaced.unbind();
            }
            if (current != null && !current.equals(from)) {
                byAddress.remove(current, e);
            }
            e.bind(from, expires);
            return BindResult.BOUND;
        }
    }

    /** Periodic work: re-selects every conference's speakers. */
    public void selectSpeakers(long nowNanos) {
        for (Conference c : conferences.values()) {
            selector.select(c, nowNanos);
        }
    }

    /**
     * Periodic work: forgets bindings whose consent expired. (The media path already ignores them;
     * this only keeps the address index small.)
     */
    public void expireBindings(long nowNanos) {
        byAddress.forEach((address, e) -> {
            if (nowNanos - e.consentExpiresNanos() >= 0 || e.isRemoved()) {
                synchronized (e.conference()) {
                    boolean stale = nowNanos - e.consentExpiresNanos() >= 0 || e.isRemoved();
                    if (stale && byAddress.remove(address, e) && address.equals(e.address())) {
                        e.unbind();
                    }
                }
            }
        });
    }

    private Endpoint find(String conferenceId, String endpointId) {
        Conference conference = conferences.get(conferenceId);
        return conference == null ? null : conference.endpoint(endpointId);
    }

    private String randomIceString(int length) {
        char[] c = new char[length];
        for (int i = 0; i < length; i++) {
            c[i] = ICE_CHARS[random.nextInt(ICE_CHARS.length)];
        }
        return new String(c);
    }

    private static void requireId(String name, String id) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException(name + " must be 1..128 characters of [A-Za-z0-9._~-]");
        }
    }
}
