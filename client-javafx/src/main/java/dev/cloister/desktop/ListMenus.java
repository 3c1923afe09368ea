package dev.cloister.desktop;

import javafx.geometry.Side;
import javafx.scene.Node;
import javafx.scene.control.ListCell;
import javafx.scene.control.ListView;
import javafx.scene.input.KeyCode;
import javafx.scene.input.KeyEvent;

/** The keyboard's way to a list row's menu: Enter, the menu key or Shift+F10 opens it. */
final class ListMenus {

  private ListMenus() {}

  /** Makes those keys open the selected row's context menu, {@code indent} px in from its left. */
  static void openOnKey(ListView<?> list, double indent) {
    list.addEventHandler(KeyEvent.KEY_PRESSED, e -> {
      boolean open = e.getCode() == KeyCode.ENTER || e.getCode() == KeyCode.CONTEXT_MENU
          || (e.getCode() == KeyCode.F10 && e.isShiftDown());
      Object selected = list.getSelectionModel().getSelectedItem();
      if (!open || selected == null) {
        return;
      }
      for (Node n : list.lookupAll(".list-cell")) {
        if (n instanceof ListCell<?> cell && cell.getItem() == selected
            && cell.getContextMenu() != null) {
          e.consume();
          cell.getContextMenu().show(cell, Side.BOTTOM, indent, 0);
          return;
        }
      }
    });
  }
}
