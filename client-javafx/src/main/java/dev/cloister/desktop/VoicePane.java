package dev.cloister.desktop;

import dev.cloister.client.Channel;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceStats;
import javafx.animation.KeyFrame;
import javafx.animation.Timeline;
import javafx.collections.MapChangeListener;
import javafx.collections.SetChangeListener;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Button;
import javafx.scene.control.ComboBox;
import javafx.scene.control.Label;
import javafx.scene.control.ToggleButton;
import javafx.scene.control.Tooltip;
import javafx.scene.layout.FlowPane;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.VBox;
import javafx.util.Duration;

/**
 * A voice channel: who is in it (a tile each, lit while the SFU hears them), join and leave,
 * mute and deafen, the input and output to use, and how the call is doing (epoch, loss, jitter).
 */
final class VoicePane {

  private final Session session;
  private final VBox root = new VBox(14);
  private final FlowPane tiles = new FlowPane(12, 12);
  private final Label status = new Label();
  private final Label quality = new Label();
  private final Button join = new Button("Join voice");
  private final Button leave = new Button("Leave");
  private final ToggleButton mute = new ToggleButton("Mute");
  private final ToggleButton deafen = new ToggleButton("Deafen");
  private final ComboBox<String> input = new ComboBox<>();
  private final ComboBox<String> output = new ComboBox<>();
  private final Timeline stats = new Timeline(new KeyFrame(Duration.millis(700), e -> showStats()));
  private GuildModel guild;
  private Channel channel;

  VoicePane(Session session) {
    this.session = session;
    tiles.setId("voice-tiles");
    status.setId("voice-status");
    status.getStyleClass().add("muted");
    status.setWrapText(true);
    quality.setId("voice-quality");
    quality.getStyleClass().add("fine-print");
    join.setId("voice-join");
    join.getStyleClass().add("primary");
    leave.setId("voice-leave");
    leave.getStyleClass().add("danger");
    mute.setId("voice-mute");
    deafen.setId("voice-deafen");
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
      VoiceCall c = session.call.get();
      if (c != null) {
        c.setMuted(mute.isSelected());
      }
    });
    deafen.setOnAction(e -> {
      VoiceCall c = session.call.get();
      if (c != null) {
        c.setDeafened(deafen.isSelected());
      }
    });
    Label in = new Label("INPUT");
    in.getStyleClass().add("field-label");
    Label out = new Label("OUTPUT");
    out.getStyleClass().add("field-label");
    HBox controls = new HBox(8, join, leave, mute, deafen);
    controls.setAlignment(Pos.CENTER_LEFT);
    HBox devices = new HBox(8, in, input, out, output);
    devices.setAlignment(Pos.CENTER_LEFT);
    VBox.setVgrow(tiles, Priority.ALWAYS);
    root.getChildren().addAll(status, tiles, controls, devices, quality);
    root.getStyleClass().add("voice-pane");
    root.setId("voice-pane");
    session.voice.addListener((MapChangeListener<String, Session.VoiceMember>) c -> refresh());
    session.speaking.addListener((SetChangeListener<String>) c -> refresh());
    session.call.addListener((o, a, b) -> refresh());
    stats.setCycleCount(Timeline.INDEFINITE);
    stats.play();
  }

  Node root() {
    return root;
  }

  void show(GuildModel g, Channel c) {
    guild = g;
    channel = c;
    refresh();
  }

  private boolean inThisCall() {
    VoiceCall c = session.call.get();
    return c != null && channel != null && c.channelId().equals(channel.id());
  }

  private void join() {
    join.setDisable(true);
    status.setText("Joining…");
    session.joinVoice(guild.id, channel.id(), new VoiceDevices.Choice(input.getValue(),
        output.getValue()), mute.isSelected(), c -> refresh(), e -> {
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
    mute.setDisable(!in);
    deafen.setDisable(!in);
    input.setDisable(in);
    output.setDisable(in);
    tiles.getChildren().clear();
    var members = session.inVoice(guild.id, channel.id());
    for (Session.VoiceMember v : members) {
      Label face = new Label(MainView.initials(session.name(v.userId())));
      face.getStyleClass().add("voice-face");
      Label name = new Label(session.name(v.userId()));
      VBox tile = new VBox(6, face, name);
      tile.setAlignment(Pos.CENTER);
      tile.getStyleClass().add("voice-tile");
      tile.setId("voice-tile-" + v.userId());
      if (in && session.speaking.contains(v.userId())) {
        tile.getStyleClass().add("speaking");
      }
      if (v.selfMute() || v.mute() || v.selfDeaf() || v.deaf()) {
        Label state = new Label(v.selfDeaf() || v.deaf() ? "deafened" : "muted");
        state.getStyleClass().add("fine-print");
        tile.getChildren().add(state);
      }
      tiles.getChildren().add(tile);
    }
    if (in) {
      status.setText("In the call. Voice is end-to-end encrypted (SFrame with keys from the "
          + "call's MLS group); the server forwards frames it cannot read.");
    } else if (!join.isDisabled()) {
      status.setText(members.isEmpty() ? "Nobody is here yet." : members.size()
          + (members.size() == 1 ? " person is" : " people are") + " here.");
    }
  }

  private void showStats() {
    VoiceCall c = session.call.get();
    if (c == null || !inThisCall()) {
      quality.setText("");
      return;
    }
    VoiceStats s = c.engine().stats();
    double loss = s.streams().stream().mapToDouble(VoiceStats.Stream::lossRatio).max().orElse(0);
    double jitter = s.streams().stream().mapToDouble(VoiceStats.Stream::jitterMillis).max()
        .orElse(0);
    quality.setText(String.format(java.util.Locale.ROOT,
        "%s · epoch %d · %d stream(s) · loss %.1f %% · jitter %.0f ms · %d frames sent",
        s.bound() ? "connected" : "connecting", s.epoch(), s.streams().size(), loss * 100, jitter,
        s.framesSent()));
  }
}
