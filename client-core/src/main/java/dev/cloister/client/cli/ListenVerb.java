package dev.cloister.client.cli;

import dev.cloister.client.CloisterClient;
import dev.cloister.client.device.KeyPackageUpkeep;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.gateway.Ready;
import dev.cloister.client.http.RestClient;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * listen: stays on the gateway and prints every event as one JSON line (the ready, then each
 * dispatch, backfilled ones marked), keeping key packages stocked meanwhile. The MLS layer will
 * print decrypted messages here instead of ciphertext.
 */
final class ListenVerb {

  private static final Duration READY_WITHIN = Duration.ofSeconds(30);

  private ListenVerb() {}

  static List<Verb> all() {
    return List.of(new Verb("listen", "[--seconds N]",
        "print each gateway event as a JSON line, for N seconds or until interrupted",
        ListenVerb::listen));
  }

  static int listen(Invocation in) throws Exception {
    in.onlyOptions(Set.of("seconds"));
    in.noMoreThan(0);
    long seconds = in.longOption("seconds", 0);
    CloisterClient client = in.client();
    KeyPackageUpkeep upkeep = client.keyPackages();
    CountDownLatch gone = new CountDownLatch(1);
    GatewayListener printer = new GatewayListener() {
      @Override
      public void onReady(Ready ready) {
        var line = RestClient.JSON.createObjectNode().put("op", "ready").put("s", ready.seq());
        line.set("d", ready.raw());
        print(line.toString());
      }

      @Override
      public void onDispatch(Dispatch d) {
        print(d.toJson().toString());
        try {
          upkeep.onDispatch(d);
        } catch (Exception e) {
          in.err().println("cloister: note: key package top-up failed: " + e.getMessage());
        }
      }

      @Override
      public void onStateChange(GatewayClient.State state, String detail) {
        if (state == GatewayClient.State.WAITING_TO_RECONNECT) {
          in.err().println("cloister: note: " + detail);
        } else if (state == GatewayClient.State.CLOSED) {
          gone.countDown();
        }
      }

      private void print(String line) {
        synchronized (in.out()) {
          in.out().println(line);
          in.out().flush();
        }
      }
    };
    GatewayClient gateway = client.gateway(printer);
    Thread stopper = new Thread(gateway::close, "cloister-listen-stop");
    Runtime.getRuntime().addShutdownHook(stopper);
    try {
      try {
        gateway.awaitReady(READY_WITHIN);
      } catch (TimeoutException | IllegalStateException e) {
        in.err().println("cloister: error: " + e.getMessage());
        return 1;
      }
      boolean closedByServer = seconds > 0
          ? gone.await(seconds, TimeUnit.SECONDS)
          : waitForever(gone);
      if (closedByServer) {
        in.err().println("cloister: error: the gateway closed the session: " + gateway.lastProblem());
        return 1;
      }
      return 0;
    } finally {
      gateway.close();
      try {
        Runtime.getRuntime().removeShutdownHook(stopper);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it closes the gateway itself
      }
    }
  }

  private static boolean waitForever(CountDownLatch gone) throws InterruptedException {
    gone.await();
    return true;
  }
}
