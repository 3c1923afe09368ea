package dev.cloister.desktop;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.TestServer;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceConfig;
import dev.cloister.client.voice.audio.CapturingSink;
import dev.cloister.client.voice.audio.ToneSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javafx.application.Platform;
import javafx.embed.swing.SwingFXUtils;
import javafx.scene.Node;
import javafx.scene.Scene;
import javafx.scene.control.Button;
import javafx.scene.control.TextInputControl;
import javafx.stage.Stage;
import javax.imageio.ImageIO;

/**
 * Takes the README's screenshots of the desktop client: a real node in this JVM, three people
 * (the window is alice's; bob and carol use client-core), each view written as a PNG with
 * JavaFX's own snapshot. Run under a display, e.g. Xvfb:
 * {@code xvfb-run -a -s "-screen 0 1400x900x24" mvn -B -q -pl client-javafx -am -Pscreenshots -DskipTests test}.
 */
public final class ScreenshotTour {

  private static final Duration WAIT = Duration.ofSeconds(60);

  private final Path out;
  private Scene scene;
  private CloisterApp app;
  private javafx.scene.control.ContextMenu shownMenu;

  private ScreenshotTour(Path out) {
    this.out = out;
  }

  public static void main(String[] args) throws Exception {
    Path out = Path.of(args.length > 0 ? args[0] : "docs").toAbsolutePath();
    Files.createDirectories(out);
    try (TestServer server = TestServer.start()) {
      new ScreenshotTour(out).run(server);
    } finally {
      Platform.exit();
    }
    System.exit(0);
  }

