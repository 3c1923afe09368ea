package dev.cloister.node;

import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A node in a JVM of its own, for tests that kill it: {@link #start} launches this class's
 * {@link #main} (a test node on the given data directory and ports) and returns once it serves.
 */
final class NodeProcess {

  static final String READY = "cloister-test-node-ready";

  public static void main(String[] args) throws Exception {
    // Without Kamon's agent, as TestCluster's nodes: attaching it costs a fresh JVM seconds, and
    // what these nodes are started for (being killed) does not involve it.
    Node node = Node.start(ConfigFactory.parseMap(Map.of(
            "cloister.metrics.instrument-pekko", "off"))
        .withFallback(TestNodes.config(Path.of(args[0]), Integer.parseInt(args[1]),
            Integer.parseInt(args[2]))));
    System.out.println(READY);
    System.out.flush();
    node.system().getWhenTerminated().toCompletableFuture().join();
  }

  /** Starts a node process and waits (at most {@code timeout}) until it serves requests. */
  static Process start(Path dataDir, int httpPort, int managementPort, Duration timeout)
      throws Exception {
    return launch(NodeProcess.class.getName(), List.of(dataDir.toString(),
        Integer.toString(httpPort), Integer.toString(managementPort)), READY, "", timeout);
  }

  /**
   * Runs {@code mainClass} of the test classpath in a JVM of its own and waits (at most
   * {@code timeout}) until it prints {@code readyLine}; its other output is echoed, prefixed.
   */
  static Process launch(String mainClass, List<String> args, String readyLine, String label,
      Duration timeout) throws Exception {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), mainClass));
    command.addAll(args);
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String prefix = "[node " + (label.isEmpty() ? Long.toString(p.pid()) : label) + "] ";
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Thread echo = new Thread(() -> {
      try (BufferedReader out = new BufferedReader(
          new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = out.readLine()) != null) {
          if (line.equals(readyLine)) {
            ready.complete(null);
          } else {
            System.out.println(prefix + line);
          }
        }
      } catch (Exception ignored) {
        // the process is gone
      }
      ready.completeExceptionally(new IllegalStateException("the node process exited"));
    }, "node-process-output");
    echo.setDaemon(true);
    echo.start();
    try {
      ready.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw e;
    }
    return p;
  }

  private NodeProcess() {}
}
