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

    public List<String> conferenceIds() {
        return new ArrayList<>(conferences.keySet());
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

    /**
     * Binds (or refreshes the consent of) {@code e} at {@code from} after a valid STUN Binding Request.
     * Whichever endpoint was bound at that address before loses it; the endpoint's previous
     * address is released.
     */
    public void bind(Endpoint e, InetSocketAddress from, long nowNanos) {
        long expires = nowNanos + consentTimeoutNanos;
        synchronized (e.conference()) {
            if (e.isRemoved()) {
                return;
            }
            InetSocketAddress previous = e.address();
            if (from.equals(previous) && byAddress.get(from) == e) {
                e.refreshConsent(expires);
                return;
            }
            Endpoint displaced = byAddress.put(from, e);
            if (displaced != null && displaced != e) {
                displaced.unbind();
            }
            if (previous != null && !previous.equals(from)) {
                byAddress.remove(previous, e);
            }
            e.bind(from, expires);
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
