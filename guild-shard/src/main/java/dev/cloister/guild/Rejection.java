package dev.cloister.guild;

import java.util.Objects;

/**
 * Why an entity refused a command. Travels inside {@code StatusReply.error(reason())} as
 * {@code "<code>: <message>"} so that the reason stays a plain string on the wire and the HTTP
 * layer can still map it to a status.
 */
public record Rejection(Code code, String message) {

  public enum Code {
    INVALID("invalid"),
    FORBIDDEN("forbidden"),
    NOT_FOUND("not_found"),
    CONFLICT("conflict");

    public final String wire;

    Code(String wire) {
      this.wire = wire;
    }
  }

  public Rejection {
    Objects.requireNonNull(code);
    Objects.requireNonNull(message);
  }

  public static Rejection invalid(String message) {
    return new Rejection(Code.INVALID, message);
  }

  public static Rejection forbidden(String message) {
    return new Rejection(Code.FORBIDDEN, message);
  }

  public static Rejection notFound(String message) {
    return new Rejection(Code.NOT_FOUND, message);
  }

  public static Rejection conflict(String message) {
    return new Rejection(Code.CONFLICT, message);
  }

  public String reason() {
    return code.wire + ": " + message;
  }

  /** Reads back a reason made by {@link #reason()}; anything else counts as invalid input. */
  public static Rejection parse(String reason) {
    int colon = reason.indexOf(": ");
    if (colon > 0) {
      String wire = reason.substring(0, colon);
      for (Code c : Code.values()) {
        if (c.wire.equals(wire)) {
          return new Rejection(c, reason.substring(colon + 2));
        }
      }
    }
    return new Rejection(Code.INVALID, reason);
  }
}
