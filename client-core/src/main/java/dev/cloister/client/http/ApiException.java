package dev.cloister.client.http;

/**
 * The server answered with an error: its HTTP status and the stable {@code code} and
 * person-readable {@code message} of the API's error body ({@code {"code", "message"}}).
 */
public final class ApiException extends RuntimeException {

  private final int status;
  private final String code;

  public ApiException(int status, String code, String message) {
    super(message);
    this.status = status;
    this.code = code;
  }

  public int status() {
    return status;
  }

  /** The API's error code, e.g. {@code forbidden}, {@code conflict}, {@code rate_limited}. */
  public String code() {
    return code;
  }

  @Override
  public String toString() {
    return status + " " + code + ": " + getMessage();
  }
}
