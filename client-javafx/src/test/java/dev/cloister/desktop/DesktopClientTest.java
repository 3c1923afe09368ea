package dev.cloister.desktop;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.Channel;
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
import javafx.scene.control.ListView;
import javafx.scene.control.TextField;
import javafx.scene.control.TextInputControl;
import javafx.scene.input.KeyCode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
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
class DesktopClientTest {

  private static final Duration WAIT = Duration.ofSeconds(40);

  static TestServer server;
  static CloisterApp app;
  @TempDir
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
  void signUpCreateAGuildInviteSomeoneAndChatBothWays() throws Exception {
    CloisterClient bob = server.newDevice("bob");
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
    GuildModel book = fx(() -> app.session().guilds.get(0));
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
    AtomicReference<VoiceCall> bobCall = new AtomicReference<>();
    GatewayClient bobGateway = bob.gateway(d -> {
      VoiceCall c = bobCall.get();
      if (c != null) {
        c.onDispatch(d);
      }
    });
    try (bobGateway) {
      bobGateway.awaitReady(WAIT);
      bobCall.set(VoiceCall.join(bob, bobGateway, book.id, voiceChannel.id(), false,
          VoiceConfig.defaults(), ToneSource.of(440), new CapturingSink(1),
          new VoiceCall.Listener() {}, WAIT));
      robot.interact(() -> robot.lookup("#channels").<Channel>queryListView().getSelectionModel()
          .select(voiceChannel));
      String bobTile = "#voice-tile-" + bob.account().userId();
      String aliceTile = "#voice-tile-" + fx(() -> app.session().me);
      await("bob's tile", () -> robot.lookup(bobTile).tryQuery().isPresent());
      robot.interact(() -> {
        robot.lookup("#voice-input").<String>queryComboBox().setValue(VoiceDevices.TEST_TONE);
        robot.lookup("#voice-output").<String>queryComboBox().setValue(VoiceDevices.NO_OUTPUT);
      });
      robot.clickOn("#voice-join");
      await("alice in the call", () -> robot.lookup("#voice-leave").query().isVisible()
          && robot.lookup(aliceTile).tryQuery().isPresent());
      await("bob's speaking indicator", () -> robot.lookup(bobTile).query().getStyleClass()
          .contains("speaking"));
      robot.clickOn("#voice-leave");
      await("alice out of the call", () -> robot.lookup(aliceTile).tryQuery().isEmpty());
      bobCall.get().close();
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

  private static List<MessageItem> items(String channelId) throws Exception {
    return fx(() -> List.copyOf(app.session().messages(channelId)));
  }

  /** Waits for a decrypted message with this text, shown in the open channel's list. */
  private void awaitMessage(String channelId, String text) throws Exception {
    await("message '" + text + "'", () -> {
      @SuppressWarnings("unchecked")
      ListView<MessageItem> list = robot.lookup("#messages").queryAs(ListView.class);
      return list.getItems() == app.session().messages(channelId) && list.getItems().stream()
          .anyMatch(m -> text.equals(m.text()) && !m.sending());
    });
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
