package dev.cloister.client.cli;

/**
 * One CLI verb: its name, its arguments as the usage line shows them, a one-line summary and
 * what it does. A verb prints results on {@link Invocation#out()} and returns the exit code.
 */
record Verb(String name, String arguments, String summary, Action action) {

  @FunctionalInterface
  interface Action {
    int run(Invocation in) throws Exception;
  }

  String usage() {
    return "cloister cli [--server URL] [--home DIR] " + name + (arguments.isEmpty() ? "" : " " + arguments);
  }
}
