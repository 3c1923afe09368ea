package dev.cloister.node.bench;

/**
 * How a benchmark's main ends: exit 0 when it is done, 1 (with the stack trace) when it failed.
 * The node's metrics (Kamon's threads) are not daemons, and Maven's exec:java would otherwise
 * wait for them forever after the node stopped.
 */
final class BenchMain {

  interface Body {
    void run() throws Exception;
  }

  private BenchMain() {}

  static void runAndExit(Body body) {
    try {
      body.run();
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }
}
