package dev.cloister.client.gateway;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Keeps everything a gateway client delivers, in order, and lets a test wait for what it expects. */
final class RecordingListener implements GatewayListener {

  private final List<Ready> readies = new ArrayList<>();
  private final List<Dispatch> dispatches = new ArrayList<>();
  private final List<String> states = new ArrayList<>();

  @Override
  public synchronized void onReady(Ready ready) {
    readies.add(ready);
    notifyAll();
  }

  @Override
  public synchronized void onDispatch(Dispatch dispatch) {
    dispatches.add(dispatch);
    notifyAll();
  }

  @Override
  public synchronized void onStateChange(GatewayClient.State state, String detail) {
    states.add(state + " " + detail);
    notifyAll();
  }

  synchronized List<Ready> readies() {
    return List.copyOf(readies);
  }

  synchronized List<Dispatch> dispatches() {
    return List.copyOf(dispatches);
  }

  synchronized List<String> states() {
    return List.copyOf(states);
  }

  /** MESSAGE_CREATEs delivered so far, in order. */
  synchronized List<Dispatch> messages() {
    return dispatches.stream().filter(d -> d.type().equals(Dispatch.MESSAGE_CREATE)).toList();
  }

  Dispatch awaitDispatch(Predicate<Dispatch> match, Duration timeout) throws InterruptedException {
    return await(() -> dispatches.stream().filter(match).findFirst().orElse(null), timeout,
        "a matching dispatch");
  }

  Dispatch awaitMessage(String messageId, Duration timeout) throws InterruptedException {
    return awaitDispatch(d -> d.type().equals(Dispatch.MESSAGE_CREATE)
        && d.data().path("id").asText().equals(messageId), timeout);
  }

  String awaitState(GatewayClient.State state, Duration timeout) throws InterruptedException {
    return awaitState(state + " ", timeout);
  }

  /** The first state change whose "STATE detail" text starts with {@code prefix}. */
  String awaitState(String prefix, Duration timeout) throws InterruptedException {
    return await(() -> states.stream().filter(s -> s.startsWith(prefix)).findFirst()
        .orElse(null), timeout, "state " + prefix);
  }

  private synchronized <T> T await(java.util.function.Supplier<T> found, Duration timeout,
      String what) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      T t = found.get();
      if (t != null) {
        return t;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("no " + what + " within " + timeout + "; states " + states
            + "; dispatches " + dispatches.stream().map(Dispatch::type).toList());
      }
      wait(Math.max(1, left / 1_000_000));
    }
  }
}
