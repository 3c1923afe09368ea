package dev.cloister.client.voice;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.TestServer;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.voice.audio.CapturingSink;
import dev.cloister.client.voice.audio.ToneSource;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * One person in a voice test: a registered device, its gateway session, and its call once joined,
 * sending a tone and recording what it hears; with the checks the voice tests share.
 */
final class CallMember implements AutoCloseable {
  final CloisterClient client;
  final GatewayClient gateway;
  final AtomicReference<VoiceCall> call = new AtomicReference<>();
  final List<Dispatch> dispatches = new CopyOnWriteArrayList<>();
  final CapturingSink heard = new CapturingSink(10);
  double hz;

  CallMember(TestServer server, String name) throws Exception {
    client = server.newDevice(name);
    gateway = client.gateway(new GatewayListener() {
      @Override
      public void onDispatch(Dispatch d) {
        dispatches.add(d);
        VoiceCall c = call.get();
        if (c != null) {
          c.onDispatch(d);
        }
      }
    });
    gateway.awaitReady(Duration.ofSeconds(30));
  }

  String userId() {
    return client.account().userId();
  }

  void join(Channel channel, double hz) throws Exception {
    join(channel, hz, false);
  }

  void join(Channel channel, double hz, boolean muted) throws Exception {
    this.hz = hz;
    // As an app would: the guild is on screen (its GUILD_CREATE came) before one clicks "join".
    await("the guild to reach " + userId() + "'s session", Duration.ofSeconds(30),
        () -> dispatches.stream().anyMatch(d -> d.type().equals("GUILD_CREATE")
            && d.data().path("id").asText().equals(channel.guildId())));
    call.set(VoiceCall.join(client, gateway, channel.guildId(), channel.id(), muted,
        VoiceCallTest.TONES, new ToneSource(hz, -12, -1), heard, new VoiceCall.Listener() {
          @Override
          public void notice(String text) {
            System.err.println("[" + userId() + "] " + text);
          }
        },
        Duration.ofSeconds(20)));
  }

  VoiceStats stats() {
    return call.get().engine().stats();
  }

  /** Frames that reached this member and could not be played for want of a key. */
  long dropped() {
    VoiceStats s = stats();
    return s.undecryptable() + s.unknownKey() + s.heldExpired();
  }

  void hangUp() throws Exception {
    call.getAndSet(null).close();
  }

  @Override
  public void close() {
    try {
      VoiceCall c = call.getAndSet(null);
      if (c != null) {
        c.close();
      }
    } catch (Exception e) {
      // closing anyway
    }
    gateway.close();
  }

  /** A new guild of {@code owner} with a voice channel, joined by {@code invited}. */
  static Channel voiceChannel(CallMember owner, CallMember... invited) {
    Guild g = owner.client.api().createGuild("Voice " + System.nanoTime());
    Channel channel = owner.client.api().createChannel(g.id(), "Lounge", "voice", null);
    String code = owner.client.api().createInvite(g.id()).code();
    for (CallMember m : invited) {
      m.client.api().useInvite(code);
    }
    return channel;
  }

  static void await(String what, Duration within, BooleanSupplier done)
      throws InterruptedException {
    long deadline = System.nanoTime() + within.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(50);
    }
  }

  /** Every member is at the same epoch of the call's group, and it has exactly them. */
  static void awaitSameEpoch(List<CallMember> in) throws InterruptedException {
    try {
      await("the call's group to settle on " + in.size() + " members", Duration.ofSeconds(30),
          () -> {
            long epoch = in.get(0).stats().epoch();
            return epoch >= 0 && in.stream().allMatch(m -> m.stats().epoch() == epoch
                && m.stats().bound());
          });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; epochs: " + in.stream().map(m -> m.userId()
          + "@" + m.stats().epoch() + (m.stats().bound() ? "" : " unbound")).toList());
    }
  }

  /**
   * Within a few seconds, a second of what {@code m} heard contains each other's tone and not its
   * own (polled: on a starved 2-core machine a jitter buffer may shed a burst first).
   */
  static void assertHears(CallMember m, List<CallMember> others) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      short[] last = m.heard.last(48_000);
      boolean all = others.stream().allMatch(o -> Tones.share(last, o.hz) > VoiceCallTest.PRESENT);
      if (all || System.nanoTime() > deadline) {
        for (CallMember o : others) {
          assertThat(Tones.share(last, o.hz)).as("%s hears %s Hz (%s)", m.userId(), o.hz,
              m.stats()).isGreaterThan(VoiceCallTest.PRESENT);
        }
        assertThat(Tones.share(last, m.hz)).as("%s hears itself", m.userId())
            .isLessThan(VoiceCallTest.ABSENT);
        return;
      }
      Thread.sleep(250);
    }
  }
}
