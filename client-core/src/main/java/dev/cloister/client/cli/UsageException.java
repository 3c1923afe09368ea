package dev.cloister.client.cli;

/** The command line itself is wrong: exit 2 with the usage of what was asked. */
final class UsageException extends RuntimeException {

  UsageException(String message) {
    super(message);
  }
}
