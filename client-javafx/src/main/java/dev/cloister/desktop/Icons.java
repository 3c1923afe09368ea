package dev.cloister.desktop;

import javafx.scene.shape.SVGPath;

/** Small vector icons, so nothing depends on which fonts have which symbols. */
final class Icons {

  private Icons() {}

  static SVGPath lock() {
    return icon("M4 7V5a4 4 0 0 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 0 0-4 0v2z", "icon-lock");
  }

  static SVGPath speaker() {
    return icon("M2 6h3l4-3v10l-4-3H2zM11 5a4 4 0 0 1 0 6l-1-1a2.6 2.6 0 0 0 0-4z",
        "icon-speaker");
  }

  static SVGPath hash() {
    return icon("M6 1h2L7.5 5h3L11 1h2l-.5 4H15v2h-2.8l-.4 3H15v2h-3.5L11 16H9l.5-4h-3L6 16H4"
        + "l.5-4H1v-2h3.8l.4-3H1V5h3.5zm1.3 6-.4 3h3l.4-3z", "icon-hash");
  }

  private static SVGPath icon(String path, String style) {
    SVGPath p = new SVGPath();
    p.setContent(path);
    p.getStyleClass().addAll("icon", style);
    return p;
  }
}
