package dev.cloister.mls.sframe;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Tag;

/**
 * SFrame headers and frames from the network: the header parser answers a length or an error
 * code, and no frame the fuzzer makes authenticates under a key it never saw (the receive path a
 * voice client runs per packet). See {@code MlsWireFuzzTest} for how the runs are set up.
 */
class SFrameFuzzTest {

  private static final MlsSFrameKeys KEYS = keys();

  private static MlsSFrameKeys keys() {
    MlsSFrameKeys k = MlsSFrameKeys.forVoice(SFrameCipherSuite.AES_128_GCM_SHA256_128);
    k.installEpoch(1, new byte[16]);
    return k;
  }

  @Tag("fuzz")
  @FuzzTest(maxDuration = "5s")
  void frames(byte[] input) {
    open(input);
  }

  @Tag("fuzz-long")
  @FuzzTest(maxDuration = "10m")
  void framesLong(byte[] input) {
    open(input);
  }

  private static void open(byte[] input) {
    int header = new SFrameHeader().decode(input, 0, input.length);
    if (header > input.length) {
      throw new AssertionError("header longer than the frame: " + header);
    }
    byte[] out = new byte[input.length];
    if (KEYS.unprotect(new byte[0], 0, 0, input, 0, input.length, out, 0) >= 0) {
      throw new AssertionError("a frame the fuzzer made authenticated under a key it never saw");
    }
  }
}
