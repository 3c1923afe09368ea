package dev.cloister.client.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.api.Test;

/** The de-duplication and cursor rules the backfill relies on, offline. */
class ChannelCursorsTest {

  @Test
  void liveMessagesAdvanceTheCursor() {
    ChannelCursors c = new ChannelCursors();
    c.follow("ch", "g", 100);
    assertThat(c.accept("ch", "g", 90)).isTrue(); // older than the baseline but never delivered
    assertThat(c.seen("ch")).isEqualTo(100);
    assertThat(c.accept("ch", "g", 120)).isTrue();
    assertThat(c.seen("ch")).isEqualTo(120);
    assertThat(c.newestEver()).isEqualTo(120);
  }

  @Test
  void whatABackfillDeliveredIsNotDeliveredAgainLive() {
    ChannelCursors c = new ChannelCursors();
    c.follow("ch", "g", 100);
    c.backfilled("ch", 110);
    c.backfilled("ch", 130);
    assertThat(c.accept("ch", "g", 110)).isFalse();
    assertThat(c.accept("ch", "g", 130)).isFalse();
    assertThat(c.accept("ch", "g", 131)).isTrue();
    assertThat(c.seen("ch")).isEqualTo(131);
  }

  @Test
  void aMessageInAnUnknownChannelStartsFollowingFromIt() {
    ChannelCursors c = new ChannelCursors();
    assertThat(c.accept("new", "g", 500)).isTrue();
    assertThat(c.follows("new")).isTrue();
    assertThat(c.seen("new")).isEqualTo(500);
    assertThat(c.guildOf("new")).isEqualTo("g");
  }

  @Test
  void unfollowingByChannelOrGuild() {
    ChannelCursors c = new ChannelCursors();
    c.follow("a", "g1", 1);
    c.follow("b", "g1", 2);
    c.follow("c", "g2", 3);
    c.unfollow("a");
    c.unfollowGuild("g1");
    assertThat(c.channels()).containsExactly("c");
    assertThat(c.seen("a")).isEqualTo(ChannelCursors.UNKNOWN);
  }

  @Test
  void gatewayAddressFollowsTheServersScheme() {
    assertThat(GatewayClient.gatewayUri(URI.create("http://127.0.0.1:8080")))
        .isEqualTo(URI.create("ws://127.0.0.1:8080/gateway"));
    assertThat(GatewayClient.gatewayUri(URI.create("https://chat.example/")))
        .isEqualTo(URI.create("wss://chat.example/gateway"));
    assertThat(GatewayClient.gatewayUri(URI.create("https://example.org/cloister")))
        .isEqualTo(URI.create("wss://example.org/cloister/gateway"));
  }
}
