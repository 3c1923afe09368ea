package dev.cloister.desktop;

import dev.cloister.client.Channel;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javafx.animation.KeyFrame;
import javafx.animation.Timeline;
import javafx.collections.MapChangeListener;
import javafx.collections.SetChangeListener;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.Scene;
import javafx.scene.control.Button;
import javafx.scene.control.CheckBox;
import javafx.scene.control.ComboBox;
import javafx.scene.control.Label;
import javafx.scene.control.MenuButton;
import javafx.scene.control.MenuItem;
import javafx.scene.control.ProgressBar;
import javafx.scene.control.ToggleButton;
import javafx.scene.control.Tooltip;
import javafx.scene.input.KeyCode;
import javafx.scene.input.KeyCodeCombination;
import javafx.scene.input.KeyCombination;
import javafx.scene.input.KeyEvent;
import javafx.scene.layout.FlowPane;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.VBox;
import javafx.util.Duration;

/**
 * A voice channel: who is in it (a tile each, lit while the SFU hears them, their connection's
 * quality on hover, and for moderators server mute, deafen and disconnect), join and leave, mute
 * and deafen (Ctrl+Shift+M, Ctrl+Shift+D), push-to-talk, the input's level, the input and output
 * to use, and how the call is doing (epoch, loss, jitter).
 */
final class VoicePane {

  static final KeyCombination MUTE_KEYS =
      new KeyCodeCombination(KeyCode.M, KeyCombination.SHORTCUT_DOWN, KeyCombination.SHIFT_DOWN);
  static final KeyCombination DEAFEN_KEYS =
      new KeyCodeCombination(KeyCode.D, KeyCombination.SHORTCUT_DOWN, KeyCombination.SHIFT_DOWN);
  static final KeyCode DEFAULT_PTT_KEY = KeyCode.F8;

  private final Session session;
  private final Preferences prefs;
  private final VBox root = new VBox(14);
  private final FlowPane tiles = new FlowPane(12, 12);
  private final Map<String, Tile> tileByUser = new HashMap<>();
  private final Label status = new Label();
  private final Label quality = new Label();
  private final Button join = new Button("_Join voice");
  private final Button leave = new Button("_Leave");
  private final ToggleButton mute = new ToggleButton("Mute");
  private final ToggleButton deafen = new ToggleButton("Deafen");
  private final ComboBox<String> input = new ComboBox<>();
  private final ComboBox<String> output = new ComboBox<>();
  private final ProgressBar level = new ProgressBar(0);
  private final Label levelText = new Label();
  private final CheckBox ptt = new CheckBox("Push to talk");
  private final Button pttKeyButton = new Button();
  private final Label pttState = new Label();
  private final Timeline stats = new Timeline(new KeyFrame(Duration.millis(700), e -> showStats()));
  private final Timeline meter = new Timeline(new KeyFrame(Duration.millis(80), e -> showLevel()));
  private KeyCode pttKey;
  private boolean pttHeld;
  private boolean choosingKey;
  private GuildModel guild;
  private Channel channel;

