package dev.cloister.desktop;

import dev.cloister.client.NotLoggedInException;
import dev.cloister.client.ProfileMismatchException;
import dev.cloister.client.auth.ServerAuthenticationException;
import dev.cloister.client.chat.ChatException;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.ServerUnreachableException;
import dev.cloister.client.profile.CorruptFileException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** What went wrong, in a sentence a person can act on (never a stack trace). */
final class Problems {

  /** What the person was doing, since a 401 or a 409 means different things in each. */
  enum Doing { SIGN_IN, REGISTER, OTHER }

  private Problems() {}

  static String describe(Throwable t, Doing doing) {
    Throwable e = unwrap(t);
    if (e instanceof ServerUnreachableException) {
      return "Cannot reach the server. Check the address and that the server is running. ("
          + e.getMessage() + ")";
    }
    if (e instanceof ServerAuthenticationException) {
      return "The server could not prove that it knows your password. It may not be the server "
          + "you registered with.";
    }
    if (e instanceof ApiException a) {
      return switch (a.status()) {
        case 401 -> doing == Doing.OTHER
            ? "Your session has expired. Sign in again."
            : "Wrong username or password.";
        case 409 -> doing == Doing.REGISTER
            ? "That username is taken. Pick another one, or sign in if it is yours."
            : a.getMessage();
        case 429 -> "Too many attempts. Wait a little and try again. (" + a.getMessage() + ")";
        case 400 -> doing == Doing.REGISTER
            ? "Usernames are 2 to 32 characters of a-z, 0-9, _ and . (" + a.getMessage() + ")"
            : a.getMessage();
        case 403 -> "Not allowed: " + a.getMessage();
        case 404 -> "Not found: " + a.getMessage();
        case 503 -> "The server is busy or starting. Try again in a moment.";
        default -> a.getMessage() + " (" + a.status() + " " + a.code() + ")";
      };
    }
    if (e instanceof ProfileMismatchException || e instanceof NotLoggedInException
        || e instanceof CorruptFileException || e instanceof ChatException
        || e instanceof IllegalArgumentException) {
      return e.getMessage();
    }
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }

  static Throwable unwrap(Throwable t) {
    Throwable e = t;
    while ((e instanceof CompletionException || e instanceof ExecutionException
        || e instanceof java.io.UncheckedIOException) && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }
}