  private void run(TestServer server) throws Exception {
    CloisterClient bob = server.newDevice("bob");
    CloisterClient carol = server.newDevice("carol");
    Path profiles = Files.createTempDirectory("cloister-tour");
    CompletableFuture<Void> started = new CompletableFuture<>();
    Platform.startup(() -> {
      try {
        Stage stage = new Stage();
        app = new CloisterApp(new LaunchOptions(server.url(), profiles, "dark"));
        app.start(stage);
        scene = stage.getScene();
        started.complete(null);
      } catch (Exception e) {
        started.completeExceptionally(e);
      }
    });
    started.get(30, TimeUnit.SECONDS);

    // Sign-in, as a first run shows it, with the error for a name that is taken.
    type("#username", bob.account().username());
    type("#password", "something");
    press("#register");
    await(() -> text("#signin-error").contains("taken"));
    shot("desktop-sign-in.png");

    type("#username", "alice");
    type("#password", "a long passphrase");
    press("#register");
    await(() -> find("#guild-rail") != null);

    // Bob's guild, with a message from before alice joins.
    Guild bobs = bob.api().createGuild("Rust Study Group");
    String bobsGeneral = textChannel(bobs);
    bob.chat().send(bobsGeneral, "Welcome! Notes from last week are in the pinned message.");

    // Alice creates Book Club and invites bob and carol.
    press("#add-guild");
    await(() -> find("#guild-name-field") != null);
    shot("desktop-add-guild.png");
    type("#guild-name-field", "Book Club");
    press("#create-guild");
    await(() -> text("#e2ee").contains("End-to-end encrypted"));
    GuildModel book = fx(() -> app.session().guilds.get(0));
    String general = fx(() -> book.channels.stream().filter(Channel::isText).findFirst()
        .orElseThrow().id());
    press("#invite");
    await(() -> !text("#invite-code").isEmpty() && !text("#invite-code").contains("creating"));
    shot("desktop-invite.png");
    String code = text("#invite-code");
    press("#invite-dialog-close");
    bob.api().useInvite(code);
    carol.api().useInvite(code);
    CallForwarder bobCalls = new CallForwarder();
    CallForwarder carolCalls = new CallForwarder();
    GatewayClient bobOnline = bob.gateway(bobCalls);
    GatewayClient carolOnline = carol.gateway(carolCalls);
    bob.chat().send(general, "Hi all! Has everyone finished chapter 3?");
    say(general, "Almost. The part about the lighthouse keeper was wonderful.");
    carol.chat().send(general, "Finished it last night.\nNo spoilers, but the ending of the "
        + "chapter surprised me.");
    bob.chat().send(general, "Same here. Shall we meet on Thursday to talk about it?");
    say(general, "Thursday works for me. I'll bring tea.");
    await(() -> fx(() -> app.session().messages(general).stream()
        .filter(m -> m.readable() && !m.sending()).count()) >= 5);
    bobOnline.typing(general);
    await(() -> text("#typing").contains("typing"));
    fx(() -> {
      scene.getRoot().lookup("#composer").requestFocus();
      return null;
    });
    Thread.sleep(800);
    shot("desktop-chat-dark.png");

    press("#theme");
    Thread.sleep(800);
    shot("desktop-chat-light.png");
    press("#theme");

    // The connection drops: the banner.
    fx(() -> {
      app.session().gateway().disconnect();
      return null;
    });
    await(() -> find("#banner").isVisible());
    shot("desktop-reconnecting.png");
    fx(() -> {
      app.session().gateway().reconnect();
      return null;
    });
    await(() -> !find("#banner").isVisible());

    // Safety number with bob, from the member list.
    fx(() -> {
      app.main().dialogs().safetyNumber(bob.account().userId());
      return null;
    });
    await(() -> text("#safety-number").matches("(?s)[0-9 \\n]{60,}"));
    await(() -> fx(() -> ((javafx.scene.image.ImageView) scene.getRoot().lookup("#safety-qr"))
        .getImage() != null));
    shot("desktop-safety-number.png");
    press("#safety-verify");
    await(() -> text("#safety-status").startsWith("Verified"));
    press("#safety-dialog-close");
    press("#devices");
    await(() -> find("#device-list") != null
        && !((javafx.scene.layout.VBox) find("#device-list")).getChildren().isEmpty());
    shot("desktop-devices.png");
    press("#devices-dialog-close");

    // Roles: alice (the owner) made bob a moderator; his menu in the member list offers the
    // roles she may give.
    var mods = app.session().client.api().createRole(book.id, "Moderator",
        java.util.List.of("MUTE_MEMBERS", "DEAFEN_MEMBERS", "MOVE_MEMBERS"));
    app.session().client.api().assignRole(book.id, bob.account().userId(), mods.id(), true);
    app.session().client.api().createRole(book.id, "Regulars", java.util.List.of());
    await(() -> fx(() -> book.roles.size() >= 3 && book.members.stream().anyMatch(m ->
        m.roles() != null && m.roles().contains(mods.id()))));
    Thread.sleep(500);
    fx(() -> {
      for (Node n : scene.getRoot().lookup("#members").lookupAll(".list-cell")) {
        if (n instanceof javafx.scene.control.ListCell<?> cell
            && cell.getItem() instanceof dev.cloister.client.Member m
            && m.userId().equals(bob.account().userId())) {
          cell.getContextMenu().show(cell, javafx.geometry.Side.BOTTOM, -120, -10);
          shownMenu = cell.getContextMenu();
        }
      }
      return null;
    });
    Thread.sleep(500);
    fx(() -> {
      // the pointer over "Roles" opens its submenu, as a person's would (the display's robot)
      for (Node n : shownMenu.getScene().getRoot().lookupAll(".menu")) {
        var b = n.localToScreen(n.getBoundsInLocal());
        new javafx.scene.robot.Robot().mouseMove(b.getCenterX(), b.getCenterY());
      }
      return null;
    });
    Thread.sleep(600);
    shot("desktop-member-roles.png");
    fx(() -> {
      for (javafx.stage.Window w : java.util.List.copyOf(javafx.stage.Window.getWindows())) {
        if (w instanceof javafx.stage.PopupWindow p) {
          p.hide();
        }
      }
      return null;
    });

    // Voice: bob and carol talk (tones) in General; alice joins from the window.
    Channel voiceChannel = fx(() -> book.channels.stream().filter(c -> "voice".equals(c.type()))
        .findFirst().orElseThrow());
    bobOnline.awaitReady(WAIT);
    carolOnline.awaitReady(WAIT);
    bobCalls.call = VoiceCall.join(bob, bobOnline, book.id, voiceChannel.id(), false,
        VoiceConfig.defaults(), ToneSource.of(440), new CapturingSink(1),
        new VoiceCall.Listener() {}, WAIT);
    carolCalls.call = VoiceCall.join(carol, carolOnline, book.id, voiceChannel.id(), true,
        VoiceConfig.defaults(), ToneSource.of(660), new CapturingSink(1),
        new VoiceCall.Listener() {}, WAIT);
    fx(() -> {
      @SuppressWarnings("unchecked")
      var list = (javafx.scene.control.ListView<Channel>) scene.getRoot().lookup("#channels");
      list.getSelectionModel().select(voiceChannel);
      @SuppressWarnings("unchecked")
      var in = (javafx.scene.control.ComboBox<String>) scene.getRoot().lookup("#voice-input");
      in.setValue(VoiceDevices.TEST_TONE);
      @SuppressWarnings("unchecked")
      var out = (javafx.scene.control.ComboBox<String>) scene.getRoot().lookup("#voice-output");
      out.setValue(VoiceDevices.NO_OUTPUT);
      return null;
    });
    press("#voice-join");
    String bobTile = "#voice-tile-" + bob.account().userId();
    await(() -> find(bobTile) != null && find(bobTile).getStyleClass().contains("speaking"));
    await(() -> text("#voice-quality").contains("connected"));
    Thread.sleep(1500);
    // hovering bob's tile: how his stream reaches alice
    fx(() -> {
      Node tile = scene.getRoot().lookup(bobTile);
      var tip = (javafx.scene.control.Tooltip) tile.getProperties().get("quality");
      var at = tile.localToScreen(tile.getBoundsInLocal());
      tip.show(tile, at.getMinX() + 40, at.getMaxY() - 6);
      return null;
    });
    Thread.sleep(900);
    shot("desktop-voice.png");
    press("#voice-leave");
    bobCalls.call.close();
    carolCalls.call.close();

    // Alice joins bob's guild: what was sent before she joined says so.
    String bobsCode = bob.api().createInvite(bobs.id()).code();
    press("#add-guild");
    type("#invite-field", bobsCode);
    press("#join-guild");
    await(() -> text("#guild-title").equals("Rust Study Group"));
    await(() -> fx(() -> app.session().messages(bobsGeneral).stream()
        .anyMatch(m -> m.problem() != null)));
    bob.chat().send(bobsGeneral, "Hello alice, welcome aboard!");
    await(() -> fx(() -> app.session().messages(bobsGeneral).stream()
        .anyMatch(m -> "Hello alice, welcome aboard!".equals(m.text()))));
    Thread.sleep(800);
    shot("desktop-joined-late.png");
    bobOnline.close();
    carolOnline.close();
    TestServer.delete(profiles);
  }

