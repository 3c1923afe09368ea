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

  /**
   * WCAG 2 contrast of every text colour on each background the style sheets draw it on, in both
   * themes: at least 4.5:1 (AA for normal text). The pairs are where cloister.css uses them.
   */
  @Test
  void textContrastIsAtLeastFourAndAHalfInBothThemes() throws Exception {
    String[][] pairs = {
        {"text", "bg"}, {"text", "panel"}, {"text", "rail"}, {"text", "raised"},
        {"text", "select"}, {"text", "banner"},
        {"muted", "bg"}, {"muted", "panel"}, {"muted", "rail"}, {"muted", "raised"},
        {"muted", "select"},
        {"accent-text", "accent"}, {"accent-text", "danger"}, // primary buttons, toggles on
        {"accent", "bg"}, {"accent", "panel"}, // your name, the editing bar
        {"danger", "bg"}, {"danger", "panel"}, {"danger", "raised"}, {"danger", "select"},
        {"ok", "bg"}, {"ok", "panel"}, {"ok", "raised"}, {"ok", "select"},
        {"idle", "bg"}, {"idle", "panel"}, {"idle", "select"}, // the pin badge
    };
    List<String> failures = new java.util.ArrayList<>();
    for (String theme : List.of("dark", "light")) {
      java.util.Map<String, String> c = themeColours(theme);
      for (String[] p : pairs) {
        double ratio = contrast(c.get(p[0]), c.get(p[1]));
        if (ratio < 4.5) {
          failures.add(String.format(java.util.Locale.ROOT, "%s: %s %s on %s %s = %.2f:1", theme,
              p[0], c.get(p[0]), p[1], c.get(p[1]), ratio));
        }
      }
    }
    assertThat(failures).isEmpty();
    // the formula against WCAG's own extremes and a known pair
    assertThat(contrast("#000000", "#ffffff")).isCloseTo(21.0, org.assertj.core.data.Offset
        .offset(0.01));
    assertThat(contrast("#777777", "#ffffff")).isCloseTo(4.48, org.assertj.core.data.Offset
        .offset(0.01));
  }

  private static java.util.Map<String, String> themeColours(String theme) throws Exception {
    String css;
    try (var in = CloisterApp.class.getResourceAsStream(theme + ".css")) {
      css = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    }
    java.util.Map<String, String> out = new java.util.HashMap<>();
    var m = java.util.regex.Pattern.compile("-c-([a-z-]+):\\s*(#[0-9a-fA-F]{6})").matcher(css);
    while (m.find()) {
      out.put(m.group(1), m.group(2));
    }
    assertThat(out).as(theme + ".css colours").containsKeys("text", "bg", "muted", "accent",
        "accent-text", "danger", "ok", "idle", "select", "banner");
    return out;
  }

  /** WCAG 2.x contrast ratio of two sRGB colours #rrggbb. */
  static double contrast(String a, String b) {
    double la = luminance(a);
    double lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  private static double luminance(String hex) {
    double[] rgb = new double[3];
    for (int i = 0; i < 3; i++) {
      double c = Integer.parseInt(hex.substring(1 + 2 * i, 3 + 2 * i), 16) / 255.0;
      rgb[i] = c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    }
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }

  @Test
  void aSafetyNumbersQrCodeReadsBackAsItsDigits() throws Exception {
    String number = "12345 67890 12345 67890\n09876 54321 09876 54321\n11111 22222 33333 44444";
    assertThat(SafetyQr.content(number)).hasSize(60).isEqualTo(number.replaceAll("\\s", ""));
    boolean[][] m = SafetyQr.modules(number);
    // 60 digits in numeric mode at level M fit version 2 (up to 63): 25 x 25 modules
    assertThat(m.length).isEqualTo(25);
    assertThat(m[0]).hasSize(25);
    // read back by ZXing's decoder from a bitmap with the quiet zone, 3 pixels a module
    assertThat(QrRead.decode(m, 3)).isEqualTo(SafetyQr.content(number));
    assertThatThrownBy(() -> SafetyQr.content("12345 abcde")).hasMessageContaining("digits");
  }

  @Test
  void theLevelMeterFillsFromMinusSixtyDbovToZero() {
    assertThat(VoicePane.meterFraction(127)).isZero();
    assertThat(VoicePane.meterFraction(60)).isZero();
    assertThat(VoicePane.meterFraction(30)).isEqualTo(0.5);
    assertThat(VoicePane.meterFraction(0)).isEqualTo(1.0);
  }
}
