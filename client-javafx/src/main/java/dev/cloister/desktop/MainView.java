package dev.cloister.desktop;

import dev.cloister.client.Channel;
import dev.cloister.client.Member;
import dev.cloister.client.gateway.GatewayClient;
import java.util.function.Consumer;
import javafx.collections.ListChangeListener;
import javafx.collections.MapChangeListener;
import javafx.collections.SetChangeListener;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.Parent;
import javafx.scene.control.Button;
import javafx.scene.control.CheckMenuItem;
import javafx.scene.control.Menu;
import javafx.scene.control.ContextMenu;
import javafx.scene.control.Label;
import javafx.scene.control.ListCell;
import javafx.scene.control.ListView;
import javafx.scene.control.MenuItem;
import javafx.scene.control.Tooltip;
import javafx.scene.layout.BorderPane;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.Region;
import javafx.scene.layout.StackPane;
import javafx.scene.layout.VBox;
import javafx.scene.shape.Circle;

/**
 * The main window: guild rail, the guild's channels (by category; voice channels listed), the
 * open text channel with its encryption status, the member list, a banner while the connection
 * is down, and your own panel (theme, devices, sign out).
 */
final class MainView {

  private final Session session;
  private final StackPane root = new StackPane();
  private final ListView<GuildModel> rail = new ListView<>();
  private final ListView<Channel> channels = new ListView<>();
  private final ListView<Member> members = new ListView<>();
  private final Label guildName = new Label();
  private final Button invite = new Button("Invite");
  private final Label channelTitle = new Label();
  private final Label e2ee = new Label();
  private final Label banner = new Label();
  private final Label notice = new Label();
  private final MessagePane messages;
  private final VoicePane voice;
  private final StackPane center = new StackPane();
  private final Overlay overlay = new Overlay();
  private final Dialogs dialogs;
  private GuildModel guild;

  MainView(Session session, Preferences prefs, String theme, Consumer<String> setTheme,
      Runnable signOut) {
    this.session = session;
    this.messages = new MessagePane(session);
    this.voice = new VoicePane(session, prefs);
    this.dialogs = new Dialogs(session, overlay);

    rail.setId("guild-rail");
    rail.getStyleClass().add("guild-rail");
    rail.setItems(session.guilds);
    rail.setCellFactory(v -> new GuildCell());
    rail.setPrefWidth(76);
    rail.getSelectionModel().selectedItemProperty().addListener((o, a, g) -> showGuild(g));
    Button add = new Button("+");
    add.setId("add-guild");
    add.getStyleClass().add("add-guild");
    add.setTooltip(new Tooltip("Create a guild or join one"));
    add.setOnAction(e -> dialogs.addGuild(this::select));
    VBox railBox = new VBox(8, rail, add);
    railBox.setAlignment(Pos.TOP_CENTER);
    railBox.getStyleClass().add("rail-box");
    VBox.setVgrow(rail, Priority.ALWAYS);

    guildName.setId("guild-title");
    guildName.getStyleClass().add("guild-title");
    invite.setId("invite");
    invite.getStyleClass().add("primary");
    invite.setMinWidth(Region.USE_PREF_SIZE);
    invite.setVisible(false); // until a guild where you may invite is shown
    invite.setOnAction(e -> dialogs.invite(guild));
    Region spacer = new Region();
    HBox.setHgrow(spacer, Priority.ALWAYS);
    HBox guildHeader = new HBox(8, guildName, spacer, invite);
    guildHeader.setAlignment(Pos.CENTER_LEFT);
    guildHeader.getStyleClass().add("pane-header");
    channels.setId("channels");
    channels.getStyleClass().add("channels");
    channels.setCellFactory(v -> new ChannelCell());
    channels.getSelectionModel().selectedItemProperty().addListener((o, a, c) -> showChannel(c));
    VBox.setVgrow(channels, Priority.ALWAYS);
    VBox channelBox = new VBox(guildHeader, channels, userPanel(theme, setTheme, signOut));
    channelBox.getStyleClass().add("channel-box");
    channelBox.setPrefWidth(240);

    channelTitle.setId("channel-title");
    channelTitle.getStyleClass().add("channel-title");
    e2ee.setId("e2ee");
    e2ee.getStyleClass().add("e2ee");
    HBox channelHeader = new HBox(10, channelTitle, e2ee);
    channelHeader.setAlignment(Pos.CENTER_LEFT);
    channelHeader.getStyleClass().add("pane-header");
    banner.setId("banner");
    banner.getStyleClass().add("banner");
    banner.setMaxWidth(Double.MAX_VALUE);
    banner.setVisible(false);
    banner.setManaged(false);
    notice.setId("notice");
    notice.getStyleClass().add("notice");
    notice.setMaxWidth(Double.MAX_VALUE);
    notice.setWrapText(true);
    notice.setVisible(false);
    notice.setManaged(false);
    notice.setOnMouseClicked(e -> hideNotice());
    Label empty = new Label("Create a guild or join one with the + on the left.");
    empty.getStyleClass().add("muted");
    empty.setId("empty-state");
    center.getChildren().setAll(empty);
    VBox.setVgrow(center, Priority.ALWAYS);
    VBox middle = new VBox(channelHeader, banner, notice, center);
    middle.getStyleClass().add("middle");

    members.setId("members");
    members.getStyleClass().add("members");
    members.setCellFactory(v -> new MemberCell());
    ListMenus.openOnKey(members, 24);
    members.setPrefWidth(220);
    Label membersTitle = new Label("MEMBERS");
    membersTitle.getStyleClass().add("field-label");
    VBox memberBox = new VBox(6, membersTitle, members);
    VBox.setVgrow(members, Priority.ALWAYS);
    memberBox.getStyleClass().add("member-box");

    BorderPane layout = new BorderPane(middle);
    layout.setLeft(new HBox(railBox, channelBox));
    layout.setRight(memberBox);
    root.getChildren().addAll(layout, overlay.layer());
    overlay.covers(layout);
    root.getStyleClass().add("main");
    root.sceneProperty().addListener((o, a, scene) -> {
      if (scene != null && a == null) {
        voice.watch(scene); // call keys work on every channel of the window
      }
    });

    session.connection.addListener((o, a, s) -> connectionChanged(s));
    session.unread.addListener((SetChangeListener<String>) c -> channels.refresh());
    session.voice.addListener((MapChangeListener<String, Session.VoiceMember>) c ->
        channels.refresh());
    session.speaking.addListener((SetChangeListener<String>) c -> channels.refresh());
    session.presence.addListener((MapChangeListener<String, String>) c -> members.refresh());
    session.names.addListener((MapChangeListener<String, String>) c -> members.refresh());
    session.trustVersion.addListener((o, a, b) -> members.refresh());
    session.notices.addListener((ListChangeListener<String>) c -> {
      if (!session.notices.isEmpty()) {
        showNotice(session.notices.get(session.notices.size() - 1));
      }
    });
    session.guilds.addListener((ListChangeListener<GuildModel>) c -> {
      if (rail.getSelectionModel().getSelectedItem() == null && !session.guilds.isEmpty()) {
        rail.getSelectionModel().select(0);
      } else if (guild != null && !session.guilds.contains(guild)) {
        showGuild(null);
      }
    });
    if (!session.notices.isEmpty()) {
      showNotice(String.join("\n", session.notices));
    }
  }