  VoicePane(Session session, Preferences prefs) {
    this.session = session;
    this.prefs = prefs;
    tiles.setId("voice-tiles");
    status.setId("voice-status");
    status.getStyleClass().add("muted");
    status.setWrapText(true);
    Label waiting = new Label();
    waiting.setId("voice-waiting");
    waiting.getStyleClass().add("fine-print");
    waiting.setWrapText(true);
    waiting.textProperty().bind(session.voiceWaiting);
    waiting.visibleProperty().bind(session.voiceWaiting.isNotEmpty());
    waiting.managedProperty().bind(waiting.visibleProperty());
    quality.setId("voice-quality");
    quality.getStyleClass().add("fine-print");
    join.setId("voice-join");
    join.getStyleClass().add("primary");
    leave.setId("voice-leave");
    leave.getStyleClass().add("danger");
    mute.setId("voice-mute");
    mute.setTooltip(new Tooltip("Mute your microphone (Ctrl+Shift+M)"));
    deafen.setId("voice-deafen");
    deafen.setTooltip(new Tooltip("Hear nobody, and mute yourself too (Ctrl+Shift+D)"));
    input.setId("voice-input");
    output.setId("voice-output");
    input.getItems().setAll(VoiceDevices.inputs());
    output.getItems().setAll(VoiceDevices.outputs());
    input.getSelectionModel().select(0);
    output.getSelectionModel().select(0);
    input.setTooltip(new Tooltip("Microphone (a test tone where there is none)"));
    output.setTooltip(new Tooltip("Speakers"));
    join.setOnAction(e -> join());
    leave.setOnAction(e -> {
      session.leaveVoice();
      refresh();
    });
    mute.setOnAction(e -> {
      applyMute();
      announce();
    });
    deafen.setOnAction(e -> {
      VoiceCall c = session.call.get();
      if (c != null) {
        c.setDeafened(deafen.isSelected());
      }
      applyMute();
      announce();
    });

    level.setId("voice-level");
    level.getStyleClass().add("level-meter");
    level.setPrefWidth(180);
    level.setFocusTraversable(false);
    levelText.setId("voice-level-text");
    levelText.getStyleClass().add("fine-print");
    levelText.setMinWidth(90);
    pttKey = keyFromPrefs();
    ptt.setId("voice-ptt");
    ptt.setSelected(Boolean.parseBoolean(prefs.get("voice.pushToTalk", "false")));
    ptt.setTooltip(new Tooltip("Send your voice only while a key is held"));
    ptt.setOnAction(e -> {
      prefs.put("voice.pushToTalk", Boolean.toString(ptt.isSelected()));
      pttHeld = false;
      applyMute();
    });
    pttKeyButton.setId("voice-ptt-key");
    pttKeyButton.setTooltip(new Tooltip("Change the push-to-talk key"));
    pttKeyButton.setOnAction(e -> {
      choosingKey = true;
      pttKeyButton.setText("Press a key… (Esc cancels)");
    });
    pttState.setId("voice-ptt-state");
    pttState.getStyleClass().add("fine-print");

    Label in = new Label("INPUT");
    in.getStyleClass().add("field-label");
    Label out = new Label("OUTPUT");
    out.getStyleClass().add("field-label");
    Label lvl = new Label("LEVEL");
    lvl.getStyleClass().add("field-label");
    HBox controls = new HBox(8, join, leave, mute, deafen);
    controls.setAlignment(Pos.CENTER_LEFT);
    HBox devices = new HBox(8, in, input, out, output);
    devices.setAlignment(Pos.CENTER_LEFT);
    HBox talk = new HBox(8, lvl, level, levelText, ptt, pttKeyButton, pttState);
    talk.setAlignment(Pos.CENTER_LEFT);
    VBox.setVgrow(tiles, Priority.ALWAYS);
    root.getChildren().addAll(status, waiting, tiles, controls, talk, devices, quality);
    root.getStyleClass().add("voice-pane");
    root.setId("voice-pane");
    session.voice.addListener((MapChangeListener<String, Session.VoiceMember>) c -> refresh());
    session.speaking.addListener((SetChangeListener<String>) c -> refresh());
    session.call.addListener((o, a, b) -> refresh());
    session.callChannel.addListener((o, a, b) -> refresh());
    showPttKey();
    stats.setCycleCount(Timeline.INDEFINITE);
    stats.play();
    meter.setCycleCount(Timeline.INDEFINITE);
    meter.play();
  }

  Node root() {
    return root;
  }

  void show(GuildModel g, Channel c) {
    guild = g;
    channel = c;
    refresh();
  }

  /**
   * The keys work wherever the focus is in the window, on any channel, while in a call: mute and
   * deafen toggles, and the push-to-talk key (held; released when the window loses focus).
   */
  void watch(Scene scene) {
    scene.addEventFilter(KeyEvent.KEY_PRESSED, this::keyPressed);
    scene.addEventFilter(KeyEvent.KEY_RELEASED, this::keyReleased);
    scene.windowProperty().addListener((o, a, w) -> {
      if (w != null) {
        w.focusedProperty().addListener((x, was, focused) -> {
          if (!focused && pttHeld) {
            pttHeld = false;
            applyMute();
          }
        });
      }
    });
  }

