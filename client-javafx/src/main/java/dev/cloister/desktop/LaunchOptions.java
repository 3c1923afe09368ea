package dev.cloister.desktop;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;

/**
 * The desktop client's command line: {@code --server URL} (else the last one used),
 * {@code --profile DIR} (where each account's device lives, default {@code ~/.cloister/desktop})
 * and {@code --theme dark|light}.
 */
public record LaunchOptions(URI server, Path profileRoot, String theme) {

  public static final String USAGE =
      "usage: ./cloister client [--server URL] [--profile DIR] [--theme dark|light]";

  public LaunchOptions {
    if (theme != null && !theme.equals("dark") && !theme.equals("light")) {
      throw new IllegalArgumentException("--theme is dark or light, not '" + theme + "'");
    }
  }

  public static Path defaultProfileRoot() {
    return Path.of(System.getProperty("user.home"), ".cloister", "desktop");
  }

  public static LaunchOptions parse(List<String> args) {
    URI server = null;
    Path root = defaultProfileRoot();
    String theme = null;
    for (int i = 0; i < args.size(); i++) {
      String a = args.get(i);
      if (i + 1 >= args.size() && a.startsWith("--")) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      switch (a) {
        case "--server" -> server = serverUrl(args.get(++i));
        case "--profile" -> root = Path.of(args.get(++i));
        case "--theme" -> theme = args.get(++i);
        default -> throw new IllegalArgumentException("unknown argument '" + a + "'");
      }
    }
    return new LaunchOptions(server, root.toAbsolutePath(), theme);
  }

  /** An http(s) URL with a host; a bare {@code host:port} is taken as http. */
  public static URI serverUrl(String text) {
    String s = text.strip();
    if (!s.contains("://")) {
      s = "http://" + s;
    }
    URI u;
    try {
      u = URI.create(s);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + text + "' is not a server address like "
          + "http://localhost:8080");
    }
    if (u.getHost() == null
        || !("http".equalsIgnoreCase(u.getScheme()) || "https".equalsIgnoreCase(u.getScheme()))) {
      throw new IllegalArgumentException("'" + text + "' is not a server address like "
          + "http://localhost:8080");
    }
    return u;
  }

  /**
   * The device home of an account on a server: {@code <profile root>/<host>[-<port>]/<user>}
   * (client-core's home is one device of one account, so each account gets its own).
   */
  public Path homeFor(URI server, String username) {
    String name = server.getPort() > 0 ? server.getHost() + "-" + server.getPort() : server.getHost();
    return profileRoot.resolve(safe(name)).resolve(safe(username));
  }

  private static String safe(String s) {
    return s.replaceAll("[^A-Za-z0-9._-]", "_");
  }
}
