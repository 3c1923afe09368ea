package dev.cloister.desktop;

import dev.cloister.client.Channel;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.format.FormatStyle;
import javafx.application.Platform;
import javafx.collections.ListChangeListener;
import javafx.collections.ObservableList;
import javafx.geometry.Orientation;
import javafx.scene.Node;
import javafx.geometry.Pos;
import javafx.scene.control.Button;
import javafx.scene.control.ContextMenu;
import javafx.scene.control.Tooltip;
import javafx.scene.control.Label;
import javafx.scene.control.ListCell;
import javafx.scene.control.ListView;
import javafx.scene.control.MenuItem;
import javafx.scene.control.ScrollBar;
import javafx.scene.control.TextArea;
import javafx.scene.input.KeyCode;
import javafx.scene.input.KeyEvent;
import javafx.scene.layout.HBox;
import javafx.scene.layout.Priority;
import javafx.scene.layout.Region;
import javafx.scene.layout.VBox;

/**
 * A text channel: its messages (paging back when scrolled to the top), who is typing, and the
 * composer (Enter sends, Shift+Enter starts a new line; Up edits your last message, Escape
 * cancels an edit). A draft is kept per channel and never lost: a send that fails puts its text
 * back.
 */
final class MessagePane {

  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofLocalizedDateTime(FormatStyle.SHORT).withZone(ZoneId.systemDefault());

  private final Session session;
  private final VBox root = new VBox();
  private final ListView<MessageItem> list = new ListView<>();
  private final Label typing = new Label();
  private final Label editing = new Label();
  private final Label problem = new Label();
  private final TextArea composer = new TextArea();
  private final java.util.Map<String, String> drafts = new java.util.HashMap<>();
  private Channel channel;
  private GuildModel guild;
  private String editingId;
  private boolean loadingOlder;
  private boolean atStart;
  private long lastTyping;
  private ObservableList<MessageItem> shown;
  /** New messages at the bottom: follow them. */
  private final ListChangeListener<MessageItem> follow = ch -> {
    while (ch.next()) {
      if (ch.wasAdded() && ch.getTo() == ch.getList().size() && !loadingOlder) {
        list.scrollTo(ch.getList().size() - 1);
      }
    }
  };

  MessagePane(Session session) {
    this.session = session;
    list.setId("messages");
    list.getStyleClass().add("messages");
    list.setCellFactory(v -> new MessageCell());
    list.setPlaceholder(new Label("No messages yet. Say hello!"));
    VBox.setVgrow(list, Priority.ALWAYS);
    typing.setId("typing");
    typing.getStyleClass().add("typing");
    editing.setId("editing");
    editing.getStyleClass().add("editing-bar");
    editing.setVisible(false);
    editing.setManaged(false);
    problem.setId("composer-error");
    problem.getStyleClass().add("error-text");
    problem.setWrapText(true);
    problem.setManaged(false);
    composer.setId("composer");
    composer.setWrapText(true);
    composer.setPrefRowCount(2);
    composer.getStyleClass().add("composer");
    composer.addEventFilter(KeyEvent.KEY_PRESSED, this::key);
    composer.textProperty().addListener((o, a, b) -> typed());
    session.names.addListener((javafx.collections.MapChangeListener<String, String>) c ->
        list.refresh());
    session.typing.addListener((javafx.collections.MapChangeListener<String, String>) c -> {
      if (channel != null && channel.id().equals(c.getKey())) {
        typing.setText(session.typing.getOrDefault(channel.id(), ""));
      }
    });
    Button send = new Button("_Send");
    send.setId("send");
    send.getStyleClass().add("primary");
    send.setTooltip(new Tooltip("Send (Enter, or Alt+S); Shift+Enter starts a new line"));
    send.setOnAction(e -> submit());
    send.setMinWidth(Region.USE_PREF_SIZE);
    HBox.setHgrow(composer, Priority.ALWAYS);
    HBox composerRow = new HBox(8, composer, send);
    composerRow.setAlignment(Pos.CENTER);
    composerRow.getStyleClass().add("composer-row");
    VBox composerBox = new VBox(composerRow);
    composerBox.getStyleClass().add("composer-box");
    ListMenus.openOnKey(list, 40); // Enter on a message: edit, pin, delete, copy
    root.getChildren().addAll(list, typing, problem, editing, composerBox);
    root.getStyleClass().add("message-pane");
    list.skinProperty().addListener((o, a, b) -> Platform.runLater(this::watchScroll));
  }

