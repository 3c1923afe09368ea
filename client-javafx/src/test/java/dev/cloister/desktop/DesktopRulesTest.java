package dev.cloister.desktop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.Channel;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.ServerUnreachableException;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The desktop client's rules that need no window: options, wording, order, trust. */
class DesktopRulesTest {

  @TempDir
  Path tmp;

  @Test
  void launchOptionsAndDeviceHomes() {
    LaunchOptions o = LaunchOptions.parse(List.of("--server", "localhost:8080", "--profile",
        tmp.toString(), "--theme", "light"));
    assertThat(o.server()).isEqualTo(URI.create("http://localhost:8080"));
    assertThat(o.theme()).isEqualTo("light");
    assertThat(o.homeFor(o.server(), "alice")).isEqualTo(tmp.resolve("localhost-8080/alice"));
    assertThat(o.homeFor(URI.create("https://chat.example.org"), "b.o_b"))
        .isEqualTo(tmp.resolve("chat.example.org/b.o_b"));
    assertThatThrownBy(() -> LaunchOptions.parse(List.of("--theme", "blue")))
        .hasMessageContaining("dark or light");
    assertThatThrownBy(() -> LaunchOptions.parse(List.of("--server")))
        .hasMessageContaining("needs a value");
    assertThatThrownBy(() -> LaunchOptions.parse(List.of("--bogus", "x")))
        .hasMessageContaining("unknown argument");
    assertThatThrownBy(() -> LaunchOptions.serverUrl("ftp://x")).hasMessageContaining("http://");
  }

  @Test
  void problemsAreWordedForWhatThePersonWasDoing() {
    ApiException unauthorized = new ApiException(401, "unauthorized", "login failed");
    assertThat(Problems.describe(unauthorized, Problems.Doing.SIGN_IN))
        .isEqualTo("Wrong username or password.");
    assertThat(Problems.describe(unauthorized, Problems.Doing.OTHER)).contains("expired");
    assertThat(Problems.describe(new ApiException(409, "conflict", "taken"),
        Problems.Doing.REGISTER)).startsWith("That username is taken");
    assertThat(Problems.describe(new java.util.concurrent.CompletionException(
        new ServerUnreachableException("connection refused", null)), Problems.Doing.SIGN_IN))
        .startsWith("Cannot reach the server").contains("connection refused");
  }

  @Test
  void invitesAreTakenFromCodesOrLinks() {
    assertThat(Dialogs.inviteCode(" Qx7pT2mNaB ")).isEqualTo("Qx7pT2mNaB");
    assertThat(Dialogs.inviteCode("https://chat.example.org/invite/Qx7pT2mNaB/"))
        .isEqualTo("Qx7pT2mNaB");
    assertThat(Dialogs.inviteCode("   ")).isEmpty();
  }

  @Test
  void channelsAreOrderedLikeDiscord() {
    Channel cat = new Channel("10", "1", "Games", "category", null, 0, null);
    Channel inCat = new Channel("11", "1", "chess", "text", "10", 1, null);
    Channel top2 = new Channel("12", "1", "General", "voice", null, 2, null);
    Channel top1 = new Channel("13", "1", "general", "text", null, 1, null);
    Channel orphan = new Channel("14", "1", "secret", "text", "99", 0, null);
    assertThat(GuildModel.ordered(List.of(cat, inCat, top2, top1, orphan)))
        .extracting(Channel::id).containsExactly("13", "12", "10", "11", "14");
    assertThat(MainView.initials("Rust Study Group")).isEqualTo("RSG");
    assertThat(MainView.initials("  ")).isEqualTo("?");
  }

  @Test
  void aVerifiedSafetyNumberThatChangesIsFlagged() throws Exception {
    TrustStore trust = new TrustStore(tmp);
    assertThat(trust.check("7", "11111 22222")).isEqualTo(TrustStore.Status.UNVERIFIED);
    trust.verify("7", "11111 22222");
    assertThat(trust.check("7", "11111\n22222")).isEqualTo(TrustStore.Status.VERIFIED);
    TrustStore again = new TrustStore(tmp);
    assertThat(again.check("7", "11111 22223")).isEqualTo(TrustStore.Status.CHANGED);
    assertThat(again.everVerified("7")).isTrue();
    assertThat(again.everVerified("8")).isFalse();
  }
}
