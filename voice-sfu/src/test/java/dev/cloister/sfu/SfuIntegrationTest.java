package dev.cloister.sfu;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.sfu.rtp.RtpPacket;
import dev.cloister.sfu.stun.StunMessage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The SFU over real loopback UDP and HTTP, driven as a client written from the README would drive it. */
class SfuIntegrationTest {

    private static SelectiveForwardingUnit sfu;
    private static ControlClient control;
    private final List<TestClient> clients = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        sfu = new SelectiveForwardingUnit(SfuConfig.loopbackEphemeral().withTopN(3).withIoThreads(2)).start();
        control = new ControlClient(sfu.controlPort());
    }

    @AfterAll
    static void stop() {
        sfu.close();
    }

    @AfterEach
    void closeClients() {
        clients.forEach(TestClient::close);
    }

    private TestClient join(String conference, String endpoint) throws Exception {
        TestClient c = new TestClient(control.allocate(conference, endpoint));
        clients.add(c);
        return c;
    }

    private TestClient joinAndBind(String conference, String endpoint) throws Exception {
        TestClient c = join(conference, endpoint);
        StunMessage response = c.bind();
        assertThat(response).isNotNull();
        assertThat(response.messageType()).isEqualTo(StunMessage.BINDING_SUCCESS_RESPONSE);
        return c;
    }

    /** Each client in {@code levels} sends one packet every 20 ms for {@code millis}. */
    private static void talk(Map<TestClient, Integer> levels, long millis) throws Exception {
        try (Talking talking = new Talking(levels)) {
            Thread.sleep(millis);
        }
    }

    /** Lets selection settle, then returns the SSRCs each listener heard during a second talk period. */
    private static Map<TestClient, Set<Integer>> heard(Map<TestClient, Integer> levels, List<TestClient> listeners)
            throws Exception {
        try (Talking talking = new Talking(levels)) {
            return heardWhileTalking(listeners);
        }
    }

    /**
     * {@link #heard} while a {@link Talking} goes on. Nobody pauses between the two periods: a pause longer than
     * the speakers' quiet hold would be a new start, not the state the first period settled.
     */
    private static Map<TestClient, Set<Integer>> heardWhileTalking(List<TestClient> listeners) throws Exception {
        Thread.sleep(400);
        for (TestClient l : listeners) {
            l.drain();
        }
        Thread.sleep(400);
        Map<TestClient, Set<Integer>> out = new LinkedHashMap<>();
        for (TestClient l : listeners) {
            out.put(l, TestClient.rtpSsrcs(l.receiveFor(150)));
        }
        return out;
    }

    /** Each client in the levels sends one packet every 20 ms from a thread of its own, until closed. */
    private static final class Talking implements AutoCloseable {

        private volatile Map<TestClient, Integer> levels;
        private volatile boolean stopped;
        private volatile Exception failure;
        private final Thread sender;

        Talking(Map<TestClient, Integer> levels) {
            this.levels = levels;
            this.sender = new Thread(this::run, "test-talking");
            sender.setDaemon(true);
            sender.start();
        }

        /** From the next 20 ms on, the clients talk at these levels instead. */
        void levels(Map<TestClient, Integer> next) {
            levels = next;
        }

        private void run() {
            long next = System.nanoTime();
            try {
                while (!stopped) {
                    for (Map.Entry<TestClient, Integer> e : levels.entrySet()) {
                        e.getKey().sendAudio(e.getValue());
                    }
                    next += 20_000_000L;
                    long sleep = (next - System.nanoTime()) / 1_000_000L;
                    if (sleep > 0) {
                        Thread.sleep(sleep);
                    }
                }
            } catch (Exception e) {
                failure = e;
            }
        }

        @Override
        public void close() throws Exception {
            stopped = true;
            sender.join();
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** The conference's speakers once they are {@code expected} (within 5 s), for state a test builds on. */
    private static void awaitSpeakers(String conference, String... expected) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        List<String> speakers = speakers(conference);
        while (!Set.copyOf(speakers).equals(Set.of(expected)) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            speakers = speakers(conference);
        }
        assertThat(speakers).as("speakers of %s", conference).containsExactlyInAnyOrder(expected);
    }

    private static List<String> speakers(String conference) throws Exception {
        List<String> speakers = new ArrayList<>();
        control.conference(conference).body().get("speakers").forEach(s -> speakers.add(s.asText()));
        return speakers;
    }

    /** The stat once it reached {@code atLeast} (within 5 s): the SFU counts datagrams as its workers get to them. */
    private static long awaitStat(String name, long atLeast) throws Exception {
        long deadline = System.nanoTime() + 5_000_000_000L;
        long value = stat(name);
        while (value < atLeast && System.nanoTime() < deadline) {
            Thread.sleep(20);
            value = stat(name);
        }
        return value;
    }

    private static Set<Integer> ssrcs(TestClient... cs) {
        Set<Integer> s = new HashSet<>();
        for (TestClient c : cs) {
            s.add(c.ssrc());
        }
        return s;
    }

    private static Map<TestClient, Integer> levels(Object... clientLevelPairs) {
        Map<TestClient, Integer> m = new LinkedHashMap<>();
        for (int i = 0; i < clientLevelPairs.length; i += 2) {
            m.put((TestClient) clientLevelPairs[i], (Integer) clientLevelPairs[i + 1]);
        }
        return m;
    }

    private static long stat(String name) throws Exception {
        return control.stats().get(name).asLong();
    }

    @Test
    void bindingWithGoodCredentialsIsAnsweredWithTheMappedAddressAndIntegrity() throws Exception {
        TestClient a = join("bind", "a");
        StunMessage response = a.bind();
        assertThat(response).isNotNull();
        assertThat(response.messageType()).isEqualTo(StunMessage.BINDING_SUCCESS_RESPONSE);
        assertThat(response.xorMappedAddress()).isEqualTo(a.localAddress());
        assertThat(response.verifyFingerprint()).isTrue();
        assertThat(response.verifyMessageIntegrity(TestClient.hmac(a.allocation.icePwd()))).isTrue();
        assertThat(response.verifyMessageIntegrity(TestClient.hmac("not-the-password-at-all"))).isFalse();
        JsonNode view = control.endpoint("bind", "a");
        assertThat(view.get("bound").asBoolean()).isTrue();
        assertThat(view.get("address").asText()).isEqualTo("127.0.0.1:" + a.localAddress().getPort());
    }

    @Test
    void bindingWithBadCredentialsIsRefusedAndBindsNothing() throws Exception {
        TestClient a = join("badbind", "a");
        TestClient l = joinAndBind("badbind", "l");
        String ufrag = a.allocation.iceUfrag();

        StunMessage wrongPassword = a.stun(TestClient.bindingRequest(ufrag + ":x", "wrong-password-wrong-pwd", true, true));
        assertThat(wrongPassword.messageType()).isEqualTo(StunMessage.BINDING_ERROR_RESPONSE);
        assertThat(wrongPassword.errorCode()).isEqualTo(401);
        assertThat(wrongPassword.hasMessageIntegrity()).isFalse();

        StunMessage unknownUfrag = a.stun(TestClient.bindingRequest("nobody:x", a.allocation.icePwd(), true, true));
        assertThat(unknownUfrag.errorCode()).isEqualTo(401);

        StunMessage noColon = a.stun(TestClient.bindingRequest(ufrag, a.allocation.icePwd(), true, true));
        assertThat(noColon.errorCode()).isEqualTo(401);

        StunMessage noIntegrity = a.stun(TestClient.bindingRequest(ufrag + ":x", a.allocation.icePwd(), false, true));
        assertThat(noIntegrity.errorCode()).isEqualTo(400);

        // Without FINGERPRINT the datagram is not taken for STUN at all: no answer.
        assertThat(a.stun(TestClient.bindingRequest(ufrag + ":x", a.allocation.icePwd(), true, false))).isNull();

        assertThat(control.endpoint("badbind", "a").get("bound").asBoolean()).isFalse();
        long unboundBefore = stat("droppedUnbound");
        for (int i = 0; i < 10; i++) {
            a.sendAudio(10);
            Thread.sleep(20);
        }
        assertThat(awaitStat("droppedUnbound", unboundBefore + 10)).isGreaterThanOrEqualTo(unboundBefore + 10);
        assertThat(TestClient.rtpSsrcs(l.receiveFor(100))).isEmpty();
        assertThat(control.endpoint("badbind", "a").get("packetsIn").asLong()).isZero();
    }

    @Test
    void everyoneHearsExactlyTheLoudestThreeOthersByteForByte() throws Exception {
        TestClient a = joinAndBind("topn", "a");
        TestClient b = joinAndBind("topn", "b");
        TestClient c = joinAndBind("topn", "c");
        TestClient d = joinAndBind("topn", "d");
        TestClient e = joinAndBind("topn", "e");
        TestClient l = joinAndBind("topn", "l");
        Map<TestClient, Integer> levels = levels(a, 10, b, 20, c, 30, d, 60, e, RtpPacket.NO_AUDIO_LEVEL);

        Map<TestClient, Set<Integer>> heard;
        List<String> speakers;
        try (Talking talking = new Talking(levels)) {
            heard = heardWhileTalking(List.of(a, b, c, d, e, l));
            speakers = speakers("topn"); // while they talk: once they stop, speakers only wait out the quiet hold
        }
        assertThat(heard.get(l)).isEqualTo(ssrcs(a, b, c));
        assertThat(heard.get(d)).isEqualTo(ssrcs(a, b, c));
        assertThat(heard.get(e)).isEqualTo(ssrcs(a, b, c));
        assertThat(heard.get(a)).isEqualTo(ssrcs(b, c)); // no echo
        assertThat(heard.get(b)).isEqualTo(ssrcs(a, c));
        assertThat(speakers).containsExactlyInAnyOrder("a", "b", "c");

        // What arrives is exactly what was sent, header and payload.
        a.sendAudio(10);
        byte[] sent = a.sentRtp.get(a.sentRtp.size() - 1);
        List<byte[]> received = l.receiveFor(300);
        assertThat(received).anySatisfy(r -> assertThat(r).isEqualTo(sent));
    }

    @Test
    void aLargeConferencesFanOutIsSplitOverTheWorkersAndReachesEveryListenerOnceInOrder() throws Exception {
        // 70 endpoints: above the size (64) from which one packet's fan-out is cut into a slice per worker.
        List<TestClient> members = new ArrayList<>();
        for (int i = 0; i < 70; i++) {
            members.add(joinAndBind("large", "m" + i));
        }
        TestClient speaker = members.get(0);
        try (Talking talking = new Talking(levels(speaker, 10))) {
            awaitSpeakers("large", "m0");
        }
        JsonNode before = control.stats().get("forwardedByWorker");
        int first = speaker.sentRtp.size();
        talk(levels(speaker, 10), 200);
        List<byte[]> sent = speaker.sentRtp.subList(first, speaker.sentRtp.size());
        assertThat(sent).hasSizeGreaterThan(5);
        for (TestClient listener : members.subList(1, members.size())) {
            // Until the window's last packet is in (the SFU forwards it when it gets to it), then what is queued.
            byte[] last = sent.get(sent.size() - 1);
            List<byte[]> got = listener.receiveUntil(r -> r.stream().anyMatch(g -> Arrays.equals(g, last)), 5_000);
            // Exactly the speaker's packets (a few from before the window), the window's ones each once, in order.
            assertThat(got).as("what %s heard", listener.allocation.endpointId())
                    .usingElementComparator(Arrays::compare).isSubsetOf(speaker.sentRtp);
            List<byte[]> window = got.stream().filter(g -> sent.stream().anyMatch(x -> Arrays.equals(x, g))).toList();
            assertThat(window).as("what %s heard while measured", listener.allocation.endpointId())
                    .usingElementComparator(Arrays::compare).containsExactlyElementsOf(sent);
        }
        assertThat(speaker.receiveFor(50)).as("no echo").isEmpty();
        JsonNode after = control.stats().get("forwardedByWorker");
        assertThat(after.size()).isEqualTo(2);
        for (int w = 0; w < 2; w++) {
            assertThat(after.get(w).asLong() - before.get(w).asLong())
                    .as("copies sent by worker %d", w).isGreaterThanOrEqualTo(sent.size() * 30L);
        }
    }

    @Test
    void hysteresisKeepsSpeakersUntilSomeoneIsClearlyLouder() throws Exception {
        TestClient a = joinAndBind("hyst", "a");
        TestClient b = joinAndBind("hyst", "b");
        TestClient c = joinAndBind("hyst", "c");
        TestClient d = joinAndBind("hyst", "d");
        TestClient l = joinAndBind("hyst", "l");
        try (Talking talking = new Talking(levels(a, 30, b, 32, c, 34))) {
            awaitSpeakers("hyst", "a", "b", "c");
            // d is 4 dB louder than c, inside the 8 dB margin: the speakers stay a, b, c.
            talking.levels(levels(a, 30, b, 32, c, 34, d, 30));
            assertThat(heardWhileTalking(List.of(l)).get(l)).isEqualTo(ssrcs(a, b, c));
            // d becomes 29 dB louder than c: it takes c's slot.
            talking.levels(levels(a, 30, b, 32, c, 34, d, 5));
            assertThat(heardWhileTalking(List.of(l)).get(l)).isEqualTo(ssrcs(a, b, d));
        }
    }

    @Test
    void serverMutedEndpointsAreNeverForwarded() throws Exception {
        TestClient a = joinAndBind("mute", "a");
        TestClient b = joinAndBind("mute", "b");
        TestClient l = joinAndBind("mute", "l");
        Map<TestClient, Integer> levels = levels(a, 10, b, 20);
        assertThat(heard(levels, List.of(l)).get(l)).isEqualTo(ssrcs(a, b));

        ControlClient.Reply muted = control.patch("mute", "a", "{\"serverMuted\":true}");
        assertThat(muted.status()).isEqualTo(200);
        assertThat(muted.body().get("serverMuted").asBoolean()).isTrue();
        assertThat(heard(levels, List.of(l)).get(l)).isEqualTo(ssrcs(b));
        assertThat(control.endpoint("mute", "a").get("speaker").asBoolean()).isFalse();

        assertThat(control.patch("mute", "a", "{\"serverMuted\":false}").status()).isEqualTo(200);
        assertThat(heard(levels, List.of(l)).get(l)).isEqualTo(ssrcs(a, b));
    }

    @Test
    void deafenedEndpointsReceiveNothingButStillSpeak() throws Exception {
        TestClient a = joinAndBind("deaf", "a");
        TestClient b = joinAndBind("deaf", "b");
        TestClient l = joinAndBind("deaf", "l");
        Map<TestClient, Integer> levels = levels(a, 10, b, 20);
        assertThat(control.patch("deaf", "a", "{\"deafened\":true}").status()).isEqualTo(200);
        Map<TestClient, Set<Integer>> heard = heard(levels, List.of(a, b, l));
        assertThat(heard.get(a)).isEmpty();
        assertThat(heard.get(b)).isEqualTo(ssrcs(a));
        assertThat(heard.get(l)).isEqualTo(ssrcs(a, b));

        assertThat(control.patch("deaf", "a", "{\"deafened\":false}").status()).isEqualTo(200);
        assertThat(heard(levels, List.of(a)).get(a)).isEqualTo(ssrcs(b));
    }

    @Test
    void removedEndpointsNeitherSendNorReceiveAndAnEmptyConferenceIsFreed() throws Exception {
        TestClient a = joinAndBind("leave", "a");
        TestClient b = joinAndBind("leave", "b");
        TestClient l = joinAndBind("leave", "l");
        Map<TestClient, Integer> levels = levels(a, 10, b, 20);
        assertThat(heard(levels, List.of(l)).get(l)).isEqualTo(ssrcs(a, b));

        assertThat(control.delete("leave", "a").status()).isEqualTo(204);
        assertThat(control.delete("leave", "a").status()).isEqualTo(404);
        Map<TestClient, Set<Integer>> heard = heard(levels, List.of(a, l));
        assertThat(heard.get(l)).isEqualTo(ssrcs(b));
        assertThat(heard.get(a)).isEmpty();
        // Its credentials are gone too.
        assertThat(a.bind().errorCode()).isEqualTo(401);

        assertThat(control.delete("leave", "b").status()).isEqualTo(204);
        assertThat(control.delete("leave", "l").status()).isEqualTo(204);
        assertThat(control.conference("leave").status()).isEqualTo(404);
    }

    @Test
    void spoofedAndMalformedTrafficIsDroppedWithoutHarmToOthers() throws Exception {
        TestClient a = joinAndBind("spoof", "a");
        TestClient b = joinAndBind("spoof", "b");
        TestClient l = joinAndBind("spoof", "l");
        TestClient mallory = new TestClient(a.allocation); // a's credentials known, but never bound
        clients.add(mallory);
        talk(levels(a, 10, b, 20), 300);

        long foreignBefore = stat("droppedForeignSsrc");
        long unboundBefore = stat("droppedUnbound");
        long malformedBefore = stat("droppedMalformed");
        l.drain();
        // b is bound but claims a's SSRC; mallory sends from an unbound address.
        for (int i = 0; i < 20; i++) {
            b.sendAudio(0, a.ssrc());
            mallory.sendAudio(0);
            a.sendAudio(10);
        }
        Random random = new Random(1);
        int malformed = 0;
        for (byte[] bad : malformedDatagrams(random, b.ssrc())) {
            b.send(bad);
            malformed++;
        }
        List<byte[]> received = l.receiveFor(300);
        Set<ByteBuffer> forged = new HashSet<>();
        b.sentRtp.subList(b.sentRtp.size() - 20, b.sentRtp.size()).forEach(p -> forged.add(ByteBuffer.wrap(p)));
        mallory.sentRtp.forEach(p -> forged.add(ByteBuffer.wrap(p)));
        assertThat(received).noneMatch(r -> forged.contains(ByteBuffer.wrap(r)));
        assertThat(received.stream().filter(r -> TestClient.rtpSsrcs(List.of(r)).contains(a.ssrc())).count())
                .isEqualTo(20);

        // Each I/O worker counts as it reads: the worker that read the forged datagrams may not have
        // reached them when l has heard a's (CI once read 0 here).
        assertThat(awaitStat("droppedForeignSsrc", foreignBefore + 20))
                .isGreaterThanOrEqualTo(foreignBefore + 20);
        assertThat(awaitStat("droppedUnbound", unboundBefore + 20))
                .isGreaterThanOrEqualTo(unboundBefore + 20);
        assertThat(awaitStat("droppedMalformed", malformedBefore + malformed))
                .isGreaterThanOrEqualTo(malformedBefore + malformed);

        // Everyone is still served.
        assertThat(heard(levels(a, 10, b, 20), List.of(l)).get(l)).isEqualTo(ssrcs(a, b));
    }

    private static List<byte[]> malformedDatagrams(Random random, int ssrc) {
        List<byte[]> out = new ArrayList<>();
        out.add(new byte[] {(byte) 0x80}); // a lone byte
        byte[] csrcs = new byte[20];
        csrcs[0] = (byte) 0x8F; // claims 15 CSRCs
        out.add(csrcs);
        byte[] ext = new byte[24];
        ext[0] = (byte) 0x90;
        ext[8] = (byte) (ssrc >>> 24);
        ext[9] = (byte) (ssrc >>> 16);
        ext[10] = (byte) (ssrc >>> 8);
        ext[11] = (byte) ssrc;
        ext[12] = (byte) 0xBE;
        ext[13] = (byte) 0xDE;
        ext[14] = (byte) 0x7F; // extension longer than the datagram
        out.add(ext);
        byte[] stunLie = TestClient.bindingRequest("x:y", "password-password-pass", true, true);
        stunLie[3] = (byte) 0xFC; // STUN length beyond the datagram
        out.add(stunLie);
        for (int i = 0; i < 100; i++) {
            byte[] junk = new byte[1 + random.nextInt(1400)];
            random.nextBytes(junk);
            junk[0] = (byte) (random.nextBoolean() ? 0x40 | (junk[0] & 0x3F) : 0x02); // neither RTP nor valid STUN
            out.add(junk);
        }
        out.add(new byte[1800]); // zeros: STUN-looking first byte, no cookie
        return out;
    }

    @Test
    void statisticsCountPacketsBytesLossAndReports() throws Exception {
        TestClient s = joinAndBind("stats", "s");
        TestClient l = joinAndBind("stats", "l");
        long sentBytes = 0;
        int sent = 0;
        for (int i = 0; i < 50; i++) {
            if (i == 10 || i == 30) {
                s.skip(1); // lost on the way to the SFU
                continue;
            }
            s.sendAudio(15);
            sentBytes += s.sentRtp.get(s.sentRtp.size() - 1).length;
            sent++;
            Thread.sleep(20);
        }
        List<byte[]> received = l.receiveFor(300);
        long receivedBytes = received.stream().mapToLong(r -> r.length).sum();
        l.sendReceiverReport(s.ssrc(), 64, 7, 480);
        Thread.sleep(200);

        JsonNode sv = control.endpoint("stats", "s");
        assertThat(sv.get("packetsIn").asLong()).isEqualTo(sent);
        assertThat(sv.get("bytesIn").asLong()).isEqualTo(sentBytes);
        assertThat(sv.get("inbound").get("expected").asLong()).isEqualTo(sent + 2);
        assertThat(sv.get("inbound").get("lost").asLong()).isEqualTo(2);
        assertThat(sv.get("inbound").get("jitterMs").asDouble()).isGreaterThanOrEqualTo(0.0);
        assertThat(sv.get("packetsOut").asLong()).isZero();

        JsonNode lv = control.endpoint("stats", "l");
        assertThat(received.size()).isGreaterThan(sent / 2); // the first packet or two precede selection
        assertThat(lv.get("packetsOut").asLong()).isEqualTo(received.size());
        assertThat(lv.get("bytesOut").asLong()).isEqualTo(receivedBytes);
        assertThat(lv.get("reported").get("reports").asLong()).isEqualTo(1);
        assertThat(lv.get("reported").get("fractionLost").asDouble()).isEqualTo(0.25);
        assertThat(lv.get("reported").get("cumulativeLost").asLong()).isEqualTo(7);
        assertThat(lv.get("reported").get("jitterMs").asDouble()).isEqualTo(10.0);
    }

    @Test
    void aReceiverReportClaimingAnotherSsrcIsDropped() throws Exception {
        TestClient a = joinAndBind("rtcpspoof", "a");
        TestClient b = joinAndBind("rtcpspoof", "b");
        byte[] out = new byte[64];
        int n = dev.cloister.sfu.rtp.RtcpPacket.writeReceiverReport(out, a.ssrc(), b.ssrc(), 255, 100, 1, 1);
        b.send(Arrays.copyOf(out, n));
        Thread.sleep(200);
        assertThat(control.endpoint("rtcpspoof", "a").get("reported").get("reports").asLong()).isZero();
        assertThat(control.endpoint("rtcpspoof", "b").get("reported").get("reports").asLong()).isZero();
    }

    @Test
    void aReplayedBindingRequestNeverMovesTheBinding() throws Exception {
        TestClient a = join("replay", "a");
        TestClient l = joinAndBind("replay", "l");
        byte[] first = TestClient.bindingRequest(a.allocation.iceUfrag() + ":client", a.allocation.icePwd(), true, true);
        byte[] second = TestClient.bindingRequest(a.allocation.iceUfrag() + ":client", a.allocation.icePwd(), true, true);
        assertThat(a.stun(first)).isNotNull();
        assertThat(a.stun(second)).isNotNull();
        long replayedBefore = stat("stunReplayed");

        // An observer sends the owner's requests again from its own address, however often.
        TestClient thief = new TestClient(a.allocation);
        clients.add(thief);
        thief.send(first);
        thief.send(second);
        thief.send(first);
        assertThat(thief.stun(second)).as("a replay is not answered").isNull();
        assertThat(control.endpoint("replay", "a").get("address").asText())
                .isEqualTo("127.0.0.1:" + a.localAddress().getPort());
        assertThat(stat("stunReplayed") - replayedBefore).isEqualTo(4);

        // Media still goes to the owner, none to the observer.
        Map<TestClient, Set<Integer>> heard = heard(levels(l, 20), List.of(a, thief));
        assertThat(heard.get(a)).contains(l.ssrc());
        assertThat(heard.get(thief)).isEmpty();
        // The owner's own retransmission is answered.
        assertThat(a.stun(second)).isNotNull();
    }

    @Test
    void theOwnerMovesItsBindingOnceItsOldAddressFellSilent() throws Exception {
        TestClient a = joinAndBind("move", "a");
        TestClient moved = new TestClient(a.allocation); // the same client on a new network
        clients.add(moved);
        assertThat(moved.bind()).as("answered, but not moved yet").isNotNull();
        assertThat(moved.bind()).isNotNull();
        assertThat(control.endpoint("move", "a").get("address").asText())
                .as("the old address spoke within 2 s").isEqualTo("127.0.0.1:" + a.localAddress().getPort());
        Thread.sleep(2_100); // the old address falls silent (the owner left that network)
        assertThat(moved.bind()).isNotNull();
        assertThat(control.endpoint("move", "a").get("address").asText())
                .isEqualTo("127.0.0.1:" + moved.localAddress().getPort());
    }
}
