package dev.cloister.guild;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GuildTest {

  private static final ActorTestKit testKit = EntityTestKits.create();

  private EventSourcedBehaviorTestKit<Guild.Command, Guild.Event, Guild.State> guild;

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void fresh() {
    guild = EventSourcedBehaviorTestKit.create(testKit.system(), Guild.create("100"));
  }

  private Guild.GuildView createAsOwner() {
    var result = guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Create("  Rust Hangout ", "1", "200", "201", r));
    assertThat(result.reply().isSuccess()).isTrue();
    return result.reply().getValue();
  }

  @Test
  void newGuildHasOwnerAsMemberAndGeneralChannels() {
    Guild.GuildView view = createAsOwner();
    assertThat(view.name()).isEqualTo("Rust Hangout");
    assertThat(view.ownerId()).isEqualTo("1");
    assertThat(view.memberIds()).containsExactly("1");
    assertThat(view.channels()).containsExactly(
        new Guild.ChannelInfo("200", "100", "general", ChannelType.TEXT),
        new Guild.ChannelInfo("201", "100", "General", ChannelType.VOICE));
  }

  @Test
  void blankOrOverlongNamesAreRejectedAndNothingIsPersisted() {
    var blank = guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Create("   ", "1", "200", "201", r));
    assertThat(blank.reply().getError().getMessage()).startsWith("invalid: guild name");
    assertThat(blank.events()).isEmpty();
    var longName = "x".repeat(Guild.MAX_NAME_LENGTH + 1);
    var tooLong = guild.<StatusReply<Guild.GuildView>>runCommand(
        r -> new Guild.Create(longName, "1", "200", "201", r));
    assertThat(tooLong.reply().isError()).isTrue();
    assertThat(guild.getState().exists()).isFalse();
  }

  @Test
  void unknownGuildIsNotFoundAndStrangersAreForbidden() {
    var unknown = guild.<StatusReply<Guild.GuildView>>runCommand(r -> new Guild.Get("1", r));
    assertThat(Rejection.parse(unknown.reply().getError().getMessage()).code())
        .isEqualTo(Rejection.Code.NOT_FOUND);
    createAsOwner();
    var stranger = guild.<StatusReply<Guild.GuildView>>runCommand(r -> new Guild.Get("2", r));
    assertThat(Rejection.parse(stranger.reply().getError().getMessage()).code())
        .isEqualTo(Rejection.Code.FORBIDDEN);
  }

  @Test
  void ownerAddsChannelsAndTheyArePersistedAndRecovered() {
    createAsOwner();
    var added = guild.<StatusReply<Guild.ChannelInfo>>runCommand(
        r -> new Guild.AddChannel("1", "300", "memes", ChannelType.TEXT, r));
    assertThat(added.reply().getValue())
        .isEqualTo(new Guild.ChannelInfo("300", "100", "memes", ChannelType.TEXT));
    assertThat(added.events()).hasSize(1);

    var again = guild.<StatusReply<Guild.ChannelInfo>>runCommand(
        r -> new Guild.AddChannel("1", "300", "memes", ChannelType.TEXT, r));
    assertThat(again.events()).as("a retried add is idempotent").isEmpty();

    guild.restart();
    assertThat(guild.getState().channels()).extracting(Guild.ChannelInfo::id)
        .containsExactly("200", "201", "300");
  }

  @Test
  void nonMembersCannotAddChannelsOrPost() {
    createAsOwner();
    var add = guild.<StatusReply<Guild.ChannelInfo>>runCommand(
        r -> new Guild.AddChannel("2", "300", "memes", ChannelType.TEXT, r));
    assertThat(add.reply().getError().getMessage())
        .isEqualTo("forbidden: you are not a member of this guild");
    var post = guild.<StatusReply<Guild.ChannelInfo>>runCommand(
        r -> new Guild.CheckChannelAccess("2", "200", Permission.SEND_MESSAGES, r));
    assertThat(post.reply().isError()).isTrue();
    var ownerPost = guild.<StatusReply<Guild.ChannelInfo>>runCommand(
        r -> new Guild.CheckChannelAccess("1", "200", Permission.SEND_MESSAGES, r));
    assertThat(ownerPost.reply().getValue().id()).isEqualTo("200");
    var unknownChannel = guild.<StatusReply<Guild.ChannelInfo>>runCommand(
        r -> new Guild.CheckChannelAccess("1", "999", Permission.SEND_MESSAGES, r));
    assertThat(unknownChannel.reply().getError().getMessage())
        .isEqualTo("not_found: unknown channel");
  }

  @Test
  void plainMembersHoldTheEveryoneDefaultsOnly() {
    var state = Guild.State.empty("100");
    state = state.apply(new Guild.GuildCreated("g", "1", List.of()));
    assertThat(Permission.MANAGE_CHANNELS.in(state.permissionsOf("1"))).isTrue();
    assertThat(state.permissionsOf("2")).as("non-member").isZero();
    var member = new Guild.State("100", "g", "1", List.of("1", "2"), List.of());
    assertThat(Permission.SEND_MESSAGES.in(member.permissionsOf("2"))).isTrue();
    assertThat(Permission.MANAGE_CHANNELS.in(member.permissionsOf("2"))).isFalse();
    assertThat(member.addChannel("2", "5", "x", ChannelType.TEXT))
        .isEqualTo(Decision.reject(Rejection.forbidden("missing permission MANAGE_CHANNELS")));
  }
}
