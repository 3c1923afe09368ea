package dev.cloister.mls.wire;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Tag;

/**
 * The MLS wire reader, fed what the fuzzer makes: every parser of an MLSMessage the server or a
 * client takes from the network either parses or refuses with {@link MlsWireException}; anything
 * else (an index out of bounds, a negative size, memory taken for a length it believed) is a
 * finding. {@code mvn verify} fuzzes 5 s ({@code fuzz}); {@code -Pfuzz} 10 minutes
 * ({@code fuzz-long}). Jazzer fuzzes one test per JVM: one short and one long per class.
 */
class MlsWireFuzzTest {

  @Tag("fuzz")
  @FuzzTest(maxDuration = "5s")
  void parsers(byte[] input) {
    parse(input);
  }

  @Tag("fuzz-long")
  @FuzzTest(maxDuration = "10m")
  void parsersLong(byte[] input) {
    parse(input);
  }

  private static void parse(byte[] input) {
    try {
      MlsMessages.parsePublicMessage(input);
    } catch (MlsWireException refused) {
      // refused with a reason: what a parser should do
    }
    try {
      MlsMessages.parsePrivateMessageHeader(input);
    } catch (MlsWireException refused) {
      // refused
    }
    try {
      MlsMessages.parseKeyPackageMessage(input);
    } catch (MlsWireException refused) {
      // refused
    }
    try {
      MlsMessages.parseGroupInfo(input);
    } catch (MlsWireException refused) {
      // refused
    }
    try {
      MlsMessages.checkWelcome(input, 1); // suite 0x0001, as MlsSuite
    } catch (MlsWireException refused) {
      // refused
    }
    try {
      MlsMessages.parseRatchetTree(input);
    } catch (MlsWireException refused) {
      // refused
    }
  }
}