  Node root() {
    return root;
  }

  TextArea composer() {
    return composer;
  }

  void show(GuildModel g, Channel c) {
    if (channel != null) {
      drafts.put(channel.id(), composer.getText());
    }
    guild = g;
    channel = c;
    cancelEdit();
    problem.setText("");
    problem.setManaged(false);
    atStart = false;
    ObservableList<MessageItem> items = session.messages(c.id());
    if (shown != null) {
      shown.removeListener(follow);
    }
    shown = items;
    items.addListener(follow);
    list.setItems(items);
    composer.setText(drafts.getOrDefault(c.id(), ""));
    composer.setPromptText("Message #" + c.name() + " (encrypted on this device)");
    typing.setText(session.typing.getOrDefault(c.id(), ""));
    if (!items.isEmpty()) {
      list.scrollTo(items.size() - 1);
    }
    composer.requestFocus();
    Platform.runLater(composer::requestFocus); // once the pane is in the scene
  }

  /** After the first read: show the newest. */
  void scrollToEnd() {
    if (!list.getItems().isEmpty()) {
      list.scrollTo(list.getItems().size() - 1);
    }
  }

  private void key(KeyEvent e) {
    if (e.getCode() == KeyCode.TAB && !e.isControlDown()) {
      // a TextArea takes Tab as a character; in a chat composer Tab moves on, as everywhere else
      // (Ctrl+Tab is what the TextArea traverses with, so the event is passed on as that)
      e.consume();
      composer.fireEvent(new KeyEvent(KeyEvent.KEY_PRESSED, "", "", KeyCode.TAB, e.isShiftDown(),
          true, false, false));
      return;
    }
    if (e.getCode() == KeyCode.ENTER && !e.isShiftDown()) {
      e.consume();
      submit();
    } else if (e.getCode() == KeyCode.ENTER) {
      e.consume();
      composer.insertText(composer.getCaretPosition(), "\n");
    } else if (e.getCode() == KeyCode.ESCAPE && editingId != null) {
      e.consume();
      cancelEdit();
      composer.clear();
    } else if (e.getCode() == KeyCode.UP && composer.getText().isEmpty()) {
      list.getItems().stream().filter(m -> session.me.equals(m.authorId()) && m.readable()
          && !m.sending()).reduce((a, b) -> b).ifPresent(this::beginEdit);
    }
  }

  private void typed() {
    long now = System.nanoTime();
    if (channel != null && !composer.getText().isBlank() && editingId == null
        && now - lastTyping > 5_000_000_000L) {
      lastTyping = now;
      session.typing(channel.id());
    }
  }

  private void submit() {
    String text = composer.getText().strip();
    if (channel == null || text.isEmpty()) {
      return;
    }
    String channelId = channel.id();
    problem.setText("");
    problem.setManaged(false);
    composer.clear();
    lastTyping = 0;
    if (editingId != null) {
      String id = editingId;
      cancelEdit();
      session.edit(channelId, id, text, e -> failed(channelId, text, e));
    } else {
      session.send(channelId, text, e -> failed(channelId, text, e));
    }
  }

  /** Nothing typed is lost: the text comes back to the composer with the reason. */
  private void failed(String channelId, String text, Throwable e) {
    String why = "Not sent: " + Problems.describe(e, Problems.Doing.OTHER);
    if (channel != null && channel.id().equals(channelId)) {
      if (composer.getText().isEmpty()) {
        composer.setText(text);
      } else {
        composer.setText(text + "\n" + composer.getText());
      }
      problem.setText(why);
      problem.setManaged(true);
    } else {
      drafts.merge(channelId, text, (a, b) -> b + "\n" + a);
      session.notices.add(why);
    }
  }

  private void beginEdit(MessageItem m) {
    editingId = m.id();
    editing.setText("Editing your message. Enter saves, Escape cancels.");
    editing.setVisible(true);
    editing.setManaged(true);
    composer.setText(m.text());
    composer.positionCaret(composer.getText().length());
    composer.requestFocus();
  }

  private void cancelEdit() {
    editingId = null;
    editing.setVisible(false);
    editing.setManaged(false);
  }

