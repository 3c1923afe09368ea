package dev.cloister.client.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.TestServer;
import dev.cloister.client.cli.CliHarness.Person;
import dev.cloister.client.cli.CliHarness.Result;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.voice.audio.WavSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cloister cli voice}: three people, each in their own home as three processes would be,
 * join one voice channel with a tone each, record what they hear to a WAV file, and print the
 * JSON lines the README promises. The recordings are checked for the others' tones.
 */
@ExtendWith(TestServer.Shared.class)
class VoiceCliTest {

  private static TestServer server;
  @TempDir(factory = TestServer.Scratch.class) // homes fsync every save: on tmpfs when there is one
  Path tmp;

  @BeforeAll
  static void start(TestServer shared) {
    server = shared; // the tests make their own users and homes: no node of their own needed
  }

  @Test
  void threePeopleHearEachOtherThroughTheCli() throws Exception {
    CliHarness h = new CliHarness(server, tmp);
    Person alice = h.register("alice");
    Person bob = h.register("bob");
    Person carol = h.register("carol");
    String guild = h.as(alice, "guild-create", "Band").line();
    String lounge = h.as(alice, "channel-create", guild, "Lounge", "--type", "voice").line();
    assertThat(h.as(alice, "channels", guild).lines()).contains(lounge + " voice Lounge");
    String code = h.as(alice, "invite", guild).line();
    h.as(bob, "join", code).line();
    h.as(carol, "join", code).line();

    List<Person> people = List.of(alice, bob, carol);
    double[] tones = {440, 700, 1100};
    List<CompletableFuture<Result>> runs = new ArrayList<>();
    for (int i = 0; i < people.size(); i++) {
      Person p = people.get(i);
      String tone = Double.toString(tones[i]);
      Path wav = tmp.resolve(p.name() + ".wav");
      runs.add(CompletableFuture.supplyAsync(() -> h.as(p, "voice", lounge, "--tone", tone,
          "--record", wav.toString(), "--seconds", "12")));
    }
    for (int i = 0; i < people.size(); i++) {
      Result r = runs.get(i).get(60, TimeUnit.SECONDS);
      List<JsonNode> lines = new ArrayList<>();
      for (String l : r.lines()) {
        lines.add(RestClient.JSON.readTree(l));
      }
      assertThat(lines.get(0).get("event").asText()).isEqualTo("joined");
      assertThat(lines).anyMatch(l -> l.get("event").asText().equals("epoch"));
      JsonNode first = lines.stream().filter(l -> l.get("event").asText().equals("first_audio"))
          .findFirst().orElseThrow(() -> new AssertionError("no first_audio: " + r.out()));
      assertThat(first.get("ms").asLong()).isPositive();
      JsonNode stats = lines.get(lines.size() - 1);
      assertThat(stats.get("event").asText()).isEqualTo("stats");
      assertThat(stats.get("framesSent").asLong()).isGreaterThan(100);
      assertThat(stats.get("decrypted").asLong()).isGreaterThan(100);
      assertThat(stats.get("streams")).hasSize(2);

      // Somewhere in the recording (the three runs overlap for most of their 12 s, not all):
      // a second with both others' tones; never one's own.
      short[] heard = all(tmp.resolve(people.get(i).name() + ".wav"));
      boolean both = false;
      for (int at = 0; at + 48_000 <= heard.length; at += 24_000) {
        short[] second = java.util.Arrays.copyOfRange(heard, at, at + 48_000);
        boolean here = true;
        for (int j = 0; j < people.size(); j++) {
          double share = dev.cloister.client.voice.ToneShare.of(second, tones[j]);
          if (j == i) {
            assertThat(share).as("%s hears itself", people.get(i).name()).isLessThan(0.002);
          } else {
            here &= share > 0.02;
          }
        }
        both |= here;
      }
      assertThat(both).as("%s heard both others in some second of its recording; %s %s",
          people.get(i).name(), r.out(), r.err()).isTrue();
    }
  }

  private static short[] all(Path wav) throws Exception {
    List<short[]> frames = new ArrayList<>();
    try (WavSource in = WavSource.open(wav, false)) {
      short[] frame = new short[960];
      while (in.read(frame)) {
        frames.add(frame.clone());
      }
    }
    short[] out = new short[frames.size() * 960];
    for (int i = 0; i < frames.size(); i++) {
      System.arraycopy(frames.get(i), 0, out, i * 960, 960);
    }
    return out;
  }
}
