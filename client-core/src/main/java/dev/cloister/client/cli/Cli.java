package dev.cloister.client.cli;

import dev.cloister.client.NotLoggedInException;
import dev.cloister.client.ProfileMismatchException;
import dev.cloister.client.auth.ServerAuthenticationException;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.ServerUnreachableException;
import dev.cloister.client.profile.CorruptFileException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The headless client: {@code cloister cli --server URL --home DIR <verb> [args]}. Each verb is
 * one process with its state in the home directory; results go to stdout, errors to stderr.
 * Exit codes: 0 done, 1 the server, network or stored state said no, 2 a wrong command line,
 * 3 {@code open} could not decrypt the message.
 *
 * <p>A verb is one {@link Verb} entry whose action is a small static method; add it to
 * {@link #VERBS} through its feature's {@code all()} list.
 */
public final class Cli {

  static final int OK = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  static final Map<String, Verb> VERBS = new LinkedHashMap<>();

  static {
    List<Verb> all = new ArrayList<>();
    all.addAll(AccountVerbs.all());
    all.addAll(GuildVerbs.all());
    all.addAll(ChatVerbs.all());
    all.addAll(ListenVerb.all());
    all.addAll(VoiceVerb.all());
    all.forEach(v -> VERBS.put(v.name(), v));
  }

  private Cli() {}

  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    int code = run(args, out, err, stdin, System.getenv());
    out.flush();
    err.flush();
    System.exit(code);
  }

  /** Runs one verb and returns its exit code; never exits the JVM (tests call this). */
  public static int run(String[] args, PrintStream out, PrintStream err, BufferedReader stdin,
      Map<String, String> env) {
    Invocation in;
    try {
      in = new Invocation(args, out, err, stdin, env);
    } catch (UsageException e) {
      err.println("cloister: " + e.getMessage());
      err.println("Try 'cloister cli --help'.");
      return USAGE;
    }
    String name = in.verb();
    if (name == null) {
      if (in.help()) {
        out.print(usage());
        return OK;
      }
      err.println("cloister: no verb given");
      err.print(usage());
      return USAGE;
    }
    Verb verb = VERBS.get(name);
    if (verb == null) {
      err.println("cloister: unknown verb '" + name + "'");
      err.print(usage());
      return USAGE;
    }
    if (in.help()) {
      out.println("usage: " + verb.usage());
      out.println("  " + verb.summary());
      return OK;
    }
    try {
      return verb.action().run(in);
    } catch (UsageException e) {
      err.println("cloister: " + name + ": " + e.getMessage());
      err.println("usage: " + verb.usage());
      return USAGE;
    } catch (ApiException e) {
      err.println("cloister: error: " + e.getMessage() + " (" + e.status() + " " + e.code() + ")");
      return FAILED;
    } catch (ServerUnreachableException | NotLoggedInException | ProfileMismatchException
        | ServerAuthenticationException | CorruptFileException e) {
      err.println("cloister: error: " + e.getMessage());
      return FAILED;
    } catch (dev.cloister.client.chat.ChatException e) {
      err.println("cloister: error: " + e.getMessage());
      return FAILED;
    } catch (IOException e) {
      err.println("cloister: error: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
      return FAILED;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("cloister: interrupted");
      return FAILED;
    } catch (Exception e) {
      err.println("cloister: unexpected error: " + e);
      return FAILED;
    }
  }

  static String usage() {
    StringBuilder b = new StringBuilder();
    b.append("usage: cloister cli [--server URL] [--home DIR] <verb> [args]\n\n");
    b.append("  --server URL  the Cloister server (or $CLOISTER_SERVER); after login the home remembers it\n");
    b.append("  --home DIR    this device's state (or $CLOISTER_HOME; default ~/.cloister/<server host>)\n\n");
    b.append("verbs:\n");
    for (Verb v : VERBS.values()) {
      String head = v.name() + (v.arguments().isEmpty() ? "" : " " + v.arguments());
      b.append("  ").append(head).append('\n');
      b.append("      ").append(v.summary()).append('\n');
    }
    b.append("\n'cloister cli <verb> --help' shows one verb. Exit codes: 0 done, 1 refused or failed, 2 bad command line, 3 open cannot decrypt.\n");
    return b.toString();
  }
}
