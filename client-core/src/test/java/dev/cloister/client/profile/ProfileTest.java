package dev.cloister.client.profile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The home directory: what is written reads back, and what is damaged is refused, never used. */
class ProfileTest {

  @TempDir
  Path tmp;

  private static Profile.Account account() {
    return new Profile.Account(URI.create("http://127.0.0.1:8080"), "2500", "alice",
        "0a1b2c3d4e5f6071", "secret-token", Instant.parse("2030-01-01T00:00:00Z"), null);
  }

  @Test
  void everythingWrittenReadsBackWithOwnerOnlyModes() throws IOException {
    Profile p = Profile.open(tmp.resolve("home"));
    assertThat(p.account()).isEmpty();
    p.saveAccount(account());
    assertThat(p.account()).contains(account());
    assertThat(p.account().orElseThrow().toString()).doesNotContain("secret-token");

    DeviceIdentity id = DeviceIdentity.generate("2500", "0a1b2c3d4e5f6071");
    p.saveDeviceIdentity(id);
    DeviceIdentity back = p.deviceIdentity("2500", "0a1b2c3d4e5f6071").orElseThrow();
    assertThat(back.signaturePublicKey()).isEqualTo(id.signaturePublicKey());

    KeyPackageBundle one = id.newKeyPackage(false);
    KeyPackageBundle last = id.newKeyPackage(true);
    p.saveKeyPackage(one);
    p.saveKeyPackage(last);
    Profile.StoredKeyPackages stored = p.keyPackages();
    assertThat(stored.corrupt()).isEmpty();
    assertThat(stored.usable()).extracting(b -> HexFormat.of().formatHex(b.ref()))
        .containsExactlyInAnyOrder(HexFormat.of().formatHex(one.ref()), HexFormat.of().formatHex(last.ref()));
    assertThat(p.keyPackage(last.ref()).orElseThrow().lastResort()).isTrue();
    assertThat(p.deleteKeyPackage(one.ref())).isTrue();
    assertThat(p.keyPackage(one.ref())).isEmpty();
    assertThat(p.deleteKeyPackage(one.ref())).isFalse();

    for (Path f : new Path[] {p.home().resolve("profile.json"), p.home().resolve("device-key"),
        p.home().resolve("key-packages").resolve(HexFormat.of().formatHex(last.ref()))}) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString())
          .isEqualTo("rw-------");
    }
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p.home())))
        .isEqualTo("rwx------");
    try (var files = Files.list(p.home())) {
      assertThat(files.map(f -> f.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
    }
  }

  @Test
  void aRewriteReplacesTheWholeFile() throws IOException {
    Profile p = Profile.open(tmp);
    p.saveAccount(account());
    Profile.Account renewed = account().withToken("t2", Instant.now().plus(1, ChronoUnit.DAYS)
        .truncatedTo(ChronoUnit.SECONDS));
    p.saveAccount(renewed);
    assertThat(p.account()).contains(renewed);
  }

  @Test
  void aTruncatedFileIsReportedNotUsed() throws IOException {
    Profile p = Profile.open(tmp);
    p.saveAccount(account());
    Path f = tmp.resolve("profile.json");
    byte[] all = Files.readAllBytes(f);
    for (int cut : new int[] {0, 1, all.length / 2, all.length - 40, all.length - 1}) {
      Files.write(f, java.util.Arrays.copyOf(all, cut));
      assertThatThrownBy(p::account).as("cut at %d", cut).isInstanceOf(CorruptFileException.class)
          .hasMessageContaining("profile.json is corrupt");
    }
  }

  @Test
  void aDamagedByteIsReportedNotUsed() throws IOException {
    Profile p = Profile.open(tmp);
    p.saveAccount(account());
    Path f = tmp.resolve("profile.json");
    String text = Files.readString(f);
    // Still valid JSON after the change: only the checksum can tell.
    Files.writeString(f, text.replace("secret-token", "secret-tokem"));
    assertThatThrownBy(p::account).isInstanceOf(CorruptFileException.class)
        .hasMessageContaining("SHA-256");
  }

  @Test
  void aFileFromANewerClientOrWithoutTrailerIsRefused() throws IOException {
    Path f = tmp.resolve("x");
    Files.writeString(f, "{}\n");
    assertThatThrownBy(() -> CheckedFile.read(f)).isInstanceOf(CorruptFileException.class)
        .hasMessageContaining("trailer is missing");
    CheckedFile.write(f, "{}".getBytes(StandardCharsets.UTF_8));
    Files.writeString(f, Files.readString(f).replace("cloister-file 1 ", "cloister-file 2 "));
    assertThatThrownBy(() -> CheckedFile.read(f)).isInstanceOf(CorruptFileException.class)
        .hasMessageContaining("version 2");
    assertThat(CheckedFile.read(tmp.resolve("absent"))).isEmpty();
  }

  @Test
  void wellFormedButWrongContentIsStillRefused() throws IOException {
    Profile p = Profile.open(tmp);
    // Checksummed, but not the JSON of a profile.
    CheckedFile.write(tmp.resolve("profile.json"), "[1,2".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(p::account).isInstanceOf(CorruptFileException.class)
        .hasMessageContaining("not the expected JSON");
    CheckedFile.write(tmp.resolve("profile.json"), "{\"userId\":\"1\"}".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(p::account).isInstanceOf(CorruptFileException.class)
        .hasMessageContaining("missing");

    DeviceIdentity other = DeviceIdentity.generate("9999", "ffff");
    p.saveDeviceIdentity(other);
    assertThatThrownBy(() -> p.deviceIdentity("2500", "0a1b2c3d4e5f6071"))
        .isInstanceOf(CorruptFileException.class).hasMessageContaining("belongs to user 9999");

    KeyPackageBundle kp = other.newKeyPackage(false);
    Path kpDir = tmp.resolve("key-packages");
    CheckedFile.write(kpDir.resolve("00ff"), kp.toBytes()); // under another name
    CheckedFile.write(kpDir.resolve(HexFormat.of().formatHex(kp.ref())), new byte[] {1, 2, 3});
    Profile.StoredKeyPackages stored = p.keyPackages();
    assertThat(stored.usable()).isEmpty();
    assertThat(stored.corrupt()).hasSize(2).extracting(Throwable::getMessage)
        .anyMatch(m -> m.contains("not the KeyPackageRef"))
        .anyMatch(m -> m.contains("malformed key package bundle"));
  }

  @Test
  void leftoversOfAnInterruptedWriteAreRemovedAndNeverRead() throws IOException {
    Profile p = Profile.open(tmp);
    p.saveAccount(account());
    Path leftover = tmp.resolve(".profile.json.12345.tmp");
    Files.writeString(leftover, "half a write");
    Path kpLeftover = tmp.resolve("key-packages").resolve(".abcd.999.tmp");
    Files.writeString(kpLeftover, "half");
    Profile again = Profile.open(tmp);
    assertThat(leftover).doesNotExist();
    assertThat(kpLeftover).doesNotExist();
    assertThat(again.account()).contains(account());
  }

  @Test
  void defaultHomeIsPerServer() {
    String home = System.getProperty("user.home");
    assertThat(Profile.defaultHome(URI.create("https://chat.example.org")))
        .isEqualTo(Path.of(home, ".cloister", "chat.example.org"));
    assertThat(Profile.defaultHome(URI.create("http://127.0.0.1:8080")))
        .isEqualTo(Path.of(home, ".cloister", "127.0.0.1-8080"));
    assertThat(Profile.newDeviceId()).matches("[0-9a-f]{16}").isNotEqualTo(Profile.newDeviceId());
  }
}
