package dev.cloister.node.http;

/** A request that cannot be served, with the status, a stable code and a message a person can act on. */
public final class ApiError extends RuntimeException {

  public final int status;
  public final String code;

  public ApiError(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
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
}
