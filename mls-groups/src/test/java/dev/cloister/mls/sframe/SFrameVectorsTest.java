package dev.cloister.mls.sframe;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Runs RFC 9605 Appendix C test vectors: every header vector, every {@code aes_ctr_hmac} vector
 * and every {@code sframe} vector counts once. The default file is the shared one (or the file
 * named by {@code -Dsframe.vectors}); the full RFC set is a test resource.
 */
class SFrameVectorsTest {
    private static final HexFormat HEX = HexFormat.of();
    private static final String SHARED = "shared/vectors/sframe-rfc9605.json";

    @Test
    void defaultVectorFile() throws IOException {
        String property = System.getProperty("sframe.vectors");
        JsonNode root;
        String source;
        if (property != null && !property.isBlank()) {
            source = property;
            root = new ObjectMapper().readTree(Files.readAllBytes(Paths.get(property)));
        } else {
            Path shared = findUpwards(SHARED);
            if (shared != null) {
                source = shared.toString();
                root = new ObjectMapper().readTree(Files.readAllBytes(shared));
            } else {
                source = "classpath:sframe/sframe-rfc9605-partial.json";
                root = resource("sframe/sframe-rfc9605-partial.json");
            }
        }
        run(source, root);
    }

    @Test
    void fullRfc9605VectorSet() throws IOException {
        Result r = run("classpath:sframe/sframe-rfc9605-full.json", resource("sframe/sframe-rfc9605-full.json"));
        // The full Appendix C set: 289 headers, 3 AES-CTR-HMAC and 5 SFrame vectors (every suite).
        assertThat(r.passed).isEqualTo(289 + 3 + 5);
    }

    private static final class Result {
        int passed;
        final List<String> failures = new ArrayList<>();
    }

    private static Result run(String source, JsonNode root) {
        Result r = new Result();
        for (JsonNode v : root.path("header")) {
            check(r, "header " + v, () -> headerVector(v));
        }
        for (JsonNode v : root.path("aes_ctr_hmac")) {
            check(r, "aes_ctr_hmac suite " + v.get("cipher_suite"), () -> aesCtrHmacVector(v));
        }
        for (JsonNode v : root.path("sframe")) {
            check(r, "sframe suite " + v.get("cipher_suite"), () -> sframeVector(v));
        }
        System.out.println("[" + source + "]");
        System.out.println("sframe vectors: " + r.passed + " passed, " + r.failures.size() + " failed");
        r.failures.forEach(f -> System.out.println("  FAILED " + f));
        assertThat(r.passed).as("vectors found in " + source).isPositive();
        assertThat(r.failures).as("failed vectors in " + source).isEmpty();
        return r;
    }

    private static void check(Result r, String name, Runnable vector) {
        try {
            vector.run();
            r.passed++;
        } catch (AssertionError | RuntimeException e) {
            r.failures.add(name + ": " + e.getMessage());
        }
    }

    private static void headerVector(JsonNode v) {
        long kid = v.get("kid").bigIntegerValue().longValue();
        long ctr = v.get("ctr").bigIntegerValue().longValue();
        byte[] encoded = HEX.parseHex(v.get("encoded").asText());
        assertThat(SFrameHeader.encode(kid, ctr)).isEqualTo(encoded);
        assertThat(SFrameHeader.encodedLength(kid, ctr)).isEqualTo(encoded.length);
        SFrameHeader h = new SFrameHeader();
        assertThat(h.decode(encoded, 0, encoded.length)).isEqualTo(encoded.length);
        assertThat(h.kid()).isEqualTo(kid);
        assertThat(h.ctr()).isEqualTo(ctr);
        assertThat(h.decode(encoded, 0, encoded.length - 1)).as("truncated header").isEqualTo(-1);
    }

    private static void aesCtrHmacVector(JsonNode v) {
        SFrameCipherSuite suite = SFrameCipherSuite.fromId(v.get("cipher_suite").asInt());
        byte[] key = hex(v, "key");
        assertThat(Arrays.copyOfRange(key, 0, suite.nka)).isEqualTo(hex(v, "enc_key"));
        assertThat(Arrays.copyOfRange(key, suite.nka, key.length)).isEqualTo(hex(v, "auth_key"));
        byte[] nonce = hex(v, "nonce");
        byte[] aad = hex(v, "aad");
        byte[] pt = hex(v, "pt");
        byte[] ct = hex(v, "ct");
        FrameAead aead = FrameAead.create(suite, key);
        byte[] out = new byte[pt.length + suite.nt];
        int n = aead.seal(nonce, aad, 0, aad.length, new byte[0], 0, 0, pt, 0, pt.length, out, 0);
        assertThat(Arrays.copyOf(out, n)).isEqualTo(ct);
        // The same AAD split differently must authenticate the same way.
        byte[] back = new byte[pt.length];
        int m = aead.open(nonce, aad, 0, 3, aad, 3, aad.length - 3, ct, 0, ct.length, back, 0);
        assertThat(m).isEqualTo(pt.length);
        assertThat(back).isEqualTo(pt);
        ct[ct.length - 1] ^= 1;
        assertThat(aead.open(nonce, aad, 0, aad.length, new byte[0], 0, 0, ct, 0, ct.length, back, 0)).isEqualTo(-1);
    }

