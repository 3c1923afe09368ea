package dev.cloister.sfu.stun;

import com.code_intelligence.jazzer.junit.FuzzTest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Tag;

/**
 * STUN from anyone on the internet (the SFU's one UDP port): wrapping, the fingerprint and
 * integrity checks and every attribute accessor either work or say no; nothing throws. Short run
 * ({@code fuzz}, 5 s) in {@code mvn verify}, long ({@code fuzz-long}, 10 min) with {@code -Pfuzz}.
 */
class StunFuzzTest {

  @Tag("fuzz")
  @FuzzTest(maxDuration = "5s")
  void messages(byte[] input) throws Exception {
    read(input);
  }

  @Tag("fuzz-long")
  @FuzzTest(maxDuration = "10m")
  void messagesLong(byte[] input) throws Exception {
    read(input);
  }

  private static void read(byte[] input) throws Exception {
    StunMessage.looksLikeStun(input, 0, input.length);
    StunMessage m = new StunMessage();
    if (!m.wrap(input, 0, input.length)) {
      return;
    }
    m.verifyFingerprint();
    m.messageType();
    m.isBindingRequest();
    m.hasUsername();
    m.username();
    m.localUfrag();
    if (m.hasMessageIntegrity()) {
      Mac hmac = Mac.getInstance("HmacSHA1");
      hmac.init(new SecretKeySpec(new byte[] {1, 2, 3}, "HmacSHA1"));
      m.verifyMessageIntegrity(hmac);
    }
  }
}