  private void keyPressed(KeyEvent e) {
    if (choosingKey) {
      e.consume();
      choosingKey = false;
      if (e.getCode() != KeyCode.ESCAPE && !e.getCode().isModifierKey()) {
        pttKey = e.getCode();
        prefs.put("voice.pushToTalkKey", pttKey.getName());
      }
      showPttKey();
      return;
    }
    if (session.call.get() == null) {
      return;
    }
    if (MUTE_KEYS.match(e)) {
      e.consume();
      mute.setSelected(!mute.isSelected());
      mute.getOnAction().handle(null);
    } else if (DEAFEN_KEYS.match(e)) {
      e.consume();
      deafen.setSelected(!deafen.isSelected());
      deafen.getOnAction().handle(null);
    } else if (ptt.isSelected() && e.getCode() == pttKey && !typedInto(e)) {
      e.consume();
      if (!pttHeld) {
        pttHeld = true;
        applyMute();
      }
    }
  }

  private void keyReleased(KeyEvent e) {
    if (ptt.isSelected() && e.getCode() == pttKey && pttHeld) {
      e.consume();
      pttHeld = false;
      applyMute();
    }
  }

  /**
   * Whether the key is text going into a text field: a letter, digit or space chosen as the
   * push-to-talk key still types there (F8, the default, never does).
   */
  private static boolean typedInto(KeyEvent e) {
    boolean text = e.getCode().isLetterKey() || e.getCode().isDigitKey()
        || e.getCode().isWhitespaceKey();
    return text && e.getSource() instanceof Scene scene
        && scene.getFocusOwner() instanceof javafx.scene.control.TextInputControl;
  }

  private KeyCode keyFromPrefs() {
    KeyCode k = KeyCode.getKeyCode(prefs.get("voice.pushToTalkKey", DEFAULT_PTT_KEY.getName()));
    return k == null ? DEFAULT_PTT_KEY : k;
  }

  private void showPttKey() {
    pttKeyButton.setText("Key: " + pttKey.getName());
    showPttState();
  }

  private void showPttState() {
    if (!ptt.isSelected()) {
      pttState.setText("");
    } else {
      pttState.setText(pttHeld ? "Talking" : "Hold " + pttKey.getName() + " to talk");
    }
  }

  /** Whether this device sends: not muted, not deafened, and the push-to-talk key held if on. */
  private boolean sending() {
    return !mute.isSelected() && !deafen.isSelected() && (!ptt.isSelected() || pttHeld);
  }

  private void applyMute() {
    VoiceCall c = session.call.get();
    if (c != null) {
      c.setMuted(!sending());
    }
    showPttState();
  }

  /** Others see the mute and deafen buttons' state (not push-to-talk's presses). */
  private void announce() {
    VoiceCall c = session.call.get();
    if (c != null) {
      c.announce(mute.isSelected(), deafen.isSelected());
    }
  }

  private boolean inThisCall() {
    VoiceCall c = session.call.get();
    return c != null && channel != null && c.channelId().equals(channel.id());
  }

  private void join() {
    join.setDisable(true);
    status.setText("Joining…");
    session.joinVoice(guild.id, channel.id(), new VoiceDevices.Choice(input.getValue(),
        output.getValue()), !sending(), c -> {
          c.setDeafened(deafen.isSelected());
          applyMute();
          refresh();
        }, e -> {
          join.setDisable(false);
          status.setText("Could not join: " + Problems.describe(e, Problems.Doing.OTHER));
        });
  }

  private void refresh() {
    if (channel == null) {
      return;
    }
    boolean in = inThisCall();
    join.setVisible(!in);
    join.setManaged(!in);
    join.setDisable(false);
    leave.setVisible(in);
    leave.setManaged(in);
    input.setDisable(in);
    output.setDisable(in);
    List<Session.VoiceMember> members = session.inVoice(guild.id, channel.id());
    List<Node> order = new ArrayList<>();
    Map<String, Tile> keep = new HashMap<>();
    for (Session.VoiceMember v : members) {
      Tile t = tileByUser.get(v.userId());
      if (t == null) {
        t = new Tile(v.userId());
      }
      t.update(v, in);
      keep.put(v.userId(), t);
      order.add(t.box);
    }
    tileByUser.clear();
    tileByUser.putAll(keep);
    // replaced only when who is here changed: a tile keeps its focus while its state changes
    if (!tiles.getChildren().equals(order)) {
      tiles.getChildren().setAll(order);
    }
    String me = members.stream().filter(v -> v.userId().equals(session.me)).findFirst()
        .map(v -> v.mute() && v.deaf() ? " A moderator muted and deafened you."
            : v.mute() ? " A moderator muted you." : v.deaf() ? " A moderator deafened you." : "")
        .orElse("");
    if (in) {
      status.setText("In the call. Voice is end-to-end encrypted (SFrame with keys from the "
          + "call's MLS group); the server forwards frames it cannot read." + me);
    } else if (!join.isDisabled()) {
      status.setText(members.isEmpty() ? "Nobody is here yet." : members.size()
          + (members.size() == 1 ? " person is" : " people are") + " here.");
    }
    showStats();
  }

