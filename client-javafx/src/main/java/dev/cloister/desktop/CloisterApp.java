package dev.cloister.desktop;

import dev.cloister.client.CloisterClient;
import dev.cloister.client.NotLoggedInException;
import dev.cloister.client.profile.Profile;
import java.net.URI;
import java.nio.file.Path;
import java.time.Instant;
import javafx.application.Application;
import javafx.scene.Scene;
import javafx.scene.layout.StackPane;
import javafx.stage.Stage;

/**
 * The desktop client: the sign-in screen, then the main window of one signed-in device. A
 * remembered session (the token a previous sign-in left in the device's home) skips sign-in.
 */
public final class CloisterApp extends Application {

  private LaunchOptions options;
  private Preferences prefs;
  private final Work signInWork = new Work("cloister-ui-sign-in");
  private Scene scene;
  private Session session;
  private MainView main;
  private String theme;

  /** For {@link Application#launch}: options from the command line. */
  public CloisterApp() {}

  /** For tests and tools: options given. */
  public CloisterApp(LaunchOptions options) {
    this.options = options;
  }

  @Override
  public void start(Stage stage) {
    if (options == null) {
      options = LaunchOptions.parse(getParameters().getRaw());
    }
    prefs = Preferences.load(options.profileRoot());
    theme = options.theme() != null ? options.theme() : prefs.get("theme", "dark");
    scene = new Scene(new StackPane(), 1180, 740);
    scene.getStylesheets().add(css("cloister.css"));
    applyTheme(theme);
    stage.setTitle("Cloister");
    stage.setMinWidth(820);
    stage.setMinHeight(520);
    stage.setScene(scene);
    stage.show();

    URI server = options.server() != null ? options.server() : lastServer();
    String user = prefs.get("username", null);
    SignInView signIn = showSignIn(server, user);
    if (server != null && user != null) {
      Path home = options.homeFor(server, user);
      signIn.note("Opening your saved session…");
      signInWork.run(() -> CloisterClient.open(home, server), this::enter, e -> {
        signIn.note(e instanceof NotLoggedInException && home.toFile().isDirectory()
            ? "Your saved session has ended. Sign in again." : "");
      });
    }
  }

  private URI lastServer() {
    String s = prefs.get("server", null);
    try {
      return s == null ? null : LaunchOptions.serverUrl(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private SignInView showSignIn(URI server, String user) {
    SignInView view = new SignInView(options, signInWork,
        server == null ? null : server.toString(), user, this::enter);
    scene.setRoot(view.root());
    view.focus();
    return view;
  }

  /** Signed in: remember where, connect, show the main window. */
  private void enter(CloisterClient client) {
    prefs.put("server", client.account().server().toString());
    prefs.put("username", client.account().username());
    session = new Session(client);
    main = new MainView(session, prefs, theme, this::applyTheme, this::signOut);
    scene.setRoot(main.root());
    session.connect();
  }

  /** Ends the session here and forgets its token, keeping the device's keys and messages. */
  private void signOut() {
    Session ending = session;
    session = null;
    main = null;
    URI server = ending.client.account().server();
    String user = ending.client.account().username();
    SignInView view = showSignIn(server, user);
    view.note("Signed out. This device's keys and messages stay on this computer.");
    signInWork.run(() -> {
      ending.close();
      Profile p = ending.client.profile();
      p.saveAccount(ending.client.account().withToken("", Instant.EPOCH));
      return null;
    }, x -> { }, e -> view.note("Signed out, but the session could not be forgotten: "
        + Problems.describe(e, Problems.Doing.OTHER)));
  }

  private void applyTheme(String name) {
    theme = name;
    scene.getStylesheets().removeIf(s -> s.endsWith("/dark.css") || s.endsWith("/light.css"));
    scene.getStylesheets().add(css(name + ".css"));
    if (prefs != null) {
      prefs.put("theme", name);
    }
  }

  private static String css(String name) {
    return CloisterApp.class.getResource(name).toExternalForm();
  }

  /** The main window on screen, for tests and the screenshot tour; null while signed out. */
  MainView main() {
    return main;
  }

  /** The session on screen, for tests; null while signed out. */
  Session session() {
    return session;
  }

  @Override
  public void stop() {
    if (session != null) {
      session.close();
    }
    signInWork.close();
  }
}
