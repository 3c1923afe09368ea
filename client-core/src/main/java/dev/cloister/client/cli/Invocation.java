package dev.cloister.client.cli;

import dev.cloister.client.CloisterClient;
import dev.cloister.client.profile.Profile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One parsed command line: options ({@code --name value} or {@code --name=value}, anywhere;
 * {@code --} ends them), the verb and its positional arguments, and where output goes.
 */
final class Invocation {

  private static final Set<String> FLAGS = Set.of("help", "mute");

  private final Map<String, String> options = new HashMap<>();
  private final List<String> positional = new ArrayList<>();
  private final PrintStream out;
  private final PrintStream err;
  private final BufferedReader in;
  private final Map<String, String> env;

  Invocation(String[] args, PrintStream out, PrintStream err, BufferedReader in,
      Map<String, String> env) {
    this.out = out;
    this.err = err;
    this.in = in;
    this.env = env;
    boolean optionsEnded = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!optionsEnded && a.equals("--")) {
        optionsEnded = true;
      } else if (!optionsEnded && (a.equals("-h") || a.equals("--help"))) {
        options.put("help", "");
      } else if (!optionsEnded && a.startsWith("--") && a.length() > 2) {
        String name = a.substring(2);
        int eq = name.indexOf('=');
        if (eq >= 0) {
          options.put(name.substring(0, eq), name.substring(eq + 1));
        } else if (FLAGS.contains(name)) {
          options.put(name, "");
        } else if (i + 1 < args.length) {
          options.put(name, args[++i]);
        } else {
          throw new UsageException("--" + name + " needs a value");
        }
      } else {
        positional.add(a);
      }
    }
  }

  PrintStream out() {
    return out;
  }

  PrintStream err() {
    return err;
  }

  boolean help() {
    return options.containsKey("help");
  }

  /** The verb, or null when none was given. */
  String verb() {
    return positional.isEmpty() ? null : positional.get(0);
  }

  /** The verb's {@code index}-th argument (0-based), named in the error when it is missing. */
  String arg(int index, String name) {
    if (positional.size() <= index + 1) {
      throw new UsageException("missing " + name);
    }
    return positional.get(index + 1);
  }

  /** Refuses arguments beyond the {@code count} a verb takes. */
  void noMoreThan(int count) {
    if (positional.size() > count + 1) {
      throw new UsageException("unexpected argument '" + positional.get(count + 1) + "'");
    }
  }

  /** A password argument; "-" reads it from the first line of standard input (kept out of ps). */
  String password(int index) throws IOException {
    String p = arg(index, "PASSWORD");
    if (!p.equals("-")) {
      return p;
    }
    String line = in.readLine();
    if (line == null || line.isEmpty()) {
      throw new UsageException("PASSWORD is '-' but standard input gave no line");
    }
    return line;
  }

  String option(String name) {
    return options.get(name);
  }

  long longOption(String name, long fallback) {
    String v = options.get(name);
    if (v == null) {
      return fallback;
    }
    try {
      long n = Long.parseLong(v);
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " must be a whole number >= 0, not '" + v + "'");
    }
  }

  /** The options a verb does not know are mistakes, not silently ignored. */
  void onlyOptions(Set<String> verbOptions) {
    for (String name : options.keySet()) {
      if (!name.equals("server") && !name.equals("home") && !name.equals("help")
          && !verbOptions.contains(name)) {
        throw new UsageException("unknown option --" + name);
      }
    }
  }

  /** --server, else $CLOISTER_SERVER; null when neither is set. */
  URI server() {
    String s = options.getOrDefault("server", env.get("CLOISTER_SERVER"));
    if (s == null || s.isBlank()) {
      return null;
    }
    URI uri;
    try {
      uri = URI.create(s.strip());
    } catch (IllegalArgumentException e) {
      throw new UsageException("--server must be a URL like http://localhost:8080, not '" + s + "'");
    }
    if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
        || uri.getHost() == null) {
      throw new UsageException("--server must be an http:// or https:// URL, not '" + s + "'");
    }
    return uri;
  }

  /** --home, else $CLOISTER_HOME, else ~/.cloister/<server host>. */
  Path home() {
    String h = options.getOrDefault("home", env.get("CLOISTER_HOME"));
    if (h != null && !h.isBlank()) {
      return Path.of(h);
    }
    URI server = server();
    if (server == null) {
      throw new UsageException("give --server URL (or --home DIR of a logged-in profile)");
    }
    return Profile.defaultHome(server);
  }

  /** The server to log in to: --server, else the one the home's profile names. */
  URI serverForLogin() throws IOException {
    URI server = server();
    if (server != null) {
      return server;
    }
    return Profile.open(home()).account().map(Profile.Account::server).orElseThrow(
        () -> new UsageException("give --server URL: " + home() + " holds no profile yet"));
  }

  /** The logged-in device of the home. */
  CloisterClient client() throws IOException {
    return CloisterClient.open(home(), server());
  }
}