  /** The input's level (of what is captured, muted or not), a few times a second. */
  private void showLevel() {
    VoiceCall c = session.call.get();
    if (c == null || !inThisCall()) {
      level.setProgress(0);
      levelText.setText("not in a call");
      return;
    }
    int dbov = c.engine().inputLevel(); // 0 loud .. 127 silent, as -dBov
    level.setProgress(meterFraction(dbov));
    levelText.setText(dbov >= 127 ? "silence" : "-" + dbov + " dBov");
    level.getStyleClass().removeAll("level-sending", "level-held");
    level.getStyleClass().add(sending() ? "level-sending" : "level-held");
  }

  /** A meter's fill for an RFC 6464 level: -60 dBov and below is empty, 0 dBov full. */
  static double meterFraction(int dbov) {
    return Math.max(0, Math.min(1, (60 - dbov) / 60.0));
  }

  private void showStats() {
    VoiceCall c = session.call.get();
    boolean in = c != null && inThisCall();
    for (Tile t : tileByUser.values()) {
      t.tip.setText(in ? tileQuality(t.userId, c) : session.name(t.userId)
          + ": join the call to see how their connection is doing.");
    }
    if (!in) {
      quality.setText("");
      return;
    }
    VoiceStats s = c.engine().stats();
    double loss = s.streams().stream().mapToDouble(VoiceStats.Stream::lossRatio).max().orElse(0);
    double jitter = s.streams().stream().mapToDouble(VoiceStats.Stream::jitterMillis).max()
        .orElse(0);
    quality.setText(String.format(Locale.ROOT,
        "%s · epoch %d · %d stream(s) · loss %.1f %% · jitter %.0f ms · %d frames sent",
        s.bound() ? "connected" : "connecting", s.epoch(), s.streams().size(), loss * 100, jitter,
        s.framesSent()));
  }

  /** The hover text of a tile in the call this device is in. */
  private String tileQuality(String userId, VoiceCall c) {
    String name = session.name(userId);
    if (userId.equals(session.me)) {
      VoiceStats s = c.engine().stats();
      return String.format(Locale.ROOT, "You: %s to the voice server · %d frames sent · %s",
          s.bound() ? "connected" : "connecting", s.framesSent(),
          sending() ? "sending" : "not sending (muted)");
    }
    return session.quality(userId).map(st -> String.format(Locale.ROOT,
        "%s: loss %.1f %% (%d of %d packets) · jitter %.0f ms · delay %d ms", name,
        st.lossRatio() * 100, st.lost(), st.expected(), st.jitterMillis(), st.targetDelayMs()))
        .orElse(name + ": not heard yet (their loss and jitter show once they speak)");
  }

  /** One participant: face, name, state, and for moderators the controls over them. */
  private final class Tile {
    final String userId;
    final VBox box = new VBox(6);
    final Label face = new Label();
    final Label name = new Label();
    final Label state = new Label();
    final Tooltip tip = new Tooltip();
    final Button modMute = new Button();
    final Button modDeafen = new Button();
    final Button modDisconnect = new Button("Disconnect");
    /** Into another voice channel of the guild (MOVE_MEMBERS); its items are made on showing. */
    final MenuButton modMove = new MenuButton("Move to");
    final HBox mod = new HBox(4, modMute, modDeafen, modMove, modDisconnect);
    Session.VoiceMember last;

