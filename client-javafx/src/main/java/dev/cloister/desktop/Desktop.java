package dev.cloister.desktop;

import javafx.application.Application;

/**
 * Entry point of {@code ./cloister client}. A class of its own, not the {@link Application}: with
 * JavaFX on the class path (not the module path), the launcher refuses a main class that extends
 * Application.
 */
public final class Desktop {

  private Desktop() {}

  public static void main(String[] args) {
    try {
      LaunchOptions.parse(java.util.List.of(args)); // a bad command line fails before a window opens
    } catch (IllegalArgumentException e) {
      System.err.println("cloister: " + e.getMessage());
      System.err.println(LaunchOptions.USAGE);
      System.exit(2);
    }
    Application.launch(CloisterApp.class, args);
  }
}
