package dev.cloister.guild;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.guild.channel.TextChannel;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** What travels between nodes on a guild's feed survives CBOR, nested events included. */
class GuildFeedTest {

  private static final ActorTestKit KIT = ActorTestKit.create();

  @AfterAll
  static void stop() {
    KIT.shutdownTestKit();
  }

  private static Object roundTrip(Object o) {
    Serialization s = SerializationExtension.get(KIT.system().classicSystem());
    var serializer = s.findSerializerFor(o);
    assertThat(serializer.getClass().getSimpleName()).contains("Jackson");
    byte[] bytes = serializer.toBinary(o);
    return s.deserialize(bytes, serializer.identifier(), Serializers.manifestFor(serializer, o)).get();
  }

  @Test
  void feedItemsRoundTrip() {
    var guildEvent = new GuildFeed.GuildChanged("1", 7, new Guild.OverwriteSet("2",
        new Guild.Overwrite("3", Guild.OverwriteType.MEMBER, 0, Permission.VIEW_CHANNEL.bit)));
    assertThat(roundTrip(guildEvent)).isEqualTo(guildEvent);

    var created = new GuildFeed.GuildChanged("1", 1, new Guild.GuildCreated("g", "u",
        List.of(new Guild.Channel("2", "general", ChannelType.TEXT, null, List.of())), 5));
    assertThat(roundTrip(created)).isEqualTo(created);

    var posted = (GuildFeed.ChannelChanged) roundTrip(new GuildFeed.ChannelChanged("1", "2", 3,
        new TextChannel.MessagePosted(9, "u", new byte[] {1, 2, 3}, 10)));
    assertThat(((TextChannel.MessagePosted) posted.event()).ciphertext()).containsExactly(1, 2, 3);

    var typing = new GuildFeed.TypingStarted("1", "2", "u", 4);
    assertThat(roundTrip(typing)).isEqualTo(typing);
    var presence = new GuildFeed.PresenceChanged("1", "u", "idle",
        "pekko://cloister@10.0.0.1:25520");
    assertThat(roundTrip(presence)).isEqualTo(presence);
    var asked = new GuildFeed.PresenceAsked("1", "pekko://cloister@10.0.0.1:25520");
    assertThat(roundTrip(asked)).isEqualTo(asked);
    var held = new GuildFeed.PresenceHeld("1", "pekko://cloister@10.0.0.2:25520",
        Map.of("u", "online", "v", "idle"));
    assertThat(roundTrip(held)).isEqualTo(held);
    var joined = new GuildFeed.MemberAdded("1", "u");
    assertThat(roundTrip(joined)).isEqualTo(joined);
    var moved = new GuildFeed.VoiceServerMoved("1", "2", "u", "s", "v2.1", "v2.1",
        new dev.cloister.guild.voice.VoiceChannel.Endpoint("u.x", 7, "ufrag", "pwd", "10.0.0.1",
            50000, 1));
    assertThat(roundTrip(moved)).isEqualTo(moved);
    assertThat(moved.channelChanged()).isFalse();
    var movedByModerator = new GuildFeed.VoiceServerMoved("1", "3", "u", "s", "v3.2", "v3.2",
        moved.endpoint(), "2", "mod");
    assertThat(roundTrip(movedByModerator)).isEqualTo(movedByModerator);
    assertThat(movedByModerator.channelChanged()).isTrue();
  }

  /**
   * A node does not keep a topic actor for every guild that ever published on it: idle ones
   * without a local subscriber stop, those with one stay, and a stopped one comes back on use.
   */
  @Test
  void idleTopicsWithoutSubscribersStopAndComeBackOnUse() throws Exception {
    GuildFeed feed = GuildFeed.of(KIT.system());
    TestProbe<GuildFeed.Item> listener = KIT.createTestProbe();
    feed.publish(new GuildFeed.TypingStarted("10", "c", "u", 1)); // nobody listens here
    feed.topic("11").tell(Topic.subscribe(listener.ref()));
    ActorRef<Topic.Command<GuildFeed.Item>> first = feed.topic("10");
    assertThat(feed.topicCount()).isEqualTo(2);
    // Subscribing is asynchronous: sweep until the one idle topic is gone (bounded).
    int stopped = 0;
    for (int i = 0; i < 50 && stopped == 0; i++) {
      stopped = feed.sweep(Duration.ZERO).toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
    assertThat(stopped).isEqualTo(1);
    assertThat(feed.topicCount()).isEqualTo(1);
    TestProbe<Object> watcher = KIT.createTestProbe();
    watcher.expectTerminated(first, Duration.ofSeconds(5));
    // Used again: a fresh actor that delivers.
    TestProbe<GuildFeed.Item> late = KIT.createTestProbe();
    ActorRef<Topic.Command<GuildFeed.Item>> again = feed.topic("10");
    assertThat(again).isNotEqualTo(first);
    again.tell(Topic.subscribe(late.ref()));
    GuildFeed.Item item = new GuildFeed.TypingStarted("10", "c", "u", 2);
    GuildFeed.Item got = null;
    for (int i = 0; i < 50 && got == null; i++) {
      feed.publish(item); // until the new subscription has registered
      try {
        got = late.receiveMessage(Duration.ofMillis(100));
      } catch (AssertionError notYet) {
        // published before the subscription took
      }
    }
    assertThat(got).isEqualTo(item);
    // A topic with a subscriber here stays however idle.
    assertThat(feed.sweep(Duration.ZERO).toCompletableFuture().get(5, TimeUnit.SECONDS))
        .isZero();
  }
}
