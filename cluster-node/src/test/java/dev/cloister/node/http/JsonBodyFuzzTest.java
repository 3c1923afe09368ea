package dev.cloister.node.http;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.math.BigInteger;
import org.junit.jupiter.api.Tag;

/**
 * REST request bodies from anyone: whatever the bytes, reading a body and its fields ends in a
 * value within the bounds asked for or in a 400 that names the problem, never in another
 * exception (which the routes would answer 500). Seeds are in {@code JsonBodyFuzzTestInputs}.
 * See {@code MlsWireFuzzTest} (mls-groups) for how the runs are set up.
 */
class JsonBodyFuzzTest {

  @Tag("fuzz")
  @FuzzTest(maxDuration = "5s")
  void bodies(byte[] input) {
    read(input);
  }

  @Tag("fuzz-long")
  @FuzzTest(maxDuration = "10m")
  void bodiesLong(byte[] input) {
    read(input);
  }

  private static void read(byte[] input) {
    JsonBody body;
    try {
      body = JsonBody.parse(input);
    } catch (ApiError e) {
      expect400(e);
      return;
    }
    attempt(() -> body.string("a"));
    attempt(() -> body.optionalString("a"));
    attempt(() -> body.optionalBoolean("b"));
    attempt(() -> {
      Integer n = body.optionalInt("c", 0, 99);
      if (n != null && (n < 0 || n > 99)) {
        throw new AssertionError("optionalInt out of its bounds: " + n);
      }
    });
    attempt(() -> body.permissions("d"));
    attempt(() -> {
      byte[] b = body.hex("a", 4);
      if (b.length > 4) {
        throw new AssertionError("hex gave " + b.length + " bytes, asked for at most 4");
      }
    });
    attempt(() -> {
      BigInteger n = body.bigInteger("a", 4);
      if (n.signum() < 0 || n.bitLength() > 32) {
        throw new AssertionError("bigInteger out of its bounds: " + n);
      }
    });
    attempt(() -> body.base64("e"));
  }

  private static void attempt(Runnable read) {
    try {
      read.run();
    } catch (ApiError e) {
      expect400(e);
    }
  }

  private static void expect400(ApiError e) {
    if (e.status != 400 || e.getMessage() == null || e.getMessage().isBlank()) {
      throw new AssertionError("a bad body must be a 400 with a message, was " + e.status + " "
          + e.getMessage());
    }
  }
}
