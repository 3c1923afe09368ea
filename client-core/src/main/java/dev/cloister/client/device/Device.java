package dev.cloister.client.device;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.wire.MlsWireException;
import java.time.Instant;

/**
 * A registered device as the server lists it: its MLS basic credential identity (the bytes of
 * {@link DeviceCredential#encode()}) and its signature public key, both for safety numbers.
 */
public record Device(String deviceId, byte[] credential, byte[] signatureKey, Instant createdAt) {

  /** The user and device the credential names; a mismatch with {@code deviceId} is refused. */
  public DeviceCredential decodedCredential() throws MlsWireException {
    DeviceCredential c = DeviceCredential.decode(credential);
    if (!c.deviceId().equals(deviceId)) {
      throw new MlsWireException("credential names device " + c.deviceId() + ", not " + deviceId);
    }
    return c;
  }
}
