package dev.cloister.client.voice;

import dev.cloister.sfu.stun.StunMessage;
import dev.cloister.sfu.stun.StunMessageBuilder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The client side of the SFU binding (RFC 8489 Binding with short-term credentials, as an ICE
 * controlling agent would send it to an ICE-lite peer) and consent freshness (RFC 7675): a
 * Binding Request until the SFU answers, retransmitted with doubling timeouts, then a new one every
 * {@code consentInterval}. Only a success response to our outstanding transaction, with a valid
 * MESSAGE-INTEGRITY (keyed with the ICE password) and FINGERPRINT, counts; error responses carry
 * no integrity, so they are noted but end nothing. With no valid answer for {@code consentTimeout}
 * consent is lost and the engine stops sending media until it is back.
 *
 * <p>The wire format is voice-sfu's {@link StunMessage}/{@link StunMessageBuilder}. One thread only.
 */
final class StunBinding {
  private static final long MAX_RTO_NANOS = 1_600_000_000L;

  private final VoiceServer server;
  private final SecureRandom random;
  private final Mac mac;
  private final String username;
  private final byte[] tieBreaker = new byte[8];
  private final StunMessageBuilder builder = new StunMessageBuilder();
  private final StunMessage message = new StunMessage();
  private final long rtoNanos;
  private final int maxTries;
  private final long intervalNanos;
  private final long timeoutNanos;

  private final byte[] txId = new byte[StunMessage.TRANSACTION_ID_LENGTH];
  private boolean inFlight;
  private int tries;
  private long retransmitAt;
  private long currentRto;
  private long nextTransactionAt;

  private volatile boolean everBound;
  private volatile long lastSuccess;
  private volatile int lastErrorCode = -1;
  volatile long requestsSent;
  volatile long successes;
  volatile long errorResponses;
  volatile long rejected;
  volatile long failedTransactions;

  StunBinding(VoiceServer server, VoiceConfig config, SecureRandom random) {
    this.server = server;
    this.random = random;
    try {
      this.mac = Mac.getInstance("HmacSHA1");
      mac.init(new SecretKeySpec(server.icePwd().getBytes(StandardCharsets.UTF_8), "HmacSHA1"));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HMAC-SHA1 unavailable", e);
    }
    byte[] local = new byte[6];
    random.nextBytes(local);
    this.username = server.iceUfrag() + ":" + java.util.HexFormat.of().formatHex(local);
    random.nextBytes(tieBreaker);
    this.rtoNanos = Math.max(1_000_000L, config.stunRetransmit().toNanos());
    this.maxTries = config.stunMaxTries();
    this.intervalNanos = config.consentInterval().toNanos();
    this.timeoutNanos = config.consentTimeout().toNanos();
  }

  /**
   * A request to send now, written into {@code out} (at least 548 bytes).
   *
   * @return its length, or 0 when nothing is due
   */
  int poll(long now, byte[] out) {
    if (inFlight) {
      if (now - retransmitAt < 0) {
        return 0;
      }
      if (tries >= maxTries) {
        inFlight = false;
        failedTransactions++;
        nextTransactionAt = now; // start over at once with a fresh transaction
      } else {
        tries++;
        retransmitAt = now + currentRto;
        currentRto = Math.min(MAX_RTO_NANOS, currentRto * 2);
        return write(out);
      }
    }
    if (now - nextTransactionAt < 0) {
      return 0;
    }
    random.nextBytes(txId);
    inFlight = true;
    tries = 1;
    currentRto = rtoNanos;
    retransmitAt = now + currentRto;
    currentRto = Math.min(MAX_RTO_NANOS, currentRto * 2);
    return write(out);
  }

  private int write(byte[] out) {
    requestsSent++;
    return builder.start(out, 0, StunMessage.BINDING_REQUEST, txId, 0)
        .username(username)
        .intAttribute(StunMessage.ATTR_PRIORITY, 0x6E0001FF)
        .attribute(StunMessage.ATTR_ICE_CONTROLLING, tieBreaker, 0, tieBreaker.length)
        .flag(StunMessage.ATTR_USE_CANDIDATE)
        .messageIntegrity(mac)
        .fingerprint()
        .length();
  }

  /** Takes a STUN datagram from the SFU's address; anything not answering our transaction is ignored. */
  void onMessage(byte[] buf, int off, int len, long now) {
    if (!message.wrap(buf, off, len) || !inFlight || !message.sameTransactionId(txId, 0)) {
      rejected++;
      return;
    }
    int type = message.messageType();
    if (type == StunMessage.BINDING_ERROR_RESPONSE) {
      if (message.verifyFingerprint()) {
        errorResponses++;
        lastErrorCode = message.errorCode();
      } else {
        rejected++;
      }
      return;
    }
    if (type != StunMessage.BINDING_SUCCESS_RESPONSE || !message.verifyFingerprint()
        || !message.verifyMessageIntegrity(mac)) {
      rejected++;
      return;
    }
    inFlight = false;
    everBound = true;
    lastSuccess = now;
    lastErrorCode = -1;
    successes++;
    nextTransactionAt = now + intervalNanos;
  }

  /** Whether the SFU has answered within the consent timeout, so media may flow. */
  boolean consented(long now) {
    return everBound && now - lastSuccess < timeoutNanos;
  }

  boolean everBound() {
    return everBound;
  }

  /** The STUN error code of the SFU's last error answer since the last success, or -1. */
  int lastErrorCode() {
    return lastErrorCode;
  }
}
