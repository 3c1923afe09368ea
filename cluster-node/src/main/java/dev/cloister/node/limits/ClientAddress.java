package dev.cloister.node.limits;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * The key a client's address is rate-limited under. An IPv4 address is one key; an IPv6 client
 * usually holds a whole /64 (its provider hands out prefixes, and privacy addresses rotate inside
 * it), so keying on the full address would give one client 2^64 buckets: it is keyed by its /64.
 */
public final class ClientAddress {

  private ClientAddress() {}

  public static String limitKey(InetAddress address) {
    if (address instanceof Inet4Address) {
      return address.getHostAddress();
    }
    byte[] b = address.getAddress();
    if (address instanceof Inet6Address && isIpv4Mapped(b)) {
      return (b[12] & 0xFF) + "." + (b[13] & 0xFF) + "." + (b[14] & 0xFF) + "." + (b[15] & 0xFF);
    }
    StringBuilder prefix = new StringBuilder();
    for (int i = 0; i < 8; i += 2) {
      prefix.append(Integer.toHexString(((b[i] & 0xFF) << 8) | (b[i + 1] & 0xFF))).append(':');
    }
    return prefix.append(":/64").toString();
  }

  private static boolean isIpv4Mapped(byte[] b) {
    for (int i = 0; i < 10; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return (b[10] & 0xFF) == 0xFF && (b[11] & 0xFF) == 0xFF;
  }
}