  Parent root() {
    return root;
  }

  Dialogs dialogs() {
    return dialogs;
  }

  private Node userPanel(String theme, Consumer<String> setTheme, Runnable signOut) {
    Label me = new Label(session.client.account().username());
    me.setId("me");
    me.getStyleClass().add("me");
    Button themeButton = new Button(theme.equals("dark") ? "Light" : "Dark");
    themeButton.setId("theme");
    themeButton.setTooltip(new Tooltip("Switch between the dark and the light theme"));
    themeButton.setOnAction(e -> {
      boolean toLight = themeButton.getText().equals("Light");
      setTheme.accept(toLight ? "light" : "dark");
      themeButton.setText(toLight ? "Dark" : "Light");
    });
    Button devices = new Button("Devices");
    devices.setId("devices");
    devices.setOnAction(e -> dialogs.devices());
    Button out = new Button("Sign out");
    out.setId("sign-out");
    out.setOnAction(e -> signOut.run());
    Label device = new Label("device " + session.client.account().deviceId());
    device.getStyleClass().add("fine-print");
    HBox buttons = new HBox(6, themeButton, devices, out);
    for (Button b : java.util.List.of(themeButton, devices, out)) {
      b.setMinWidth(Region.USE_PREF_SIZE);
    }
    VBox panel = new VBox(4, new HBox(8, me, device), buttons);
    ((HBox) panel.getChildren().get(0)).setAlignment(Pos.BASELINE_LEFT);
    panel.getStyleClass().add("user-panel");
    return panel;
  }

  private void select(GuildModel g) {
    rail.getSelectionModel().select(g);
  }

  private final javafx.beans.value.ChangeListener<Number> guildChanged = this::guildUpdated;

  /** The shown guild's roles or your permissions may have changed: redraw what depends on them. */
  private void guildUpdated(Object o, Number a, Number b) {
    members.refresh();
    if (guild != null) {
      invite.setVisible(guild.may("CREATE_INVITE", session.me));
    }
  }

