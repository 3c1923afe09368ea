package dev.cloister.mls.bench;

import dev.cloister.mls.sframe.MlsSFrameKeys;
import dev.cloister.mls.sframe.SFrameCipherSuite;
import dev.cloister.mls.sframe.SFrameContext;
import dev.cloister.mls.sframe.SFrameHeader;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.profile.LinuxPerfNormProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * What a receiver ({@link MlsSFrameKeys#unprotect}, as the voice engine calls it) pays per 160-byte
 * frame, genuine or forged, in one run:
 * <ul>
 *   <li>{@code genuine}: a frame of a sender whose key this receiver already holds;</li>
 *   <li>{@code forgedKnownKid}: a frame under that same KID with a wrong tag (fails authentication);</li>
 *   <li>{@code forgedNewKid}: a frame under a KID the receiver has never seen, a new one each time,
 *       in the current epoch and naming a sender that may exist: what one participant sending through
 *       the SFU can make every receiver do. It fails authentication (the key is derived to check it).</li>
 * </ul>
 * {@code main} prints ns per frame (wall, and perf's task-clock CPU where perf works), B/op, and
 * each forged case as a multiple of a genuine frame:
 * {@code mvn -B -q -pl mls-groups -am install -DskipTests && mvn -B -q -pl mls-groups -Pbench test-compile exec:exec
 * -Dbench.main=dev.cloister.mls.bench.ForgedKidBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
// Under load the JIT needs several seconds for the forged-KID path (JDK HMAC, AES key schedule).
@Warmup(iterations = 10, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ForgedKidBenchmark {
    private static final int FRAME = 160;
    private static final int RING = 8192;
    private static final int EPOCH = 7;
    /** KID layout of the voice client: E = 8, S = 16. */
    private static final int E = 8;
    private static final int S = 16;
    /** Senders of a large call: forged KIDs name one of them (a KID the receiver holds no key for). */
    private static final int SENDERS = 1000;

    @Param({"AES_128_GCM_SHA256_128"})
    public SFrameCipherSuite suite;

    private byte[] base;
    private MlsSFrameKeys receiver;
    private final byte[] metadata = new byte[12];
    private final byte[] out = new byte[FRAME + 64];

    private byte[][] ring;
    private int[] ringLen;
    private int ringPos;

    private byte[] forgedKnown;
    private int forgedKnownLen;

    private final byte[] forgedNew = new byte[FRAME + 64];
    private long nextForgedKid;

    @Setup
    public void setup() {
        SecureRandom random = new SecureRandom();
        base = new byte[suite.nk];
        random.nextBytes(base);
        random.nextBytes(metadata);
        byte[] opus = new byte[FRAME];
        random.nextBytes(opus);

        MlsSFrameKeys sender = new MlsSFrameKeys(suite, E, S, 2, 1024);
        sender.installEpoch(EPOCH, base);
        ring = new byte[RING + 1][FRAME + 64];
        ringLen = new int[RING + 1];
        for (int i = 0; i <= RING; i++) {
            ringLen[i] = sender.protect(3, metadata, 0, metadata.length, opus, 0, FRAME, ring[i], 0);
        }
        // The last frame, with a flipped tag bit, is the forgery under the known KID: its counter is
        // above every ring frame's, so it is never a replay and always goes through authentication.
        forgedKnown = ring[RING];
        forgedKnownLen = ringLen[RING];
        forgedKnown[forgedKnownLen - 1] ^= 1;

        freshReceiver();
        random.nextBytes(forgedNew);
    }

    private void freshReceiver() {
        receiver = new MlsSFrameKeys(suite, E, S, 2, 1024);
        receiver.installEpoch(EPOCH, base);
        if (receiver.unprotect(metadata, 0, metadata.length, ring[0], 0, ringLen[0], out, 0) != FRAME) {
            throw new IllegalStateException("genuine frame did not open");
        }
        ringPos = 1;
    }

    @Benchmark
    public int genuine() {
        if (ringPos == RING) {
            // Each ring frame is accepted once; a fresh receiver (one derivation per RING frames) takes them again.
            freshReceiver();
        }
        int i = ringPos++;
        int m = receiver.unprotect(metadata, 0, metadata.length, ring[i], 0, ringLen[i], out, 0);
        if (m != FRAME) {
            throw new IllegalStateException(SFrameContext.reason(m));
        }
        return m;
    }

    @Benchmark
    public int forgedKnownKid() {
        int m = receiver.unprotect(metadata, 0, metadata.length, forgedKnown, 0, forgedKnownLen, out, 0);
        if (m != SFrameContext.ERR_AUTH) {
            throw new IllegalStateException("forgery not refused: " + m);
        }
        return m;
    }

    @Benchmark
    public int forgedNewKid() {
        // Sender index 4..SENDERS-1 (3 is the genuine one), context 0, 1, 2, ...: never the same KID twice.
        long n = nextForgedKid++;
        long kid = MlsSFrameKeys.kid(n / (SENDERS - 4), 4 + n % (SENDERS - 4), EPOCH, S, E);
        int hdr = SFrameHeader.encode(kid, 0, forgedNew, 0);
        int m = receiver.unprotect(metadata, 0, metadata.length, forgedNew, 0, hdr + FRAME + suite.nt, out, 0);
        if (m >= 0) {
            throw new IllegalStateException("forgery accepted");
        }
        return m;
    }

    private static boolean perfWorks() {
        try {
            Process p = new ProcessBuilder("perf", "stat", "-e", "task-clock", "true").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    public static void main(String[] args) throws RunnerException {
        List<String> suites = new ArrayList<>();
        for (String a : args) {
            try {
                suites.add(SFrameCipherSuite.valueOf(a).name());
            } catch (IllegalArgumentException notASuite) {
                // -Dbench.args defaults to plain-JMH arguments; only suite names mean something here.
            }
        }
        ChainedOptionsBuilder opts = new OptionsBuilder()
                .include(ForgedKidBenchmark.class.getName() + "\\.")
                .addProfiler(GCProfiler.class);
        boolean perf = perfWorks();
        if (perf) {
            opts.addProfiler(LinuxPerfNormProfiler.class, "events=task-clock");
        }
        if (!suites.isEmpty()) {
            opts.param("suite", suites.toArray(new String[0]));
        }
        Collection<RunResult> results = new Runner(opts.build()).run();

        // per suite: {wall, cpu, B/op} for genuine, forgedKnownKid, forgedNewKid
        Map<String, double[][]> rows = new LinkedHashMap<>();
        for (RunResult r : results) {
            String bench = r.getParams().getBenchmark();
            int col = bench.endsWith(".genuine") ? 0 : bench.endsWith(".forgedKnownKid") ? 1 : 2;
            double[][] row = rows.computeIfAbsent(r.getParams().getParam("suite"), k -> new double[3][3]);
            row[col][0] = r.getPrimaryResult().getScore();
            Result cpu = r.getSecondaryResults().get("task-clock");
            row[col][1] = cpu == null ? Double.NaN : cpu.getScore() * 1e6; // perf reports msec
            Result alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
            row[col][2] = alloc == null ? Double.NaN : alloc.getScore();
        }
        System.out.println();
        System.out.println("MlsSFrameKeys.unprotect, 160-byte frame, 12-byte metadata, one run, "
                + Runtime.getRuntime().availableProcessors() + " cores; ns per frame: wall / cpu (perf task-clock"
                + (perf ? ")" : ", unavailable)") + "; x = multiple of a genuine frame (on cpu when present)");
        System.out.printf("%-24s %22s %22s %22s %10s %10s %8s %8s %8s%n", "suite", "genuine wall/cpu",
                "forged known wall/cpu", "forged new wall/cpu", "known x", "new x", "B gen", "B known", "B new");
        for (Map.Entry<String, double[][]> e : rows.entrySet()) {
            double[][] v = e.getValue();
            boolean cpu = !Double.isNaN(v[0][1]) && !Double.isNaN(v[1][1]) && !Double.isNaN(v[2][1]);
            int k = cpu ? 1 : 0;
            System.out.printf("%-24s %10.1f / %9.1f %10.1f / %9.1f %10.1f / %9.1f %9.2fx %9.2fx %8.1f %8.1f %8.1f%n",
                    e.getKey(), v[0][0], v[0][1], v[1][0], v[1][1], v[2][0], v[2][1],
                    v[1][k] / v[0][k], v[2][k] / v[0][k], v[0][2], v[1][2], v[2][2]);
        }
    }
}