    private static void sframeVector(JsonNode v) {
        SFrameCipherSuite suite = SFrameCipherSuite.fromId(v.get("cipher_suite").asInt());
        long kid = v.get("kid").bigIntegerValue().longValue();
        long ctr = v.get("ctr").bigIntegerValue().longValue();
        byte[] baseKey = hex(v, "base_key");
        assertThat(SFrameKey.label("SFrame 1.0 Secret key ", kid, suite)).isEqualTo(hex(v, "sframe_key_label"));
        assertThat(SFrameKey.label("SFrame 1.0 Secret salt ", kid, suite)).isEqualTo(hex(v, "sframe_salt_label"));
        assertThat(SFrameKey.extract(suite, baseKey)).isEqualTo(hex(v, "sframe_secret"));
        SFrameKey key = SFrameKey.derive(suite, kid, baseKey);
        assertThat(key.key()).isEqualTo(hex(v, "sframe_key"));
        assertThat(key.salt()).isEqualTo(hex(v, "sframe_salt"));
        assertThat(key.nonceFor(ctr)).isEqualTo(hex(v, "nonce"));
        byte[] metadata = hex(v, "metadata");
        byte[] header = SFrameHeader.encode(kid, ctr);
        byte[] aad = new byte[header.length + metadata.length];
        System.arraycopy(header, 0, aad, 0, header.length);
        System.arraycopy(metadata, 0, aad, header.length, metadata.length);
        assertThat(aad).isEqualTo(hex(v, "aad"));

        SFrameContext sender = new SFrameContext(suite, 4);
        sender.addKey(kid, baseKey);
        byte[] frame = sender.encrypt(kid, ctr, metadata, hex(v, "pt"));
        assertThat(frame).isEqualTo(hex(v, "ct"));

        SFrameContext receiver = new SFrameContext(suite, 4);
        receiver.addKey(kid, baseKey);
        assertThat(receiver.decrypt(metadata, hex(v, "ct"))).isEqualTo(hex(v, "pt"));

        // A receiver's trial key (re-derived in place from another KID's, GHASH from the small table) opens it
        // too, and so does the same key once widened.
        KeySchedule schedule = new KeySchedule(suite, baseKey);
        SFrameKey trial = SFrameKey.trial(schedule, kid ^ 1);
        trial.retry(schedule, kid);
        assertThat(trial.key()).isEqualTo(hex(v, "sframe_key"));
        assertThat(trial.salt()).isEqualTo(hex(v, "sframe_salt"));
        assertThat(trial.aead.isWide()).isEqualTo(!suite.isGcm());
        byte[] ct = hex(v, "ct");
        byte[] pt = hex(v, "pt");
        byte[] out = new byte[ct.length];
        int hdr = new SFrameHeader().decode(ct, 0, ct.length);
        assertThat(SFrameContext.decrypt(trial, ctr, hdr, metadata, 0, metadata.length, ct, 0, ct.length, out, 0))
                .isEqualTo(pt.length);
        assertThat(Arrays.copyOf(out, pt.length)).isEqualTo(pt);
        trial.verified();
        assertThat(trial.aead.isWide()).isTrue();
        int n = SFrameContext.encrypt(SFrameKey.trial(schedule, kid), ctr, metadata, 0, metadata.length,
                pt, 0, pt.length, out, 0);
        assertThat(Arrays.copyOf(out, n)).as("sealed with the small table").isEqualTo(ct);
    }

    private static byte[] hex(JsonNode v, String field) {
        return HEX.parseHex(v.get(field).asText());
    }

    private static JsonNode resource(String name) throws IOException {
        try (InputStream in = SFrameVectorsTest.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing test resource " + name);
            }
            return new ObjectMapper().readTree(in);
        }
    }

    private static Path findUpwards(String relative) {
        Path dir = Paths.get("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve(relative);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
            dir = dir.getParent();
        }
        return null;
    }
}
