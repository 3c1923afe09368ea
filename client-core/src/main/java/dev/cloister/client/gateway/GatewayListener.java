package dev.cloister.client.gateway;

/**
 * What a {@link GatewayClient} tells its application, always on one thread and in order: the
 * events of one session by {@code s}, a new session's ready before its dispatches, backfilled
 * messages before the dispatches of the session that follows the gap.
 */
public interface GatewayListener {

  /** A new session (first connection, or after the old one could not be resumed). */
  default void onReady(Ready ready) {}

  void onDispatch(Dispatch dispatch);

  /** The connection's state changed; {@code detail} says why (a close code and reason, an error). */
  default void onStateChange(GatewayClient.State state, String detail) {}
}
