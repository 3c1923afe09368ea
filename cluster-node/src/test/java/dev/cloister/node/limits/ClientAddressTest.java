package dev.cloister.node.limits;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class ClientAddressTest {

  private static String key(String address) throws Exception {
    return ClientAddress.limitKey(InetAddress.getByName(address));
  }

  @Test
  void ipv6ClientsAreLimitedByTheirSlash64AndIpv4ByTheirAddress() throws Exception {
    assertThat(key("2001:db8:1:2:aaaa::1")).isEqualTo("2001:db8:1:2::/64");
    assertThat(key("2001:db8:1:2:ffff:1:2:3")).as("any address in the same /64 shares the bucket")
        .isEqualTo(key("2001:db8:1:2::9"));
    assertThat(key("2001:db8:1:3::1")).isNotEqualTo(key("2001:db8:1:2::1"));
    assertThat(key("203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(key("::ffff:203.0.113.7")).as("IPv4-mapped is the IPv4 client").isEqualTo("203.0.113.7");
    assertThat(key("::1")).isEqualTo("0:0:0:0::/64");
  }

  @Test
  void oneIpv6ClientRotatingAddressesRunsOutOfTokensLikeAnyOther() throws Exception {
    long[] now = {0};
    TokenBuckets limit = new TokenBuckets(3, 1, () -> now[0]);
    int allowed = 0;
    for (int i = 1; i <= 10; i++) {
      if (limit.take(key("2001:db8:1:2::" + Integer.toHexString(i))) == 0) {
        allowed++;
      }
    }
    assertThat(allowed).isEqualTo(3);
  }
}
