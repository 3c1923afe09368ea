package dev.cloister.guild;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.guild.channel.TextChannel;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
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
    var presence = new GuildFeed.PresenceChanged("1", "u", "idle");
    assertThat(roundTrip(presence)).isEqualTo(presence);
    var joined = new GuildFeed.MemberAdded("1", "u");
    assertThat(roundTrip(joined)).isEqualTo(joined);
  }
}
