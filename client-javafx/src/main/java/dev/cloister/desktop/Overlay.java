package dev.cloister.desktop;

import javafx.geometry.Insets;
import javafx.geometry.Pos;
import javafx.scene.Node;
import javafx.scene.control.Button;
import javafx.scene.control.Label;
import javafx.scene.input.KeyCode;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Region;
import javafx.scene.layout.StackPane;
import javafx.scene.layout.VBox;

/**
 * A modal card over the window (create or join a guild, an invite, a safety number, your
 * devices), inside the scene rather than in a second window; Escape or Close dismisses it.
 */
final class Overlay {

  private final StackPane layer = new StackPane();
  /** What the card covers: inert while it shows, so Tab stays inside the card. */
  private Node behind;
  /** Where the focus was when the card opened: it goes back there when the card closes. */
  private Node focusBefore;

  Overlay() {
    layer.getStyleClass().add("overlay");
    layer.setVisible(false);
    layer.setOnMouseClicked(e -> {
      if (e.getTarget() == layer) {
        close();
      }
    });
    layer.setOnKeyPressed(e -> {
      if (e.getCode() == KeyCode.ESCAPE) {
        close();
      }
    });
  }

  Node layer() {
    return layer;
  }

  /** The window's content under the card (disabled while a card shows). */
  void covers(Node content) {
    behind = content;
  }

  /** Shows a card with a title, its content and a Close button. */
  VBox show(String id, String title, Node... content) {
    Label heading = new Label(title);
    heading.getStyleClass().add("dialog-title");
    Button close = new Button("Close");
    close.setId(id + "-close");
    close.setCancelButton(true);
    close.setOnAction(e -> close());
    HBox bottom = new HBox(close);
    bottom.setAlignment(Pos.CENTER_RIGHT);
    VBox card = new VBox(12);
    card.setId(id);
    card.getChildren().add(heading);
    card.getChildren().addAll(content);
    card.getChildren().add(bottom);
    card.getStyleClass().add("dialog");
    card.setPadding(new Insets(22));
    card.setMaxSize(460, Region.USE_PREF_SIZE);
    if (!layer.isVisible() && layer.getScene() != null) {
      focusBefore = layer.getScene().getFocusOwner();
    }
    layer.getChildren().setAll(card);
    layer.setVisible(true);
    if (behind != null) {
      behind.setDisable(true);
    }
    // the keyboard starts in the card: its first control that takes focus
    javafx.application.Platform.runLater(() -> card.lookupAll("*").stream()
        .filter(n -> n.isFocusTraversable() && !n.isDisabled() && n.isVisible()).findFirst()
        .ifPresent(n -> {
          if (card.getScene() != null && !isInside(card.getScene().getFocusOwner(), card)) {
            n.requestFocus();
          }
        }));
    return card;
  }

  void close() {
    layer.setVisible(false);
    layer.getChildren().clear();
    if (behind != null) {
      behind.setDisable(false);
    }
    Node back = focusBefore;
    focusBefore = null;
    if (back != null && back.getScene() != null && !back.isDisabled()) {
      back.requestFocus();
    }
  }

  private static boolean isInside(Node n, Node parent) {
    for (Node at = n; at != null; at = at.getParent()) {
      if (at == parent) {
        return true;
      }
    }
    return false;
  }
}