  private void showGuild(GuildModel g) {
    if (guild != null) {
      guild.version.removeListener(guildChanged);
    }
    guild = g;
    if (g != null) {
      g.version.addListener(guildChanged);
    }
    if (g == null) {
      guildName.textProperty().unbind();
      guildName.setText("");
      channels.setItems(javafx.collections.FXCollections.observableArrayList());
      members.setItems(javafx.collections.FXCollections.observableArrayList());
      invite.setVisible(false);
      return;
    }
    guildName.textProperty().bind(g.name);
    invite.setVisible(g.may("CREATE_INVITE", session.me));
    channels.setItems(g.channels);
    members.setItems(g.members);
    g.channels.stream().filter(Channel::isText).findFirst()
        .ifPresent(c -> channels.getSelectionModel().select(c));
  }

  private void showChannel(Channel c) {
    if (c == null || guild == null) {
      return;
    }
    if ("category".equals(c.type())) {
      return;
    }
    if (!c.isText()) {
      channelTitle.setText(c.name());
      channelTitle.setGraphic(Icons.speaker());
      e2ee.setText("End-to-end encrypted voice");
      e2ee.setGraphic(Icons.lock());
      center.getChildren().setAll(voice.root());
      voice.show(guild, c);
      session.openChannel.set(null);
      return;
    }
    channelTitle.setText(c.name());
    channelTitle.setGraphic(Icons.hash());
    e2ee.setText("Encrypting…");
    e2ee.setGraphic(Icons.lock());
    e2ee.setTooltip(null);
    session.openChannel.set(c.id());
    center.getChildren().setAll(messages.root());
    messages.show(guild, c);
    String channelId = c.id();
    session.open(guild.id, channelId, crypto -> {
      if (!channelId.equals(session.openChannel.get())) {
        return;
      }
      messages.scrollToEnd();
      if (crypto.member()) {
        e2ee.setText("End-to-end encrypted");
        e2ee.setTooltip(new Tooltip("Messages here are encrypted on each member's device with "
            + "MLS (group " + crypto.groupId() + ", epoch " + crypto.epoch() + "). The server "
            + "stores only ciphertext. Check a member's safety number to verify them."));
      } else {
        e2ee.setText("Joining the encryption group…");
        e2ee.setTooltip(new Tooltip(crypto.detail()));
      }
    }, e -> showNotice("Could not open #" + c.name() + ": "
        + Problems.describe(e, Problems.Doing.OTHER)));
  }

  private void connectionChanged(GatewayClient.State s) {
    boolean down = s == GatewayClient.State.WAITING_TO_RECONNECT
        || s == GatewayClient.State.OFFLINE || s == GatewayClient.State.CLOSED
        || ((s == GatewayClient.State.CONNECTING || s == GatewayClient.State.RESUMING
            || s == GatewayClient.State.IDENTIFYING) && banner.isVisible());
    banner.setText(switch (s) {
      case CLOSED -> "Disconnected: " + session.connectionDetail.get() + ". Sign out and in again.";
      default -> "Connection lost. Reconnecting… Nothing you type is lost.";
    });
    banner.setVisible(down);
    banner.setManaged(down);
  }

  /** A note above the channel; it goes by itself after a while, or when clicked. */
  private void showNotice(String text) {
    String shown = text + "   (click to dismiss)";
    notice.setText(shown);
    notice.setVisible(true);
    notice.setManaged(true);
    javafx.animation.PauseTransition later =
        new javafx.animation.PauseTransition(javafx.util.Duration.seconds(10));
    later.setOnFinished(e -> {
      if (shown.equals(notice.getText())) {
        hideNotice();
      }
    });
    later.play();
  }

  private void hideNotice() {
    notice.setVisible(false);
    notice.setManaged(false);
  }

  // ---- cells ----

  private final class GuildCell extends ListCell<GuildModel> {
    @Override
    protected void updateItem(GuildModel g, boolean empty) {
      super.updateItem(g, empty);
      setText(null);
      if (empty || g == null) {
        setGraphic(null);
        setTooltip(null);
        return;
      }
      Label initials = new Label(initials(g.name.get()));
      initials.getStyleClass().add("guild-icon");
      initials.setId("guild-" + g.id);
      setGraphic(initials);
      setTooltip(new Tooltip(g.name.get()));
      setAlignment(Pos.CENTER);
    }
  }

  static String initials(String name) {
    StringBuilder b = new StringBuilder();
    for (String w : name.strip().split("\\s+")) {
      if (!w.isEmpty() && b.length() < 3) {
        b.appendCodePoint(w.codePointAt(0));
      }
    }
    return b.length() == 0 ? "?" : b.toString();
  }

