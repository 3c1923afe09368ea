package dev.cloister.mls.bench;

import dev.cloister.mls.sframe.SFrameCipherSuite;
import dev.cloister.mls.sframe.SFrameContext;
import java.security.SecureRandom;
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

/**
 * ns per 160-byte Opus frame for each SFrame suite: {@code encrypt} alone and {@code roundTrip}
 * (encrypt then decrypt under a fresh counter, since the receiver refuses replays).
 * Run: {@code mvn -B -pl mls-groups -Pbench test-compile exec:exec -Djmh.args="SFrameBenchmark -prof gc"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SFrameBenchmark {
    @Param({"AES_128_CTR_HMAC_SHA256_80", "AES_128_CTR_HMAC_SHA256_64", "AES_128_CTR_HMAC_SHA256_32",
            "AES_128_GCM_SHA256_128", "AES_256_GCM_SHA512_128"})
    public SFrameCipherSuite suite;

    private SFrameContext sender;
    private SFrameContext receiver;
    private final byte[] opus = new byte[160];
    private final byte[] metadata = new byte[12];
    private final byte[] frame = new byte[160 + 64];
    private final byte[] decoded = new byte[160 + 64];
    private long ctr;

    @Setup
    public void setup() {
        SecureRandom random = new SecureRandom();
        byte[] base = new byte[suite.nk];
        random.nextBytes(base);
        random.nextBytes(opus);
        random.nextBytes(metadata);
        sender = new SFrameContext(suite, 4);
        receiver = new SFrameContext(suite, 4);
        sender.addKey(0x1234, base);
        receiver.addKey(0x1234, base);
    }

    @Benchmark
    public int encrypt() {
        return sender.encrypt(0x1234, ctr++, metadata, 0, metadata.length, opus, 0, opus.length, frame, 0);
    }

    @Benchmark
    public int roundTrip() {
        int n = sender.encrypt(0x1234, ctr++, metadata, 0, metadata.length, opus, 0, opus.length, frame, 0);
        int m = receiver.decrypt(metadata, 0, metadata.length, frame, 0, n, decoded, 0);
        if (m != opus.length) {
            throw new IllegalStateException(SFrameContext.reason(m));
        }
        return m;
    }
}
