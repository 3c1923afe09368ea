package dev.cloister.client.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.chat.Chat;
import dev.cloister.client.chat.StoredMessage;
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
 * dispatch, backfilled ones marked), keeping key packages stocked meanwhile. A MESSAGE_CREATE or
 * MESSAGE_UPDATE is decrypted first (syncing its group when it is of a newer epoch) and printed
 * with its {@code text}, or {@code unreadable} and the reason, in place of the ciphertext.
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

      private Chat chat; // made on the delivery thread, used only there

      @Override
      public void onDispatch(Dispatch d) {
        if (chat == null) {
          chat = client.chat();
        }
        print(decrypted(d, chat, in).toString());
        followGroup(d, chat, in);
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

  /** A MESSAGE_CREATE or MESSAGE_UPDATE with its text (or why not) in place of the ciphertext. */
  static JsonNode decrypted(Dispatch d, Chat chat, Invocation in) {
    JsonNode frame = d.toJson();
    boolean edit = Dispatch.MESSAGE_UPDATE.equals(d.type());
    if (!Dispatch.MESSAGE_CREATE.equals(d.type()) && !edit) {
      return frame;
    }
    ObjectNode data = ((ObjectNode) frame.get("d")).deepCopy(); // the dispatch's own stays intact
    ((ObjectNode) frame).set("d", data);
    data.remove("ciphertext");
    try {
      StoredMessage m = edit ? chat.receiveEdit(d.message()) : chat.receive(d.message());
      data.put("groupId", m.groupId()).put("epoch", m.epoch());
      switch (m.state()) {
        case READ -> data.put("text", m.text());
        case UNREADABLE -> data.put("unreadable", m.reason());
        case PENDING -> data.put("unreadable", Chat.pendingReason(m, null));
      }
    } catch (Exception e) {
      data.put("unreadable", "could not be processed: " + e.getMessage());
    }
    chat.drainNotices().forEach(n -> in.err().println("cloister: note: " + n));
    return frame;
  }

  /** Dispatches after which this device's part in a group may be to join, follow or commit. */
  private static final Set<String> GROUP_EVENTS =
      Set.of("MLS_PROPOSALS", "MLS_COMMIT", "MLS_WELCOME", "MLS_GROUP_CREATE");

  /**
   * While a device listens it keeps its groups moving: it commits pending proposals (so a joiner
   * gets in without waiting for someone to send), joins when its Welcome comes, and follows
   * commits as they happen, decrypting each epoch's messages before it leaves the epoch.
   */
  static void followGroup(Dispatch d, Chat chat, Invocation in) {
    if (!GROUP_EVENTS.contains(d.type()) || !d.data().path("groupId").isTextual()
        || d.data().get("groupId").asText().startsWith("v")) {
      return; // a call's group is kept by the process in the call (VoiceCall), not by chat
    }
    try {
      chat.sync(d.data().get("groupId").asText());
    } catch (Exception e) {
      in.err().println("cloister: note: could not sync group " + d.data().get("groupId").asText()
          + ": " + e.getMessage());
    }
    chat.drainNotices().forEach(n -> in.err().println("cloister: note: " + n));
  }

  private static boolean waitForever(CountDownLatch gone) throws InterruptedException {
    gone.await();
    return true;
  }
}
