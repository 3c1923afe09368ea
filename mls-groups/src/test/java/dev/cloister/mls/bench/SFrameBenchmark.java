package dev.cloister.mls.bench;

import dev.cloister.mls.sframe.SFrameCipherSuite;
import dev.cloister.mls.sframe.SFrameContext;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
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
 * ns and bytes allocated per 160-byte Opus frame (12 bytes of metadata as AAD), per SFrame suite,
 * side by side with the machine's ceiling measured in the same run:
 * <ul>
 *   <li>{@code ceiling}: the JDK's own AES-GCM ({@code AES/GCM/NoPadding}, the suite's AES key size)
 *       sealing the same frame under a fresh IV each time, the AAD in one piece, one {@code Cipher};</li>
 *   <li>{@code encrypt}: {@link SFrameContext#encrypt} with the next counter (header, nonce, seal);</li>
 *   <li>{@code decrypt}: {@link SFrameContext#decrypt} of frames sealed ahead (header, key lookup,
 *       replay window, open).</li>
 * </ul>
 * {@code main} runs all of them with JMH's gc profiler (and perf's task-clock per op, where perf works) and
 * prints a table with the ratios:
 * {@code mvn -B -q -pl mls-groups -am install -DskipTests && mvn -B -q -pl mls-groups -Pbench test-compile exec:exec
 * -Dbench.main=dev.cloister.mls.bench.SFrameBenchmark} (add {@code -Dbench.args=AES_128_GCM_SHA256_128} for one suite).
 * Plain JMH works too: {@code -Dbench.args="SFrameBenchmark -prof gc"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
// The JDK's GCM path needs a few seconds before C2 has compiled it (4-10 us/op before, 0.4-0.5 after).
@Warmup(iterations = 6, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SFrameBenchmark {
    private static final int FRAME = 160;
    /** Frames sealed ahead for {@code decrypt}; the receiver's key is derived anew when they wrap. */
    private static final int RING = 8192;
    private static final long KID = 0x1234;

    @Param({"AES_128_CTR_HMAC_SHA256_80", "AES_128_CTR_HMAC_SHA256_64", "AES_128_CTR_HMAC_SHA256_32",
            "AES_128_GCM_SHA256_128", "AES_256_GCM_SHA512_128"})
    public SFrameCipherSuite suite;

    private SFrameContext sender;
    private SFrameContext receiver;
    private byte[] base;
    private final byte[] opus = new byte[FRAME];
    private final byte[] metadata = new byte[12];
    private final byte[] frame = new byte[FRAME + 64];
    private final byte[] decoded = new byte[FRAME + 64];
    private long ctr;

    private byte[][] ring;
    private int[] ringLen;
    private int ringPos;

    private Cipher jdk;
    private SecretKeySpec jdkKey;
    private final byte[] iv = new byte[12];
    private final byte[] aad = new byte[15];
    private long ivCounter;

    @Setup
    public void setup() throws GeneralSecurityException {
        SecureRandom random = new SecureRandom();
        base = new byte[suite.nk];
        random.nextBytes(base);
        random.nextBytes(opus);
        random.nextBytes(metadata);
        random.nextBytes(aad);
        random.nextBytes(iv);
        sender = new SFrameContext(suite, 4);
        receiver = new SFrameContext(suite, 4);
        sender.addKey(KID, base);
        receiver.addKey(KID, base);

        SFrameContext ringSender = new SFrameContext(suite, 1);
        ringSender.addKey(KID, base);
        ring = new byte[RING][FRAME + 64];
        ringLen = new int[RING];
        for (int i = 0; i < RING; i++) {
            ringLen[i] = ringSender.encrypt(KID, i, metadata, 0, metadata.length, opus, 0, FRAME, ring[i], 0);
        }

        byte[] aesKey = new byte[suite.nka];
        random.nextBytes(aesKey);
        jdkKey = new SecretKeySpec(aesKey, "AES");
        jdk = Cipher.getInstance("AES/GCM/NoPadding");
    }

    @Benchmark
    public int ceiling() throws GeneralSecurityException {
        long c = ++ivCounter;
        for (int i = 0; i < 8; i++) {
            iv[11 - i] = (byte) (c >>> (8 * i));
        }
        jdk.init(Cipher.ENCRYPT_MODE, jdkKey, new GCMParameterSpec(128, iv));
        jdk.updateAAD(aad);
        return jdk.doFinal(opus, 0, FRAME, frame, 0);
    }

    @Benchmark
    public int encrypt() {
        return sender.encrypt(KID, ctr++, metadata, 0, metadata.length, opus, 0, FRAME, frame, 0);
    }

    @Benchmark
    public int decrypt() {
        int i = ringPos;
        if (i == RING) {
            // Each ring frame is accepted once; a fresh key (fresh replay window) takes them again.
            receiver.addKey(KID, base);
            i = 0;
        }
        ringPos = i + 1;
        int m = receiver.decrypt(metadata, 0, metadata.length, ring[i], 0, ringLen[i], decoded, 0);
        if (m != FRAME) {
            throw new IllegalStateException(SFrameContext.reason(m));
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
                .include(SFrameBenchmark.class.getName() + "\\.")
                .addProfiler(GCProfiler.class);
        // CPU time per op (perf's task-clock over the forked JVM, divided by ops): on a machine shared with
        // other builds, wall-clock ns/op mostly measure the run queue; CPU ns/op do not.
        boolean perf = perfWorks();
        if (perf) {
            opts.addProfiler(LinuxPerfNormProfiler.class, "events=task-clock");
        }
        if (!suites.isEmpty()) {
            opts.param("suite", suites.toArray(new String[0]));
        }
        Collection<RunResult> results = new Runner(opts.build()).run();

        Map<String, double[]> rows = new LinkedHashMap<>();
        for (RunResult r : results) {
            String suite = r.getParams().getParam("suite");
            String bench = r.getParams().getBenchmark();
            int col = bench.endsWith(".ceiling") ? 0 : bench.endsWith(".encrypt") ? 1 : 2;
            double[] row = rows.computeIfAbsent(suite, k -> new double[12]);
            Result cpu = r.getSecondaryResults().get("task-clock");
            row[9 + col] = cpu == null ? Double.NaN : cpu.getScore() * 1e6; // perf reports msec
            row[col] = r.getPrimaryResult().getScore();
            row[6 + col] = r.getBenchmarkResults().stream()
                    .flatMap(b -> b.getIterationResults().stream())
                    .mapToDouble(i -> i.getPrimaryResult().getScore()).min().orElse(Double.NaN);
            Result alloc = r.getSecondaryResults().get("gc.alloc.rate.norm");
            row[3 + col] = alloc == null ? Double.NaN : alloc.getScore();
        }
        System.out.println();
        System.out.println("SFrame, 160-byte frame, 12-byte metadata; ns/op and B/op (JMH gc profiler), one run, "
                + Runtime.getRuntime().availableProcessors() + " cores");
        System.out.println("wall: mean of the measured iterations [best iteration]; cpu: perf task-clock of the benchmark JVM per op"
                + (perf ? "" : " (perf unavailable: no cpu columns)") + "; ratios on cpu ns when present, else on wall");
        System.out.printf("%-28s %17s %17s %17s %8s %8s %8s %8s %8s %7s %7s %7s%n", "suite", "ceiling wall ns",
                "encrypt wall ns", "decrypt wall ns", "ceil cpu", "enc cpu", "dec cpu", "enc/ceil", "dec/ceil",
                "B ceil", "B enc", "B dec");
        for (Map.Entry<String, double[]> e : rows.entrySet()) {
            double[] v = e.getValue();
            boolean cpu = !Double.isNaN(v[9]) && !Double.isNaN(v[10]) && !Double.isNaN(v[11]);
            double c = cpu ? v[9] : v[0];
            System.out.printf("%-28s %8.1f [%6.1f] %8.1f [%6.1f] %8.1f [%6.1f] %8.1f %8.1f %8.1f %7.2fx %7.2fx %7.1f %7.1f %7.1f%n",
                    e.getKey(), v[0], v[6], v[1], v[7], v[2], v[8], v[9], v[10], v[11],
                    (cpu ? v[10] : v[1]) / c, (cpu ? v[11] : v[2]) / c, v[3], v[4], v[5]);
        }
    }
}
