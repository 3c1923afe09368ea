package dev.cloister.desktop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterApi;
import dev.cloister.client.Member;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.TestServer;
import dev.cloister.client.chat.StoredMessage;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceConfig;
import dev.cloister.client.voice.audio.CapturingSink;
import dev.cloister.client.voice.audio.ToneSource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javafx.scene.control.Label;
import javafx.scene.control.ListCell;
import javafx.scene.control.ListView;
import javafx.scene.control.TextField;
import javafx.scene.control.TextInputControl;
import javafx.scene.input.KeyCode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.testfx.api.FxRobot;
import org.testfx.api.FxToolkit;
import org.testfx.util.WaitForAsyncUtils;

/**
 * The desktop client driven like a person would, headless (Monocle, set in the pom), against a
 * real node in this JVM and a second person who uses client-core directly: sign-in errors, sign
 * up, create a guild, invite, chat both ways (Enter and Shift+Enter), see an edit and a deletion,
 * join a voice channel and see the other's speaking indicator, join a guild by invite and see
 * what was sent before as "sent before you joined".
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DesktopClientTest {

  private static final Duration WAIT = Duration.ofSeconds(40);

  static TestServer server;
  static CloisterApp app;
  /** The second person (client-core), and what the first test leaves for the second. */
  static CloisterClient bob;
  static String aliceName;
  static GuildModel book;
  @TempDir(factory = TestServer.Scratch.class) // profiles fsync every save: tmpfs if any
  static Path profiles;
  private final FxRobot robot = new FxRobot();

  @BeforeAll
  static void start() throws Exception {
    try {
      FxToolkit.registerPrimaryStage();
    } catch (Throwable e) {
      String why = "SKIPPED: DesktopClientTest needs JavaFX with Monocle's headless platform "
          + "(glass.platform=Monocle, set by client-javafx/pom.xml); it could not start: " + e;
      System.err.println("\n!!!!! " + why + "\n");
      Assumptions.abort(why);
    }
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (app != null) {
      FxToolkit.cleanupApplication(app);
    }
    if (server != null) {
      server.close();
    }
  }

  @Test
  @Order(1)
  void signUpCreateAGuildInviteSomeoneAndChatBothWays() throws Exception {
    bob = server.newDevice("bob");
    String bobName = bob.account().username();
    app = (CloisterApp) FxToolkit.setupApplication(
        () -> new CloisterApp(new LaunchOptions(server.url(), profiles, "dark")));

    // Sign-in errors, each said plainly.
    fill("#username", bobName);
    fill("#password", "not bob's password");
    robot.clickOn("#sign-in");
    awaitText("#signin-error", "Wrong username or password");
    robot.clickOn("#register");
    awaitText("#signin-error", "That username is taken");
    fill("#server", "http://127.0.0.1:" + TestServer.freePort());
    robot.clickOn("#sign-in");
    awaitText("#signin-error", "Cannot reach the server");

    // Sign up.
    String alice = "alice" + System.nanoTime() % 100_000;
    aliceName = alice;
    fill("#server", server.url().toString());
    fill("#username", alice);
    fill("#password", "a long passphrase");
    robot.clickOn("#register");
    await("the main window", () -> robot.lookup("#guild-rail").tryQuery().isPresent());

    // Create a guild: its text channel opens, end-to-end encrypted.
    robot.clickOn("#add-guild");
    robot.clickOn("#guild-name-field").write("Book Club");
    robot.clickOn("#create-guild");
    awaitText("#channel-title", "general");
    awaitText("#e2ee", "End-to-end encrypted");
    book = fx(() -> app.session().guilds.get(0));
    String general = fx(() -> book.channels.stream().filter(Channel::isText).findFirst()
        .orElseThrow().id());

    // Invite bob; he joins with client-core and writes first (the UI, listening, commits his Add).
    robot.clickOn("#invite");
    await("an invite code", () -> {
      String code = robot.lookup("#invite-code").queryAs(TextField.class).getText();
      return !code.isEmpty() && !code.equals("creating…");
    });
    String code = fx(() -> robot.lookup("#invite-code").queryAs(TextField.class).getText());
    robot.clickOn("#invite-dialog-close");
    assertThat(bob.api().useInvite(code)).isEqualTo(book.id);
    CompletableFuture<String> bobSent = CompletableFuture.supplyAsync(() -> {
      try {
        return bob.chat().send(general, "hello from bob").id();
      } catch (Exception e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
    String bobMessage = bobSent.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    awaitMessage(general, "hello from bob");
    await("bob in the member list", () -> book.members.stream()
        .anyMatch(m -> m.userId().equals(bob.account().userId())));

    // Alice answers: Enter sends, Shift+Enter is a new line.
    robot.clickOn("#composer").write("hi bob");
    robot.push(KeyCode.ENTER);
    robot.write("line one");
    robot.push(KeyCode.SHIFT, KeyCode.ENTER);
    robot.write("line two");
    robot.push(KeyCode.ENTER);
    awaitMessage(general, "line one\nline two");
    assertThat(fx(() -> robot.lookup("#composer").queryAs(TextInputControl.class).getText()))
        .isEmpty();
    await("bob to read both", () -> {
      List<String> texts = bob.chat().read(general, 10).messages().stream()
          .map(StoredMessage::text).toList();
      return texts.contains("hi bob") && texts.contains("line one\nline two");
    });

    // The connection drops: a banner says so; what bob sends meanwhile arrives once it is back.
    fx(() -> {
      app.session().gateway().disconnect();
      return null;
    });
    await("the banner", () -> robot.lookup("#banner").queryAs(Label.class).isVisible());
    assertThat(fx(() -> robot.lookup("#banner").queryAs(Label.class).getText()))
        .contains("Reconnecting");
    bob.chat().send(general, "sent while you were away");
    fx(() -> {
      app.session().gateway().reconnect();
      return null;
    });
    awaitMessage(general, "sent while you were away");
    await("the banner to go", () -> !robot.lookup("#banner").queryAs(Label.class).isVisible());

    // Bob edits, then deletes his message: the window follows.
    bob.chat().edit(general, bobMessage, "hello from bob, edited");
    await("the edit", () -> items(general).stream().anyMatch(m -> m.id().equals(bobMessage)
        && "hello from bob, edited".equals(m.text()) && m.edited()));
    bob.chat().delete(general, bobMessage);
    await("the deletion", () -> items(general).stream().noneMatch(m -> m.id().equals(bobMessage)));

    // Voice: bob is in the voice channel with a tone; alice joins from the window and sees him
    // speak, then leaves.
    Channel voiceChannel = fx(() -> book.channels.stream().filter(c -> "voice".equals(c.type()))
        .findFirst().orElseThrow());
    try (BobInCall bobCall = new BobInCall(voiceChannel)) {
      String bobTile = "#voice-tile-" + bob.account().userId();
      String aliceTile = "#voice-tile-" + fx(() -> app.session().me);
      robot.clickOn("#voice-join");
      await("alice in the call", () -> robot.lookup("#voice-leave").query().isVisible()
          && robot.lookup(aliceTile).tryQuery().isPresent());
      await("bob's speaking indicator", () -> robot.lookup(bobTile).query().getStyleClass()
          .contains("speaking"));
      robot.clickOn("#voice-leave");
      await("alice out of the call", () -> robot.lookup(aliceTile).tryQuery().isEmpty());
    }

    // Bob's own guild: a message sent before alice joins reads as such; later ones read.
    Guild bobs = bob.api().createGuild("Bob's place");
    String bobsGeneral = bobs.channels().stream().filter(Channel::isText).findFirst()
        .orElseThrow().id();
    bob.chat().send(bobsGeneral, "before alice");
    String bobsCode = bob.api().createInvite(bobs.id()).code();
    robot.clickOn("#add-guild");
    robot.clickOn("#invite-field").write("http://example.invalid/invite/" + bobsCode);
    robot.clickOn("#join-guild");
    awaitText("#guild-title", "Bob's place");
    await("the earlier message marked", () -> items(bobsGeneral).stream().anyMatch(m ->
        m.problem() != null && m.problem().startsWith("Sent before you joined")));
    // Bob posts once his view of the channel's group has alice's device (her Add proposed and
    // committed): a post before that is, rightly, unreadable to her.
    String aliceId = fx(() -> app.session().me);
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (bob.chat().group(bobsGeneral).members().stream()
        .noneMatch(m -> m.startsWith(aliceId + "/"))) {
      assertThat(System.nanoTime()).as("alice in the group of Bob's channel").isLessThan(deadline);
      Thread.sleep(100);
    }
    bob.chat().send(bobsGeneral, "after alice joined");
    awaitMessage(bobsGeneral, "after alice joined");
  }

  /**
   * After the first test (alice signed in, owner of Book Club with bob in it): keyboard reach,
   * unread markers, pins, role assignment, what a member without rights is not offered, kick,
   * ban, removing a device, the safety number's QR code, and the voice controls (level meter,
   * push-to-talk, tile quality on hover, moderator mute, deafen and disconnect).
   */
  @Test
  @Order(2)
  void keyboardUnreadPinsRolesModerationDevicesQrAndVoiceControls() throws Exception {
    Assumptions.assumeTrue(book != null && fx(() -> app.session()) != null,
        "runs after the sign-up test, in its window");
    Session session = fx(app::session);
    String me = session.me;
    CloisterApi aliceApi = session.client.api();
    robot.interact(() -> robot.lookup("#guild-rail").<GuildModel>queryListView()
        .getSelectionModel().select(book));
    awaitText("#guild-title", "Book Club");
    awaitText("#channel-title", "general");

    // Keyboard: Tab from the composer reaches every part of the window (and leaves the composer).
    robot.clickOn("#composer");
    java.util.Set<String> reached = new java.util.HashSet<>();
    for (int i = 0; i < 40; i++) {
      robot.push(KeyCode.TAB);
      String id = fx(() -> {
        javafx.scene.Node n = robot.lookup("#composer").query().getScene().getFocusOwner();
        while (n != null && n.getId() == null) {
          n = n.getParent();
        }
        return n == null ? "?" : n.getId();
      });
      reached.add(id);
    }
    assertThat(reached).contains("send", "guild-rail", "add-guild", "invite", "channels",
        "messages", "composer", "members", "theme", "devices", "sign-out");

    // Two more people join; a second text channel where bob writes while alice reads #general.
    CloisterClient carol = server.newDevice("carol");
    CloisterClient dave = server.newDevice("dave");
    String code = aliceApi.createInvite(book.id).code();
    carol.api().useInvite(code);
    dave.api().useInvite(code);
    await("carol and dave in the member list", () -> book.members.stream().filter(m ->
        m.userId().equals(carol.account().userId()) || m.userId().equals(dave.account().userId()))
        .count() == 2);
    Channel random = aliceApi.createChannel(book.id, "random", "text", null);
    await("#random listed", () -> book.channel(random.id()).isPresent());
    String bobsPost = bob.chat().send(random.id(), "anyone here?").id();
    await("#random marked unread", () -> robot.lookup("#channels").lookup(".unread")
        .queryAll().stream().anyMatch(n -> n instanceof ListCell<?> c && c.getItem() == book
            .channel(random.id()).orElseThrow()));
    clickCell("#channels", c -> c instanceof Channel ch && ch.id().equals(random.id()), false);
    awaitText("#channel-title", "random");
    awaitMessage(random.id(), "anyone here?");
    assertThat(fx(() -> session.unread.contains(random.id()))).isFalse();
    assertThat(fx(() -> robot.lookup("#channels").lookup(".unread").queryAll())).isEmpty();

    // Pins: alice pins bob's message from its menu (bob sees it pinned), then unpins it.
    clickCell("#messages", m -> m instanceof MessageItem i && i.id().equals(bobsPost), true);
    robot.clickOn("Pin");
    await("the pin", () -> items(random.id()).stream().anyMatch(m -> m.id().equals(bobsPost)
        && m.pinned()));
    assertThat(bob.api().pins(random.id())).extracting(dev.cloister.client.Message::id)
        .containsExactly(bobsPost);
    assertThat(fx(() -> robot.lookup("#messages").lookup(".pin-badge").queryAll())).hasSize(1);
    clickCell("#messages", m -> m instanceof MessageItem i && i.id().equals(bobsPost), true);
    robot.clickOn("Unpin");
    await("the unpin", () -> items(random.id()).stream().anyMatch(m -> m.id().equals(bobsPost)
        && !m.pinned()));

    // Roles: the owner gives bob a role from his menu in the member list.
    dev.cloister.client.Role mods = aliceApi.createRole(book.id, "Moderator",
        List.of("MUTE_MEMBERS"));
    await("the role known", () -> book.roles.stream().anyMatch(r -> r.id().equals(mods.id())));
    String bobId = bob.account().userId();
    assertThat(memberMenu(bobId)).contains("Kick " + bob.account().username(),
        "Ban " + bob.account().username(), "Roles");
    clickCell("#members", m -> m instanceof Member x && x.userId().equals(bobId), true);
    robot.clickOn("Roles");
    robot.clickOn("Moderator");
    await("bob a moderator", () -> book.members.stream().anyMatch(m -> m.userId().equals(bobId)
        && m.roles() != null && m.roles().contains(mods.id())));
    assertThat(bob.api().members(book.id)).filteredOn(m -> m.userId().equals(bobId))
        .allMatch(m -> m.roles().contains(mods.id()));
    await("the role under his name", () -> robot.lookup("#members").lookup(".muted").queryAll()
        .stream().anyMatch(n -> n instanceof Label l && l.getText().contains("Moderator")));

    // Kick carol, ban dave, each from their menu; the server agrees.
    kickOrBan(carol, "Kick ");
    assertThatThrownBy(() -> carol.api().guild(book.id)).isInstanceOf(ApiException.class);
    kickOrBan(dave, "Ban ");
    assertThatThrownBy(() -> dave.api().useInvite(code)).isInstanceOf(ApiException.class)
        .satisfies(e -> assertThat(((ApiException) e).status()).isEqualTo(403));

    // A second device of alice's shows under Devices and is removed from there.
    CloisterClient second = CloisterClient.login(server.url(), profiles.resolve("second-device"),
        aliceName, "a long passphrase");
    String secondId = second.account().deviceId();
    robot.clickOn("#devices");
    await("both devices listed", () -> robot.lookup("#device-list").queryAs(
        javafx.scene.layout.VBox.class).getChildren().size() == 2);
    robot.clickOn(robot.lookup("#device-list").lookup(".button").queryButton());
    await("one device left", () -> robot.lookup("#device-list").queryAs(
        javafx.scene.layout.VBox.class).getChildren().size() == 1);
    assertThat(session.client.devices().devices(me)).extracting(
        dev.cloister.client.device.Device::deviceId).doesNotContain(secondId).hasSize(1);
    robot.clickOn("#devices-dialog-close");

    // The safety number with bob, and its QR code read back from the screen.
    clickCell("#members", m -> m instanceof Member x && x.userId().equals(bobId), true);
    robot.clickOn("Safety number…");
    await("the QR code", () -> robot.lookup("#safety-qr").queryAs(
        javafx.scene.image.ImageView.class).getImage() != null);
    String digits = fx(() -> robot.lookup("#safety-number").queryAs(Label.class).getText())
        .replaceAll("\\s", "");
    javafx.scene.image.Image shot = fx(() -> robot.lookup("#safety-qr").query()
        .snapshot(null, null));
    assertThat(digits).hasSize(60);
    assertThat(QrRead.decode(shot)).isEqualTo(digits);
    robot.clickOn("#safety-dialog-close");

    // In Bob's place alice holds no rights: no kick, ban or roles in bob's menu.
    GuildModel bobsPlace = fx(() -> session.guilds.stream().filter(g -> g.ownerId.equals(bobId))
        .findFirst().orElseThrow());
    robot.interact(() -> robot.lookup("#guild-rail").<GuildModel>queryListView()
        .getSelectionModel().select(bobsPlace));
    awaitText("#guild-title", "Bob's place");
    await("bob listed", () -> memberMenu(bobId) != null);
    assertThat(memberMenu(bobId)).containsExactly("Safety number…");
    robot.interact(() -> robot.lookup("#guild-rail").<GuildModel>queryListView()
        .getSelectionModel().select(book));
    awaitText("#guild-title", "Book Club");

    voiceControls(session);
  }

  /** The voice controls, with bob in Book Club's voice channel sending a tone. */
  private void voiceControls(Session session) throws Exception {
    String me = session.me;
    String bobId = bob.account().userId();
    Channel voiceChannel = fx(() -> book.channels.stream().filter(c -> "voice".equals(c.type()))
        .findFirst().orElseThrow());
    try (BobInCall bobCall = new BobInCall(voiceChannel)) {
      String bobTile = "#voice-tile-" + bobId;
      // push-to-talk on before joining: alice joins silent
      robot.clickOn("#voice-ptt");
      awaitText("#voice-ptt-state", "Hold F8 to talk");
      robot.clickOn("#voice-join");
      await("alice in the call", () -> robot.lookup("#voice-leave").query().isVisible()
          && robot.lookup("#voice-tile-" + me).tryQuery().isPresent());
      VoiceCall mine = fx(() -> session.call.get());

      // The meter shows the test tone (-12 dBFS) although nothing is sent.
      await("the level meter", () -> robot.lookup("#voice-level")
          .queryAs(javafx.scene.control.ProgressBar.class).getProgress() > 0.5);
      long before = mine.engine().stats().framesSent();
      Thread.sleep(600);
      assertThat(mine.engine().stats().framesSent()).as("push-to-talk, key up: nothing sent")
          .isEqualTo(before);
      robot.press(KeyCode.F8);
      awaitText("#voice-ptt-state", "Talking");
      await("frames sent while F8 is held",
          () -> mine.engine().stats().framesSent() > before + 5);
      robot.release(KeyCode.F8);
      awaitText("#voice-ptt-state", "Hold F8");
      Thread.sleep(100);
      long after = mine.engine().stats().framesSent();
      Thread.sleep(600);
      assertThat(mine.engine().stats().framesSent()).as("key up again").isEqualTo(after);
      // another key: the button takes the next key pressed
      robot.clickOn("#voice-ptt-key");
      robot.push(KeyCode.F7);
      awaitText("#voice-ptt-key", "F7");
      awaitText("#voice-ptt-state", "Hold F7 to talk");
      robot.clickOn("#voice-ptt"); // off again
      // Ctrl+Shift+M mutes and unmutes
      robot.push(KeyCode.CONTROL, KeyCode.SHIFT, KeyCode.M);
      await("muted by the keys", () -> robot.lookup("#voice-mute")
          .queryAs(javafx.scene.control.ToggleButton.class).isSelected());
      robot.push(KeyCode.CONTROL, KeyCode.SHIFT, KeyCode.M);
      await("unmuted by the keys", () -> !robot.lookup("#voice-mute")
          .queryAs(javafx.scene.control.ToggleButton.class).isSelected());

      // Hovering bob's tile tells how his stream reaches this device.
      await("bob speaking", () -> robot.lookup(bobTile).query().getStyleClass()
          .contains("speaking"));
      robot.moveTo(bobTile);
      await("the quality tooltip", () -> javafx.stage.Window.getWindows().stream()
          .anyMatch(w -> w instanceof javafx.scene.control.Tooltip t && t.isShowing()
              && t.getText().contains("loss") && t.getText().contains("jitter")
              && t.getText().contains(bob.account().username())));
      robot.moveTo("#voice-status");

      // The owner's moderator controls on bob's tile (never on her own).
      assertThat(fx(() -> robot.lookup("#voice-mod-mute-" + me).query().isVisible())).isFalse();
      moderatorClick("#voice-mod-mute-" + bobId, "bob server muted",
          () -> voiceState(session, bobId).mute());
      awaitText("#voice-mod-mute-" + bobId, "Unmute");
      await("his tile says so", () -> robot.lookup(bobTile).lookup(".fine-print").queryAll()
          .stream().anyMatch(n -> n instanceof Label l && l.getText().contains("server muted")));
      moderatorClick("#voice-mod-mute-" + bobId, "bob unmuted",
          () -> !voiceState(session, bobId).mute());
      moderatorClick("#voice-mod-deafen-" + bobId, "bob server deafened",
          () -> voiceState(session, bobId).deaf());
      moderatorClick("#voice-mod-deafen-" + bobId, "bob undeafened",
          () -> !voiceState(session, bobId).deaf());
      moderatorClick("#voice-mod-disconnect-" + bobId, "bob out of the call",
          () -> robot.lookup(bobTile).tryQuery().isEmpty());

      // Now bob, given MOVE_MEMBERS, disconnects alice: the window leaves the call and says why.
      CloisterApi aliceApi = session.client.api();
      var movers = aliceApi.createRole(book.id, "Movers", List.of("MOVE_MEMBERS"));
      aliceApi.assignRole(book.id, bobId, movers.id(), true);

      // Bob moves alice into another voice channel: her call follows there (the same call, now
      // the stage's), the pane of the channel she left offers to join it again, and she is told.
      Channel stage = aliceApi.createChannel(book.id, "Stage", "voice", null);
      bob.api().moveVoice(voiceChannel.id(), me, stage.id());
      await("alice's call on the stage", () -> stage.id().equals(session.callChannel.get())
          && session.call.get() == mine && mine.channelId().equals(stage.id()));
      await("the lounge's pane shows her out", () -> robot.lookup("#voice-join").query()
          .isVisible() && robot.lookup("#voice-tile-" + me).tryQuery().isEmpty());
      await("told who moved her", () -> session.notices.stream()
          .anyMatch(n -> n.contains("moved you to another voice channel")));
      assertThat(fx(() -> List.copyOf(session.notices)))
          .noneMatch(n -> n.contains("no longer in the call"));
      bob.api().moveVoice(stage.id(), me, voiceChannel.id());
      await("alice's call back in the lounge", () -> voiceChannel.id().equals(
          session.callChannel.get()));
      try {
        await("the lounge's pane shows her in", () -> robot.lookup("#voice-leave").query()
            .isVisible() && robot.lookup("#voice-tile-" + me).tryQuery().isPresent());
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "; voice states " + fx(() -> List.copyOf(
            session.voice.values())) + ", notices " + fx(() -> List.copyOf(session.notices)), e);
      }

      bob.api().disconnectVoice(voiceChannel.id(), me);
      await("alice out of the call", () -> robot.lookup("#voice-tile-" + me).tryQuery().isEmpty()
          && session.call.get() == null && robot.lookup("#voice-join").query().isVisible());
      await("told why", () -> session.notices.stream()
          .anyMatch(n -> n.contains("A moderator disconnected you")));
    }
  }

  /**
   * Bob (client-core) in a voice channel of Book Club with a 440 Hz tone, and the window showing
   * that channel with his tile, its input the test tone and no output.
   */
  private final class BobInCall implements AutoCloseable {
    private final AtomicReference<VoiceCall> call = new AtomicReference<>();
    private final GatewayClient gateway;

    BobInCall(Channel voiceChannel) throws Exception {
      gateway = bob.gateway(d -> {
        VoiceCall c = call.get();
        if (c != null) {
          c.onDispatch(d);
        }
      });
      gateway.awaitReady(WAIT);
      call.set(VoiceCall.join(bob, gateway, book.id, voiceChannel.id(), false,
          VoiceConfig.defaults(), ToneSource.of(440), new CapturingSink(1),
          new VoiceCall.Listener() {}, WAIT));
      robot.interact(() -> robot.lookup("#channels").<Channel>queryListView().getSelectionModel()
          .select(voiceChannel));
      String bobTile = "#voice-tile-" + bob.account().userId();
      await("bob's tile", () -> robot.lookup(bobTile).tryQuery().isPresent());
      robot.interact(() -> {
        robot.lookup("#voice-input").<String>queryComboBox().setValue(VoiceDevices.TEST_TONE);
        robot.lookup("#voice-output").<String>queryComboBox().setValue(VoiceDevices.NO_OUTPUT);
      });
    }

    @Override
    public void close() throws Exception {
      try (gateway) {
        VoiceCall c = call.get();
        if (c != null) {
          c.close();
        }
      }
    }
  }

  /**
   * After the others, in their window: signing in again shows who is already online at once,
   * from ready (erin's status does not change after, so no update could tell it), as the member
   * list's dot.
   */
  @Test
  @Order(3)
  void signingInShowsWhoIsAlreadyOnline() throws Exception {
    Assumptions.assumeTrue(book != null && fx(() -> app.session()) != null,
        "runs after the sign-up test, in its window");
    CloisterClient erin = server.newDevice("erin");
    String erinId = erin.account().userId();
    erin.api().useInvite(fx(() -> app.session()).client.api().createInvite(book.id).code());
    try (GatewayClient erinOnline = erin.gateway(d -> { })) {
      erinOnline.awaitReady(WAIT);
      erinOnline.presence("idle");
      await("erin idle, told while alice is signed in",
          () -> "idle".equals(app.session().presence.get(erinId)));

      robot.clickOn("#sign-out");
      await("the sign-in view", () -> robot.lookup("#password").tryQuery().isPresent());
      awaitText("#username", aliceName);
      fill("#password", "a long passphrase");
      robot.clickOn("#sign-in");
      await("the main window", () -> robot.lookup("#guild-rail").tryQuery().isPresent()
          && app.session() != null && app.session().guild(book.id).isPresent());
      GuildModel again = fx(() -> app.session().guild(book.id).orElseThrow());
      robot.interact(() -> robot.lookup("#guild-rail").<GuildModel>queryListView()
          .getSelectionModel().select(again));
      await("erin's dot idle in the member list", () -> robot.lookup("#members")
          .lookup(".list-cell").queryAll().stream().map(n -> (ListCell<?>) n)
          .anyMatch(c -> c.getItem() instanceof Member m && m.userId().equals(erinId)
              && c.getGraphic() != null && c.getGraphic().lookup(".presence-idle") != null));
    }
  }

  /** Clicks a moderator's control on a tile and waits for its effect; says what it saw if not. */
  private void moderatorClick(String button, String effect, Callable<Boolean> done)
      throws Exception {
    robot.clickOn(button);
    try {
      await(effect, done);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; the voice pane says '" + fx(() ->
          robot.lookup("#voice-status").queryAs(Label.class).getText()) + "', voice states "
          + fx(() -> List.copyOf(app.session().voice.values())), e);
    }
  }

  private static Session.VoiceMember voiceState(Session session, String userId) {
    Session.VoiceMember v = session.voice.get(book.id + "/" + userId);
    return v != null ? v : new Session.VoiceMember(book.id, null, userId, false, false, false,
        false, null, null);
  }

  private void kickOrBan(CloisterClient who, String action) throws Exception {
    String id = who.account().userId();
    await("'" + action + who.account().username() + "' offered",
        () -> memberMenuNow(id) != null && memberMenuNow(id).contains(action
            + who.account().username()));
    clickCell("#members", m -> m instanceof Member x && x.userId().equals(id), true);
    robot.clickOn(action + who.account().username());
    await(who.account().username() + " gone from the member list", () -> book.members.stream()
        .noneMatch(m -> m.userId().equals(id)));
  }

  /** The items of a member's menu (null when not listed). */
  private List<String> memberMenu(String userId) throws Exception {
    return fx(() -> memberMenuNow(userId));
  }

  /** {@link #memberMenu} on the FX thread. */
  private List<String> memberMenuNow(String userId) {
    return robot.lookup("#members").lookup(".list-cell").queryAll().stream()
        .map(n -> (ListCell<?>) n).filter(c -> c.getItem() instanceof Member m
            && m.userId().equals(userId)).findFirst()
        .map(c -> c.getContextMenu() == null ? List.<String>of() : c.getContextMenu().getItems()
            .stream().map(javafx.scene.control.MenuItem::getText).toList()).orElse(null);
  }

  /** Clicks the cell of a list showing the item that matches ({@code right}: and opens its menu). */
  private void clickCell(String list, java.util.function.Predicate<Object> item, boolean right)
      throws Exception {
    await("a cell in " + list, () -> robot.lookup(list).lookup(".list-cell").queryAll().stream()
        .anyMatch(n -> item.test(((ListCell<?>) n).getItem())));
    javafx.scene.Node cell = fx(() -> robot.lookup(list).lookup(".list-cell").queryAll().stream()
        .filter(n -> item.test(((ListCell<?>) n).getItem())).findFirst().orElseThrow());
    robot.clickOn(cell);
    if (right) {
      // the keyboard's way to its menu (Monocle's headless glass makes no context-menu event of
      // a right click)
      robot.push(KeyCode.ENTER);
      await("its menu", () -> javafx.stage.Window.getWindows().stream()
          .anyMatch(w -> w instanceof javafx.scene.control.ContextMenu m && m.isShowing()));
    }
  }

  private static List<MessageItem> items(String channelId) throws Exception {
    return fx(() -> List.copyOf(app.session().messages(channelId)));
  }

  /** Waits for a decrypted message with this text, shown in the open channel's list. */
  private void awaitMessage(String channelId, String text) throws Exception {
    try {
      await("message '" + text + "'", () -> {
        @SuppressWarnings("unchecked")
        ListView<MessageItem> list = robot.lookup("#messages").queryAs(ListView.class);
        return list.getItems() == app.session().messages(channelId) && list.getItems().stream()
            .anyMatch(m -> text.equals(m.text()) && !m.sending());
      });
    } catch (AssertionError e) {
      // say what the window had instead, and what it was told
      throw new AssertionError(e.getMessage() + "; the channel shows " + items(channelId)
          + "; notices " + fx(() -> List.copyOf(app.session().notices)), e);
    }
  }

  // ---- helpers ----

  private void fill(String query, String text) {
    TextInputControl field = robot.lookup(query).queryAs(TextInputControl.class);
    robot.interact(field::clear);
    robot.clickOn(field).write(text);
  }

  private void awaitText(String query, String part) throws Exception {
    await(query + " to contain '" + part + "'", () -> {
      var node = robot.lookup(query).tryQuery();
      if (node.isEmpty()) {
        return false;
      }
      String text = node.get() instanceof Label l ? l.getText()
          : node.get() instanceof TextField t ? t.getText() : node.get().toString();
      return text != null && text.contains(part);
    });
  }

  private static void await(String what, Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      if (fx(condition)) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("waited " + WAIT.toSeconds() + " s for " + what);
  }

  /** Runs on the FX thread and returns the result (the scene is read where it lives). */
  private static <T> T fx(Callable<T> c) throws Exception {
    return WaitForAsyncUtils.asyncFx(c).get(10, TimeUnit.SECONDS);
  }
}
