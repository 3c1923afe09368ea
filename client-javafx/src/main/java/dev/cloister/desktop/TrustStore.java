package dev.cloister.desktop;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Properties;

/**
 * The safety numbers this device's person has marked as verified, per contact
 * ({@code <device home>/desktop-trust.properties}), so the window can say when one changed: a
 * contact's set of device keys is not the one that was compared.
 */
final class TrustStore {

  /** What comparing the current number with the stored one says. */
  enum Status { UNVERIFIED, VERIFIED, CHANGED }

  private final Path file;
  private final Properties values = new Properties();

  TrustStore(Path home) {
    this.file = home.resolve("desktop-trust.properties");
    if (Files.isRegularFile(file)) {
      try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        values.load(r);
      } catch (IOException | IllegalArgumentException e) {
        values.clear(); // unreadable: everyone shows as unverified, never as verified
      }
    }
  }

  synchronized Status check(String userId, String safetyNumber) {
    String verified = values.getProperty(userId + ".number");
    if (verified == null) {
      return Status.UNVERIFIED;
    }
    return verified.equals(digits(safetyNumber)) ? Status.VERIFIED : Status.CHANGED;
  }

  /** Whether a contact was verified at some point (the number may have changed since). */
  synchronized boolean everVerified(String userId) {
    return values.containsKey(userId + ".number");
  }

  synchronized String verifiedAt(String userId) {
    return values.getProperty(userId + ".at", "?");
  }

  synchronized void verify(String userId, String safetyNumber) throws IOException {
    values.setProperty(userId + ".number", digits(safetyNumber));
    values.setProperty(userId + ".at", Instant.now().toString());
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      values.store(w, "safety numbers verified on this device");
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static String digits(String number) {
    return number.replaceAll("[^0-9]", "");
  }
}
