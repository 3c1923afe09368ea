package dev.cloister.desktop;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Properties;

/**
 * What the desktop client remembers between runs that is not a device's: the last server and the
 * theme ({@code <profile root>/desktop.properties}). Keys and sessions stay in each device home.
 */
final class Preferences {

  private final Path file;
  private final Properties values = new Properties();

  private Preferences(Path file) {
    this.file = file;
  }

  static Preferences load(Path profileRoot) {
    Preferences p = new Preferences(profileRoot.resolve("desktop.properties"));
    if (Files.isRegularFile(p.file)) {
      try (Reader r = Files.newBufferedReader(p.file, StandardCharsets.UTF_8)) {
        p.values.load(r);
      } catch (IOException | IllegalArgumentException e) {
        // preferences are a convenience: a damaged file means defaults
        p.values.clear();
      }
    }
    return p;
  }

  String get(String key, String fallback) {
    return values.getProperty(key, fallback);
  }

  /** Sets and writes at once (atomically); a failure to write only loses the preference. */
  void put(String key, String value) {
    values.setProperty(key, value);
    try {
      Files.createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        values.store(w, "Cloister desktop client");
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      System.err.println("cloister: note: could not save preferences to " + file + ": "
          + e.getMessage());
    }
  }
}