  private final class ChannelCell extends ListCell<Channel> {
    @Override
    protected void updateItem(Channel c, boolean empty) {
      super.updateItem(c, empty);
      getStyleClass().removeAll("category", "unread", "voice");
      setGraphic(null);
      if (empty || c == null) {
        setText(null);
        setDisable(false);
        return;
      }
      setText(c.name());
      setDisable(false);
      switch (c.type()) {
        case "category" -> {
          setText(c.name().toUpperCase(java.util.Locale.ROOT));
          getStyleClass().add("category");
        }
        case "voice" -> {
          setText(null);
          Label name = new Label(c.name());
          name.getStyleClass().add("voice-name");
          HBox row = new HBox(8, Icons.speaker(), name);
          row.setAlignment(Pos.CENTER_LEFT);
          VBox box = new VBox(2, row);
          for (Session.VoiceMember v : session.inVoice(guild.id, c.id())) {
            Label who = new Label(session.name(v.userId())
                + (v.selfMute() || v.mute() ? "  (muted)" : ""));
            who.getStyleClass().add(session.speaking.contains(v.userId())
                ? "voice-member-speaking" : "voice-member");
            box.getChildren().add(who);
          }
          setGraphic(box);
          getStyleClass().add("voice");
        }
        default -> {
          setGraphic(Icons.hash());
          if (session.unread.contains(c.id())) {
            getStyleClass().add("unread");
          }
        }
      }
    }
  }

  private final class MemberCell extends ListCell<Member> {
    @Override
    protected void updateItem(Member m, boolean empty) {
      super.updateItem(m, empty);
      setText(null);
      if (empty || m == null || guild == null) {
        setGraphic(null);
        setContextMenu(null);
        return;
      }
      String status = session.me.equals(m.userId()) ? "online"
          : session.presence.getOrDefault(m.userId(), "offline");
      Circle dot = new Circle(5);
      dot.getStyleClass().addAll("presence", "presence-" + status);
      String shown = m.nickname() != null ? m.nickname() : session.name(m.userId());
      Label name = new Label(shown + (m.userId().equals(guild.ownerId) ? "  (owner)" : ""));
      name.getStyleClass().add("member-name");
      VBox text = new VBox(1, name);
      if (session.trust.everVerified(m.userId())) {
        Label verified = new Label("safety number verified");
        verified.getStyleClass().add("ok-text");
        verified.setStyle("-fx-font-size: 11px;");
        text.getChildren().add(verified);
      }
      java.util.List<String> roles = guild.roleNames(m);
      if (!roles.isEmpty()) {
        Label r = new Label(String.join(", ", roles));
        r.getStyleClass().add("muted");
        text.getChildren().add(r);
      }
      HBox row = new HBox(8, dot, text);
      row.setAlignment(Pos.CENTER_LEFT);
      setGraphic(row);
      setContextMenu(menu(m));
    }

    private ContextMenu menu(Member m) {
      ContextMenu menu = new ContextMenu();
      if (!session.me.equals(m.userId())) {
        MenuItem safety = new MenuItem("Safety number…");
        safety.setOnAction(e -> dialogs.safetyNumber(m.userId()));
        menu.getItems().add(safety);
      }
      boolean other = !session.me.equals(m.userId()) && !m.userId().equals(guild.ownerId);
      // controls for what you may not do are not shown (the server decides in any case)
      if (other && guild.may("KICK_MEMBERS", session.me)) {
        MenuItem kick = new MenuItem("Kick " + session.name(m.userId()));
        kick.setOnAction(e -> moderate(() -> session.client.api().kick(guild.id, m.userId())));
        menu.getItems().add(kick);
      }
      if (other && guild.may("BAN_MEMBERS", session.me)) {
        MenuItem ban = new MenuItem("Ban " + session.name(m.userId()));
        ban.setOnAction(e -> moderate(() -> session.client.api().ban(guild.id, m.userId())));
        menu.getItems().add(ban);
      }
      if (guild.may("MANAGE_ROLES", session.me)) {
        java.util.List<dev.cloister.client.Role> assignable = guild.assignableRoles(session.me);
        if (!assignable.isEmpty()) {
          Menu roles = new Menu("Roles");
          roles.setId("member-roles");
          for (dev.cloister.client.Role r : assignable) {
            CheckMenuItem item = new CheckMenuItem(r.name());
            item.setId("role-" + r.id());
            item.setSelected(m.roles() != null && m.roles().contains(r.id()));
            item.setOnAction(e -> moderate(() -> session.client.api().assignRole(guild.id,
                m.userId(), r.id(), item.isSelected())));
            roles.getItems().add(item);
          }
          menu.getItems().add(roles);
        }
      }
      return menu.getItems().isEmpty() ? null : menu;
    }
  }

  private void moderate(Runnable call) {
    session.call(() -> {
      call.run();
      return null;
    }, x -> { }, e -> showNotice(Problems.describe(e, Problems.Doing.OTHER)));
  }
}
