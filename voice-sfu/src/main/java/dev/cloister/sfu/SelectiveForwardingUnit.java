package dev.cloister.sfu;

import dev.cloister.sfu.conference.ConferenceRegistry;
import dev.cloister.sfu.conference.SpeakerSelector;
import dev.cloister.sfu.control.ControlApi;
import dev.cloister.sfu.media.MediaCounters;
import dev.cloister.sfu.media.UdpTransport;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A complete SFU: UDP media transport, conference registry, periodic speaker selection and the
 * HTTP control API. Construct with a {@link SfuConfig}, {@link #start()}, {@link #close()}.
 * Embedders may skip HTTP and call {@link #conferences()} directly.
 */
public final class SelectiveForwardingUnit implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SelectiveForwardingUnit.class);

    /** An endpoint not heard from for this long counts as silent (DTX senders still send every 400 ms). */
    private static final long SILENT_AFTER_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private final SfuConfig config;
    private final ConferenceRegistry registry;
    private volatile UdpTransport transport;
    private ControlApi control;
    private ScheduledExecutorService timer;
    private boolean started;
    private boolean closed;

    public SelectiveForwardingUnit(SfuConfig config) {
        this.config = config;
        SpeakerSelector selector = new SpeakerSelector(config.topN(), config.speakerFloorDb(),
                config.speakerMarginDb(), SILENT_AFTER_NANOS,
                config.speakerQuietHold().toNanos());
        this.registry = new ConferenceRegistry(selector, config.ioThreads(), config.consentTimeout().toNanos(),
                config.audioLevelExtId(), this::advertisedAddress);
    }

    /** Binds the UDP and HTTP ports and starts speaker selection. */
    public synchronized SelectiveForwardingUnit start() throws IOException, InterruptedException {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        try {
            transport = UdpTransport.bind(registry, config.bindHost(), config.udpPort(), config.ioThreads());
            timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "sfu-speaker-selection");
                t.setDaemon(true);
                return t;
            });
            long interval = config.selectionInterval().toNanos();
            timer.scheduleAtFixedRate(this::selectSpeakers, interval, interval, TimeUnit.NANOSECONDS);
            timer.scheduleAtFixedRate(this::expireBindings, 1, 1, TimeUnit.SECONDS);
            control = ControlApi.start(registry, this::stats, config.controlHost(), config.controlPort(),
                    config.controlSecret());
        } catch (IOException | InterruptedException | RuntimeException e) {
            close();
            throw e;
        }
        return this;
    }

    private void selectSpeakers() {
        try {
            registry.selectSpeakers(System.nanoTime());
        } catch (RuntimeException e) {
            log.error("speaker selection failed", e); // keep the schedule alive
        }
    }

    private void expireBindings() {
        try {
            registry.expireBindings(System.nanoTime());
        } catch (RuntimeException e) {
            log.error("binding expiry failed", e);
        }
    }

    public SfuConfig config() {
        return config;
    }

    public ConferenceRegistry conferences() {
        return registry;
    }

    /** The bound UDP media address (the actual port when configured with 0). */
    public InetSocketAddress udpAddress() {
        return transport.localAddress();
    }

    public int udpPort() {
        return transport.localAddress().getPort();
    }

    public int controlPort() {
        return control.port();
    }

    /** What clients are told to send to: the public host and the bound UDP port. */
    public InetSocketAddress advertisedAddress() {
        return InetSocketAddress.createUnresolved(config.publicHost(), udpPort());
    }

    /** Transport-wide datagram counters plus a few gauges. */
    public Map<String, Object> stats() {
        Map<String, Object> out = new LinkedHashMap<>();
        UdpTransport t = transport;
        out.put("conferences", registry.conferenceCount());
        if (t != null) {
            out.put("ioWorkers", t.workers());
            out.put("transport", t.usesEpoll() ? "epoll" : "nio");
            out.putAll(MediaCounters.sum(t.counters()));
            out.put("forwardedByWorker", t.counters().stream().map(c -> c.get(MediaCounters.Kind.FORWARDED)).toList());
        }
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            out.put("processCpuMillis", os.getProcessCpuTime() / 1_000_000L); // CPU used by this JVM, all threads
        }
        return out;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (control != null) {
            control.close();
        }
        if (timer != null) {
            timer.shutdownNow();
        }
        if (transport != null) {
            transport.close();
        }
        log.info("SFU stopped");
    }
}
