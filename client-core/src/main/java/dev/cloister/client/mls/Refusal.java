package dev.cloister.client.mls;

import dev.cloister.client.http.ApiException;
import java.util.Set;

/**
 * The reason the delivery service gave for refusing a post or a commit. The server names it
 * either as the error's code ({@code "stale_epoch"}) or at the start of its message ({@code
 * "conflict"} with {@code "stale_epoch: ..."}); both are read the same way.
 */
public final class Refusal {

  public static final String STALE_EPOCH = "stale_epoch";
  public static final String FUTURE_EPOCH = "future_epoch";
  public static final String ROSTER_PENDING = "roster_pending";
  public static final String NO_GROUP = "no_group";
  public static final String NOT_MLS = "not_mls";
  public static final String WRONG_GROUP = "wrong_group";

  private static final Set<String> KNOWN =
      Set.of(STALE_EPOCH, FUTURE_EPOCH, ROSTER_PENDING, NO_GROUP, NOT_MLS, WRONG_GROUP);

  private Refusal() {}

  /** The named reason, or the API's code when the refusal names none. */
  public static String of(ApiException e) {
    if (KNOWN.contains(e.code())) {
      return e.code();
    }
    String m = e.getMessage() == null ? "" : e.getMessage();
    int colon = m.indexOf(':');
    if (colon > 0 && KNOWN.contains(m.substring(0, colon).strip())) {
      return m.substring(0, colon).strip();
    }
    return e.code();
  }

  /** Refusals that a sync (processing the log, committing, joining) and a second try can cure. */
  public static boolean curedBySync(ApiException e) {
    return KNOWN.contains(of(e));
  }
}
