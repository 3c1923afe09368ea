package dev.cloister.client.voice;

import java.util.List;

/**
 * A snapshot of one voice engine: what it sent, what it dropped and why, the binding and the
 * keys, and per received stream the figures a UI shows (loss, jitter, delay, concealment).
 *
 * @param epoch              the epoch frames are sent under, -1 before the first
 * @param bound              whether the SFU has a fresh STUN consent for us (media flows)
 * @param framesCaptured     frames read from the source
 * @param framesSent         RTP packets sent
 * @param framesNotSent      captured frames not sent: muted, DTX, no binding or no key yet
 * @param packetsIn          datagrams received from the SFU's address
 * @param decrypted          frames that opened
 * @param undecryptable      frames refused by SFrame: forged, replayed or unknown key (sum of the next four)
 * @param forged             authentication failed
 * @param replayed           counter already seen
 * @param unknownKey         no key for their KID and no epoch of ours ahead could match
 * @param heldExpired        held for an epoch we had not reached, which did not arrive in time
 * @param heldThenDecrypted  held for an epoch we had not reached, and opened once it arrived
 * @param malformed          not STUN, RTP of payload type 111, or SFrame
 * @param foreignSource      datagrams from anywhere but the SFU's address
 * @param ownSsrc            RTP claiming our own SSRC (the SFU never echoes)
 * @param stunRequests       Binding Requests sent (retransmissions included)
 * @param stunErrors         error responses from the SFU
 * @param tickOverruns       20 ms ticks the media thread could not keep (it resynchronised)
 */
public record VoiceStats(long epoch, boolean bound, long framesCaptured, long framesSent, long framesNotSent,
    long packetsIn, long decrypted, long undecryptable, long forged, long replayed, long unknownKey,
    long heldExpired, long heldThenDecrypted, long malformed, long foreignSource, long ownSsrc,
    long stunRequests, long stunErrors, long tickOverruns, List<Stream> streams) {

  /**
   * One sender as this device receives it.
   *
   * @param ssrc            its SSRC (unsigned)
   * @param senderIndex     its MLS leaf index, from the KID of its frames
   * @param received        RTP packets that decrypted (duplicates included)
   * @param expected        packets its sequence numbers say were sent while we listened (RFC 3550 A.3)
   * @param lost            expected minus received, never negative
   * @param jitterMillis    RFC 3550 A.8 interarrival jitter
   * @param late            frames that arrived after their playout time
   * @param played          frames decoded from their own packet
   * @param fecRecovered    lost frames rebuilt from the next packet's in-band FEC
   * @param concealed       frames made up by Opus packet-loss concealment
   * @param skipped         frames skipped to shed delay
   * @param queuedFrames    frames between the playout point and the newest one held
   * @param targetDelayMs   the jitter buffer's current playout delay
   * @param audioLevel      the RFC 6464 level of its last packet (0 loud .. 127 silent), read before decrypting
   * @param speaking        heard in the last 200 ms at a level above -60 dBov
   */
  public record Stream(long ssrc, int senderIndex, long received, long expected, long lost, double jitterMillis,
      long late, long played, long fecRecovered, long concealed, long skipped, int queuedFrames,
      int targetDelayMs, int audioLevel, boolean speaking) {

    public double lossRatio() {
      return expected == 0 ? 0 : (double) lost / expected;
    }
  }

  /** The stream of a sender (leaf index), if heard. */
  public java.util.Optional<Stream> from(int senderIndex) {
    return streams.stream().filter(s -> s.senderIndex() == senderIndex).findFirst();
  }
}
