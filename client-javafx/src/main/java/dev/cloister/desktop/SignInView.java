package dev.cloister.desktop;

import dev.cloister.client.CloisterClient;
import java.net.URI;
import java.nio.file.Path;
import java.util.function.Consumer;
import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Parent;
import javafx.scene.control.Button;
import javafx.scene.control.Label;
import javafx.scene.control.PasswordField;
import javafx.scene.control.ProgressIndicator;
import javafx.scene.control.TextField;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.StackPane;
import javafx.scene.layout.VBox;

/**
 * Server, username and password; sign in or create an account. The password goes only to
 * client-core's SRP-6a, which sends the server a verifier (registering) or a proof (signing in),
 * never the password. Work runs in the background; errors are said plainly under the form.
 */
final class SignInView {

  private final LaunchOptions options;
  private final Work work;
  private final Consumer<CloisterClient> signedIn;
  private final StackPane root = new StackPane();
  private final TextField server = new TextField();
  private final TextField username = new TextField();
  private final PasswordField password = new PasswordField();
  private final Button signIn = new Button("Sign in");
  private final Button register = new Button("Create account");
  private final Label error = new Label();
  private final Label status = new Label();
  private final ProgressIndicator busy = new ProgressIndicator();

  SignInView(LaunchOptions options, Work work, String lastServer, String lastUser,
      Consumer<CloisterClient> signedIn) {
    this.options = options;
    this.work = work;
    this.signedIn = signedIn;
    server.setId("server");
    username.setId("username");
    password.setId("password");
    signIn.setId("sign-in");
    register.setId("register");
    error.setId("signin-error");
    status.setId("signin-status");
    server.setText(lastServer == null ? "http://localhost:8080" : lastServer);
    username.setText(lastUser == null ? "" : lastUser);
    server.setPromptText("http://localhost:8080");
    username.setPromptText("2–32 characters: a-z 0-9 _ .");
    password.setPromptText("password");
    signIn.setDefaultButton(true);
    signIn.getStyleClass().add("primary");
    signIn.setOnAction(e -> submit(false));
    register.setOnAction(e -> submit(true));
    error.getStyleClass().add("error-text");
    error.setWrapText(true);
    status.getStyleClass().add("muted");
    status.setWrapText(true);
    busy.setVisible(false);
    busy.setPrefSize(22, 22);

    Label title = new Label("Cloister");
    title.getStyleClass().add("signin-title");
    Label subtitle = new Label("End-to-end encrypted chat for your communities");
    subtitle.getStyleClass().add("muted");
    Label privacy = new Label("Your password never leaves this computer: the server checks it "
        + "with SRP and keeps only a verifier. Messages are encrypted on this device.");
    privacy.getStyleClass().add("fine-print");
    privacy.setWrapText(true);
    HBox buttons = new HBox(10, signIn, register, busy);
    buttons.setAlignment(Pos.CENTER_LEFT);
    HBox.setHgrow(signIn, Priority.NEVER);
    VBox card = new VBox(8, title, subtitle, field("SERVER", server), field("USERNAME", username),
        field("PASSWORD", password), buttons, error, status, privacy);
    card.getStyleClass().add("signin-card");
    card.setPadding(new Insets(28));
    card.setMaxSize(420, javafx.scene.layout.Region.USE_PREF_SIZE);
    root.getChildren().add(card);
    root.getStyleClass().add("signin");
  }

  private static VBox field(String label, javafx.scene.Node input) {
    Label l = new Label(label);
    l.getStyleClass().add("field-label");
    return new VBox(4, l, input);
  }

  Parent root() {
    return root;
  }

  /** A note above the form (a session that expired, a sign-out). */
  void note(String text) {
    status.setText(text);
  }

  void focus() {
    (username.getText().isEmpty() ? username : password).requestFocus();
  }

  private void submit(boolean create) {
    error.setText("");
    URI url;
    try {
      url = LaunchOptions.serverUrl(server.getText());
    } catch (IllegalArgumentException e) {
      error.setText(e.getMessage());
      return;
    }
    String user = username.getText().strip();
    String pass = password.getText();
    if (user.isEmpty() || pass.isEmpty()) {
      error.setText("Enter a username and a password.");
      return;
    }
    Path home = options.homeFor(url, user);
    working(true, create ? "Creating your account and this device's keys…" : "Signing in…");
    work.run(() -> create
        ? CloisterClient.register(url, home, user, pass)
        : CloisterClient.login(url, home, user, pass), client -> {
          working(false, "");
          password.clear();
          signedIn.accept(client);
        }, e -> {
          working(false, "");
          error.setText(Problems.describe(e,
              create ? Problems.Doing.REGISTER : Problems.Doing.SIGN_IN));
        });
  }

  private void working(boolean on, String text) {
    busy.setVisible(on);
    signIn.setDisable(on);
    register.setDisable(on);
    status.setText(text);
  }
}
