package dev.cloister.desktop;

import dev.cloister.client.Guild;
import dev.cloister.client.device.Device;
import dev.cloister.mls.group.SafetyNumber;
import java.util.List;
import java.util.function.Consumer;
import javafx.geometry.Pos;
import javafx.scene.control.Button;
import javafx.scene.control.Label;
import javafx.scene.control.TextField;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.VBox;

/** The cards the main window shows in its {@link Overlay}. */
final class Dialogs {

  private static final java.time.format.DateTimeFormatter ADDED =
      java.time.format.DateTimeFormatter.ofLocalizedDateTime(java.time.format.FormatStyle.SHORT)
          .withZone(java.time.ZoneId.systemDefault());

  private final Session session;
  private final Overlay overlay;

  Dialogs(Session session, Overlay overlay) {
    this.session = session;
    this.overlay = overlay;
  }

  /** Create a guild, or join one with an invite code or link. */
  void addGuild(Consumer<GuildModel> added) {
    TextField name = new TextField();
    name.setId("guild-name-field");
    name.setPromptText("My community");
    Button create = new Button("Create");
    create.setId("create-guild");
    create.getStyleClass().add("primary");
    TextField code = new TextField();
    code.setId("invite-field");
    code.setPromptText("an invite code, or a link ending in one");
    Button join = new Button("Join");
    join.setId("join-guild");
    Label error = errorLabel("add-guild-error");
    create.setOnAction(e -> {
      if (name.getText().isBlank()) {
        error.setText("Give your guild a name.");
        return;
      }
      create.setDisable(true);
      session.call(() -> session.client.api().createGuild(name.getText().strip()), g -> {
        overlay.close();
        added.accept(session.putGuild(g));
      }, x -> {
        create.setDisable(false);
        error.setText(Problems.describe(x, Problems.Doing.OTHER));
      });
    });
    join.setOnAction(e -> {
      String c = inviteCode(code.getText());
      if (c.isEmpty()) {
        error.setText("Paste an invite code or link.");
        return;
      }
      join.setDisable(true);
      session.call(() -> {
        String guildId = session.client.api().useInvite(c);
        return session.client.api().guild(guildId);
      }, (Guild g) -> {
        overlay.close();
        added.accept(session.putGuild(g));
      }, x -> {
        join.setDisable(false);
        error.setText(Problems.unwrap(x) instanceof dev.cloister.client.http.ApiException a
            && a.status() == 404
            ? "That invite is unknown, expired or used up." : Problems.describe(x,
                Problems.Doing.OTHER));
      });
    });
    overlay.show("add-guild-dialog", "Add a guild",
        section("CREATE YOUR OWN", row(name, create)),
        section("OR JOIN WITH AN INVITE", row(code, join)), error);
    name.requestFocus();
  }

  /** The code of an invite, from a bare code or a link ending in one. */
  static String inviteCode(String text) {
    String s = text.strip();
    while (s.endsWith("/")) {
      s = s.substring(0, s.length() - 1);
    }
    int slash = s.lastIndexOf('/');
    return slash >= 0 ? s.substring(slash + 1) : s;
  }

  /** Makes an invite and shows its code, ready to copy. */
  void invite(GuildModel g) {
    TextField code = new TextField("creating…");
    code.setId("invite-code");
    code.setEditable(false);
    Label note = new Label("Anyone with this code can join " + g.name.get()
        + " for the next 7 days. New members cannot read messages sent before they joined.");
    note.setWrapText(true);
    note.getStyleClass().add("muted");
    Button copy = new Button("Copy");
    copy.setOnAction(e -> {
      var content = new javafx.scene.input.ClipboardContent();
      content.putString(code.getText());
      javafx.scene.input.Clipboard.getSystemClipboard().setContent(content);
      copy.setText("Copied");
    });
    Label error = errorLabel("invite-error");
    overlay.show("invite-dialog", "Invite friends to " + g.name.get(), row(code, copy), note,
        error);
    session.call(() -> session.client.api().createInvite(g.id), inv -> {
      code.setText(inv.code());
      code.selectAll();
      code.requestFocus();
    }, x -> {
      code.setText("");
      error.setText(Problems.describe(x, Problems.Doing.OTHER));
    });
  }