  /** Paging back: when the list is scrolled to its top, the page before is read from the store. */
  private void watchScroll() {
    for (Node n : list.lookupAll(".scroll-bar")) {
      if (n instanceof ScrollBar bar && bar.getOrientation() == Orientation.VERTICAL) {
        bar.valueProperty().addListener((o, a, b) -> {
          if (b.doubleValue() <= bar.getMin() && a.doubleValue() > b.doubleValue()) {
            olderPage();
          }
        });
      }
    }
  }

  /** Reads the page before the oldest message shown (also what scrolling to the top does). */
  void olderPage() {
    if (channel == null || loadingOlder || atStart) {
      return;
    }
    loadingOlder = true;
    String channelId = channel.id();
    session.older(channelId, n -> {
      loadingOlder = false;
      if (channel != null && channel.id().equals(channelId)) {
        if (n == 0) {
          atStart = true;
        } else {
          list.scrollTo(n);
        }
      }
    }, e -> {
      loadingOlder = false;
      session.notices.add("Could not load older messages: "
          + Problems.describe(e, Problems.Doing.OTHER));
    });
  }

  private boolean mayManageMessages() {
    return guild != null && guild.may("MANAGE_MESSAGES", session.me);
  }

  /** One message: author, time, text (or why it cannot be read), edited and pinned marks. */
  private final class MessageCell extends ListCell<MessageItem> {

    MessageCell() {
      setPrefWidth(0); // wrap to the list's width instead of widening it
    }

    @Override
    protected void updateItem(MessageItem m, boolean empty) {
      super.updateItem(m, empty);
      setText(null);
      if (empty || m == null) {
        setGraphic(null);
        setContextMenu(null);
        return;
      }
      Label author = new Label(session.name(m.authorId()));
      author.getStyleClass().add(session.me.equals(m.authorId()) ? "author-me" : "author");
      Label time = new Label(m.sending() ? "sending…" : TIME.format(m.at()));
      time.getStyleClass().add("time");
      HBox head = new HBox(8, author, time);
      if (m.edited()) {
        Label edited = new Label("(edited)");
        edited.getStyleClass().add("time");
        head.getChildren().add(edited);
      }
      if (m.pinned()) {
        Label pinned = new Label("pinned");
        pinned.getStyleClass().add("pin-badge");
        head.getChildren().add(pinned);
      }
      Label body = new Label(m.readable() ? m.text() : m.problem());
      body.setWrapText(true);
      body.setMinHeight(Region.USE_PREF_SIZE);
      body.getStyleClass().add(m.readable() ? "message-text" : "message-unreadable");
      if (!m.readable()) {
        HBox line = new HBox(6, Icons.lock(), body);
        line.getStyleClass().add("unreadable-line");
        setGraphic(new VBox(2, head, line));
      } else {
        setGraphic(new VBox(2, head, body));
      }
      body.maxWidthProperty().bind(list.widthProperty().subtract(60));
      getStyleClass().removeAll("sending");
      if (m.sending()) {
        getStyleClass().add("sending");
      }
      setContextMenu(menu(m));
    }

    private ContextMenu menu(MessageItem m) {
      if (m.sending() || channel == null) {
        return null;
      }
      ContextMenu menu = new ContextMenu();
      boolean mine = session.me.equals(m.authorId());
      if (mine && m.readable()) {
        MenuItem edit = new MenuItem("Edit");
        edit.setOnAction(e -> beginEdit(m));
        menu.getItems().add(edit);
      }
      if (mayManageMessages()) {
        MenuItem pin = new MenuItem(m.pinned() ? "Unpin" : "Pin");
        pin.setOnAction(e -> session.pin(channel.id(), m.id(), !m.pinned(), x ->
            session.notices.add("Could not pin: " + Problems.describe(x, Problems.Doing.OTHER))));
        menu.getItems().add(pin);
      }
      if (mine || mayManageMessages()) {
        MenuItem delete = new MenuItem("Delete");
        delete.setOnAction(e -> session.delete(channel.id(), m.id(), x ->
            session.notices.add("Could not delete: " + Problems.describe(x, Problems.Doing.OTHER))));
        menu.getItems().add(delete);
      }
      if (m.readable()) {
        MenuItem copy = new MenuItem("Copy text");
        copy.setOnAction(e -> {
          var content = new javafx.scene.input.ClipboardContent();
          content.putString(m.text());
          javafx.scene.input.Clipboard.getSystemClipboard().setContent(content);
        });
        menu.getItems().add(copy);
      }
      return menu.getItems().isEmpty() ? null : menu;
    }
  }
}
