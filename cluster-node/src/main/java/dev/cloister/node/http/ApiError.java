package dev.cloister.node.http;

/** A request that cannot be served, with the status, a stable code and a message a person can act on. */
public final class ApiError extends RuntimeException {

  public final int status;
  public final String code;
  /** Seconds for a {@code Retry-After} header; 0 for none. */
  public final long retryAfterSeconds;

  public ApiError(int status, String code, String message) {
    this(status, code, message, 0);
  }

  private ApiError(int status, String code, String message, long retryAfterSeconds) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /** 503: the request may succeed if retried after {@code retryAfterSeconds}. */
  public static ApiError unavailable(String message, long retryAfterSeconds) {
    return new ApiError(503, "unavailable", message, retryAfterSeconds);
  }

  public static ApiError badRequest(String message) {
    return new ApiError(400, "invalid", message);
  }

  public static ApiError unauthorized(String message) {
    return new ApiError(401, "unauthorized", message);
  }

  public static ApiError tooLarge(String message) {
    return new ApiError(413, "payload_too_large", message);
  }

  public static ApiError tooManyRequests(String message) {
    return new ApiError(429, "rate_limited", message);
  }

  public static ApiError tooManyRequests(String message, long retryAfterSeconds) {
    return new ApiError(429, "rate_limited", message, retryAfterSeconds);
  }

  /**
   * What a failed call means to its caller, the same for REST and the gateway; null for an
   * unexpected failure (a bug), which the caller logs and reports as internal.
   */
  public static ApiError of(Throwable failure) {
    Throwable t = JsonRoutes.unwrap(failure);
    if (t instanceof ApiError e) {
      return e;
    }
    if (t instanceof org.apache.pekko.pattern.StatusReply.ErrorMessage) {
      dev.cloister.guild.Rejection r = dev.cloister.guild.Rejection.parse(t.getMessage());
      int status = switch (r.code()) {
        case INVALID -> 400;
        case FORBIDDEN -> 403;
        case NOT_FOUND -> 404;
        case CONFLICT -> 409;
      };
      return new ApiError(status, r.code().wire, r.message());
    }
    if (t instanceof java.util.concurrent.TimeoutException) {
      return unavailable("the server did not answer in time; try again", 1);
    }
    if (t instanceof java.sql.SQLException e && isOutage(e)) {
      return unavailable("the database is unavailable; try again shortly", 2);
    }
    if (t instanceof org.apache.pekko.http.scaladsl.model.EntityStreamSizeException) {
      return tooLarge("the request body is too large");
    }
    return null;
  }

  /**
   * A failure to reach the database rather than a wrong statement: no connection from the pool in
   * time, a connection lost, or a server shutting down or starting.
   */
  private static boolean isOutage(java.sql.SQLException e) {
    String state = e.getSQLState() == null ? "" : e.getSQLState();
    return e instanceof java.sql.SQLTransientException
        || e instanceof java.sql.SQLRecoverableException
        || state.startsWith("08") // connection exception
        || state.startsWith("57P") // admin or crash shutdown, cannot connect now
        || state.startsWith("53"); // insufficient resources
  }
}