  /** A client-core user's gateway listener that keeps the user's call (if any) in step. */
  private static final class CallForwarder implements GatewayListener {
    volatile VoiceCall call;

    @Override
    public void onDispatch(Dispatch d) {
      VoiceCall c = call;
      if (c != null) {
        c.onDispatch(d);
      }
    }
  }

  private static String textChannel(Guild g) {
    return g.channels().stream().filter(Channel::isText).findFirst().orElseThrow().id();
  }

  /** Alice sends through the composer, as she would: text, then Enter's action. */
  private void say(String channelId, String text) throws Exception {
    fx(() -> {
      app.session().send(channelId, text, e -> {
        throw new IllegalStateException(e);
      });
      return null;
    });
    await(() -> fx(() -> app.session().messages(channelId).stream()
        .anyMatch(m -> text.equals(m.text()) && !m.sending())));
  }

  private void type(String id, String text) throws Exception {
    fx(() -> {
      ((TextInputControl) scene.getRoot().lookup(id)).setText(text);
      return null;
    });
  }

  private void press(String id) throws Exception {
    await(() -> find(id) != null);
    fx(() -> {
      ((Button) scene.getRoot().lookup(id)).fire();
      return null;
    });
  }

  private Node find(String id) throws Exception {
    return fx(() -> scene.getRoot().lookup(id));
  }

  private String text(String id) throws Exception {
    return fx(() -> {
      Node n = scene.getRoot().lookup(id);
      return n instanceof javafx.scene.control.Labeled l ? l.getText()
          : n instanceof TextInputControl t ? t.getText() : "";
    });
  }

  private void shot(String name) throws Exception {
    Thread.sleep(400); // let layout and CSS settle
    var image = fx(() -> withPopups(scene.snapshot(null)));
    Path file = out.resolve(name);
    try {
      ImageIO.write(SwingFXUtils.fromFXImage(image, null), "png", file.toFile());
    } catch (IOException e) {
      throw new IOException("cannot write " + file, e);
    }
    System.out.println("screenshot: " + file);
  }

  /**
   * The window's snapshot with the menus and tooltips showing over it drawn in (a scene's
   * snapshot leaves out its popups, which are windows of their own).
   */
  private javafx.scene.image.WritableImage withPopups(javafx.scene.image.WritableImage base) {
    var w = scene.getWindow();
    var pixels = base.getPixelWriter();
    var under = base.getPixelReader();
    for (javafx.stage.Window win : javafx.stage.Window.getWindows()) {
      if (!(win instanceof javafx.stage.PopupWindow) || !win.isShowing()) {
        continue;
      }
      var params = new javafx.scene.SnapshotParameters();
      params.setFill(javafx.scene.paint.Color.TRANSPARENT);
      var popup = win.getScene().getRoot().snapshot(params, null);
      int ox = (int) Math.round(win.getX() + win.getScene().getX() - w.getX() - scene.getX());
      int oy = (int) Math.round(win.getY() + win.getScene().getY() - w.getY() - scene.getY());
      var over = popup.getPixelReader();
      for (int y = 0; y < popup.getHeight(); y++) {
        for (int x = 0; x < popup.getWidth(); x++) {
          int tx = ox + x;
          int ty = oy + y;
          if (tx < 0 || ty < 0 || tx >= base.getWidth() || ty >= base.getHeight()) {
            continue;
          }
          javafx.scene.paint.Color top = over.getColor(x, y);
          if (top.getOpacity() > 0) {
            pixels.setColor(tx, ty, under.getColor(tx, ty).interpolate(
                top.deriveColor(0, 1, 1, 1 / Math.max(top.getOpacity(), 1e-6)), top.getOpacity()));
          }
        }
      }
    }
    return base;
  }

  private static void await(Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.call()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the tour waited " + WAIT.toSeconds() + " s in vain");
      }
      Thread.sleep(100);
    }
  }

  private static <T> T fx(Callable<T> c) throws Exception {
    CompletableFuture<T> f = new CompletableFuture<>();
    Platform.runLater(() -> {
      try {
        f.complete(c.call());
      } catch (Throwable e) {
        f.completeExceptionally(e);
      }
    });
    return f.get(30, TimeUnit.SECONDS);
  }
}