  /**
   * The safety number of you and another member, from both users' device keys: the same 60
   * digits on both sides when nobody is in between. Compare it in person or on a call.
   */
  void safetyNumber(String userId) {
    Label number = new Label("computing…");
    number.setId("safety-number");
    number.getStyleClass().add("safety-number");
    Label devices = new Label();
    devices.getStyleClass().add("muted");
    devices.setWrapText(true);
    Label how = new Label("Compare these digits with " + session.name(userId) + " in person or "
        + "on a call. If they match, nobody can read your messages in between. They change when "
        + "either of you adds or removes a device.");
    how.setWrapText(true);
    how.getStyleClass().add("muted");
    Label status = new Label();
    status.setId("safety-status");
    status.setWrapText(true);
    Button verify = new Button("Mark as verified");
    verify.setId("safety-verify");
    verify.setDisable(true);
    javafx.scene.image.ImageView qr = new javafx.scene.image.ImageView();
    qr.setId("safety-qr");
    qr.setSmooth(false);
    Label scan = new Label("Or scan this code with the other person's phone: it holds the same "
        + "digits.");
    scan.setWrapText(true);
    scan.getStyleClass().add("muted");
    scan.setVisible(false);
    scan.setManaged(false);
    HBox numberRow = new HBox(18, number, qr);
    numberRow.setAlignment(Pos.CENTER_LEFT);
    overlay.show("safety-dialog", "Safety number with " + session.name(userId), numberRow,
        scan, devices, status, how, verify).setMaxWidth(560);
    session.call(() -> {
      List<Device> mine = session.client.devices().devices(session.me);
      List<Device> theirs = session.client.devices().devices(userId);
      if (theirs.isEmpty()) {
        return new String[] {null, session.name(userId) + " has no devices yet."};
      }
      String n = SafetyNumber.of(session.me, keys(mine), userId, keys(theirs));
      return new String[] {n, "Your devices: " + mine.size() + ". Theirs: " + theirs.size() + "."};
    }, r -> {
      number.setText(r[0] == null ? "—" : r[0]); // 12 groups of 5, in rows of 4
      devices.setText(r[1]);
      if (r[0] == null) {
        return;
      }
      qr.setImage(SafetyQr.image(r[0], 4));
      javafx.scene.control.Tooltip.install(qr, new javafx.scene.control.Tooltip(
          "QR code of the safety number: " + SafetyQr.content(r[0])));
      scan.setVisible(true);
      scan.setManaged(true);
      showTrust(userId, r[0], status, verify);
      verify.setOnAction(e -> {
        try {
          session.trust.verify(userId, r[0]);
          session.trustChanged();
        } catch (java.io.IOException x) {
          status.setText("Could not save: " + x.getMessage());
          return;
        }
        showTrust(userId, r[0], status, verify);
      });
    }, x -> number.setText(Problems.describe(x, Problems.Doing.OTHER)));
  }

  private void showTrust(String userId, String number, Label status, Button verify) {
    TrustStore.Status s = session.trust.check(userId, number);
    status.getStyleClass().removeAll("error-text", "ok-text");
    switch (s) {
      case VERIFIED -> {
        status.setText("Verified by you on " + session.trust.verifiedAt(userId) + ".");
        status.getStyleClass().add("ok-text");
      }
      case CHANGED -> {
        status.setText("This number CHANGED since you verified it on "
            + session.trust.verifiedAt(userId) + ": " + session.name(userId)
            + " or you added or removed a device, or someone is in between. Compare again.");
        status.getStyleClass().add("error-text");
      }
      default -> status.setText("Not verified yet.");
    }
    verify.setDisable(s == TrustStore.Status.VERIFIED);
  }

  private static List<byte[]> keys(List<Device> devices) {
    return devices.stream().map(Device::signatureKey).toList();
  }

  /** Your devices; any but this one can be removed (its keys stop being added to groups). */
  void devices() {
    VBox list = new VBox(6);
    list.setId("device-list");
    Label error = errorLabel("devices-error");
    overlay.show("devices-dialog", "Your devices", list, error);
    loadDevices(list, error);
  }

  private void loadDevices(VBox list, Label error) {
    String here = session.client.account().deviceId();
    session.call(() -> session.client.devices().devices(session.me), devices -> {
      list.getChildren().clear();
      for (Device d : devices) {
        Label name = new Label(d.deviceId() + (d.deviceId().equals(here) ? "  (this device)" : "")
            + "   added " + (d.createdAt() == null ? "?" : ADDED.format(d.createdAt())));
        HBox row = new HBox(10, name);
        HBox.setHgrow(name, Priority.ALWAYS);
        name.setMaxWidth(Double.MAX_VALUE);
        row.setAlignment(Pos.CENTER_LEFT);
        if (!d.deviceId().equals(here)) {
          Button remove = new Button("Remove");
          remove.getStyleClass().add("danger");
          remove.setOnAction(e -> session.call(() -> {
            session.client.devices().delete(d.deviceId());
            return null;
          }, x -> loadDevices(list, error),
              x -> error.setText(Problems.describe(x, Problems.Doing.OTHER))));
          row.getChildren().add(remove);
        }
        list.getChildren().add(row);
      }
    }, x -> error.setText(Problems.describe(x, Problems.Doing.OTHER)));
  }

  private static Label errorLabel(String id) {
    Label error = new Label();
    error.setId(id);
    error.getStyleClass().add("error-text");
    error.setWrapText(true);
    return error;
  }

  private static HBox row(TextField field, Button button) {
    HBox.setHgrow(field, Priority.ALWAYS);
    HBox row = new HBox(8, field, button);
    row.setAlignment(Pos.CENTER_LEFT);
    return row;
  }

  private static VBox section(String title, HBox row) {
    Label l = new Label(title);
    l.getStyleClass().add("field-label");
    return new VBox(6, l, row);
  }
}