    Tile(String userId) {
      this.userId = userId;
      state.getStyleClass().add("fine-print");
      box.getChildren().addAll(face, name, state, mod);
      box.setAlignment(Pos.CENTER);
      box.getStyleClass().add("voice-tile");
      box.setId("voice-tile-" + userId);
      face.getStyleClass().add("voice-face");
      mod.setAlignment(Pos.CENTER);
      mod.getStyleClass().add("voice-moderation");
      modMute.setId("voice-mod-mute-" + userId);
      modDeafen.setId("voice-mod-deafen-" + userId);
      modDisconnect.setId("voice-mod-disconnect-" + userId);
      modMove.setId("voice-mod-move-" + userId);
      modMove.setTooltip(new Tooltip());
      modMove.setOnShowing(e -> modMove.getItems().setAll(guild.channels.stream()
          .filter(c -> "voice".equals(c.type()) && !c.id().equals(last.channelId()))
          .map(c -> {
            MenuItem item = new MenuItem(c.name());
            item.setId("voice-mod-move-" + userId + "-" + c.id());
            String from = last.channelId();
            item.setOnAction(x -> moderate(() -> session.client.api().moveVoice(from, userId,
                c.id())));
            return item;
          }).toList()));
      modDisconnect.getStyleClass().add("danger");
      modMute.setTooltip(new Tooltip());
      modDeafen.setTooltip(new Tooltip());
      modDisconnect.setTooltip(new Tooltip());
      tip.setShowDelay(Duration.millis(250));
      tip.setShowDuration(Duration.INDEFINITE);
      tip.setId("voice-quality-" + userId);
      Tooltip.install(box, tip);
      box.getProperties().put("quality", tip);
      modMute.setOnAction(e -> moderate(() -> session.client.api().moderateVoice(
          last.channelId(), userId, !last.mute(), null)));
      modDeafen.setOnAction(e -> moderate(() -> session.client.api().moderateVoice(
          last.channelId(), userId, null, !last.deaf())));
      modDisconnect.setOnAction(e -> moderate(() -> session.client.api().disconnectVoice(
          last.channelId(), userId)));
    }

    void update(Session.VoiceMember v, boolean in) {
      last = v;
      String who = session.name(userId);
      face.setText(MainView.initials(who));
      name.setText(who);
      box.getStyleClass().remove("speaking");
      if (in && session.speaking.contains(userId)) {
        box.getStyleClass().add("speaking");
      }
      List<String> says = new ArrayList<>();
      if (v.mute()) {
        says.add("server muted");
      } else if (v.selfMute()) {
        says.add("muted");
      }
      if (v.deaf()) {
        says.add("server deafened");
      } else if (v.selfDeaf()) {
        says.add("deafened");
      }
      state.setText(String.join(", ", says));
      state.setVisible(!says.isEmpty());
      state.setManaged(!says.isEmpty());
      // controls for what you may not do are not shown (the server decides in any case)
      boolean other = !userId.equals(session.me);
      boolean mayMute = other && guild.may("MUTE_MEMBERS", session.me);
      boolean mayDeafen = other && guild.may("DEAFEN_MEMBERS", session.me);
      boolean mayMove = other && guild.may("MOVE_MEMBERS", session.me);
      show(modMute, mayMute);
      show(modDeafen, mayDeafen);
      show(modDisconnect, mayMove);
      show(modMove, mayMove && guild.channels.stream()
          .anyMatch(c -> "voice".equals(c.type()) && !c.id().equals(v.channelId())));
      show(mod, mayMute || mayDeafen || mayMove);
      modMute.setText(v.mute() ? "Unmute" : "Mute");
      modMute.getTooltip().setText((v.mute() ? "Let " : "Stop ") + who
          + (v.mute() ? " speak in this call again" : " speaking in this call (server mute)"));
      modDeafen.setText(v.deaf() ? "Undeafen" : "Deafen");
      modDeafen.getTooltip().setText(v.deaf() ? "Let " + who + " hear the call again"
          : "Stop " + who + " hearing this call (server deafen)");
      modDisconnect.getTooltip().setText("Take " + who + " out of this call");
      modMove.getTooltip().setText("Move " + who + " into another voice channel");
    }

    private void moderate(Runnable change) {
      session.call(() -> {
        change.run();
        return null;
      }, x -> { }, e -> status.setText("Could not do that: "
          + Problems.describe(e, Problems.Doing.OTHER)));
    }
  }

  private static void show(Node n, boolean shown) {
    n.setVisible(shown);
    n.setManaged(shown);
  }
}
