package dev.cloister.node.gateway;

import dev.cloister.node.metrics.CloisterMetrics;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A session's recent frames, kept for resume within {@code resume.max-events},
 * {@code resume.max-bytes} and {@code resume.max-age}, oldest dropped first: what a resume replays,
 * and what a handover saves.
 */
final class ReplayBuffer {

  private record Buffered(long seq, long atMillis, GatewayConnection.Send frame) {}

  private final ArrayDeque<Buffered> frames = new ArrayDeque<>();
  private final GatewaySettings settings;
  private long bytes;

  ReplayBuffer(GatewaySettings settings) {
    this.settings = settings;
  }

  /**
   * Keeps {@code frame}, numbered {@code seq}, dropping the oldest frames (possibly this one, if
   * it alone is over the byte budget) until the buffer is within its bounds again.
   */
  void add(long seq, GatewayConnection.Send frame) {
    long now = System.currentTimeMillis();
    keep(seq, now, frame);
    long oldest = now - settings.resumeMaxAge().toMillis();
    while (!frames.isEmpty() && (frames.size() > settings.resumeMaxEvents()
        || bytes > settings.resumeMaxBytes() || frames.peekFirst().atMillis() < oldest)) {
      dropOldest();
    }
  }

  private void keep(long seq, long atMillis, GatewayConnection.Send frame) {
    frames.addLast(new Buffered(seq, atMillis, frame));
    bytes += frame.size();
    CloisterMetrics.GATEWAY_REPLAY_BYTES.increment(frame.size());
  }

  private void dropOldest() {
    long size = frames.removeFirst().frame().size();
    bytes -= size;
    CloisterMetrics.GATEWAY_REPLAY_BYTES.decrement(size);
  }

  /**
   * The first seq a resume may continue from, once frames older than {@code resume.max-age} are
   * dropped; {@code next} (the seq the next frame will get) if none is kept.
   */
  long firstKept(long next) {
    long oldest = System.currentTimeMillis() - settings.resumeMaxAge().toMillis();
    while (!frames.isEmpty() && frames.peekFirst().atMillis() < oldest) {
      dropOldest();
    }
    return frames.isEmpty() ? next : frames.peekFirst().seq();
  }

  /** Hands every frame after {@code seq} to {@code to}, oldest first. */
  void replayAfter(long seq, Consumer<GatewayConnection.Send> to) {
    for (Buffered b : frames) {
      if (b.seq() > seq) {
        to.accept(b.frame());
      }
    }
  }

  /** The frames as a handover saves them. */
  List<SessionHandovers.Frame> saved() {
    List<SessionHandovers.Frame> out = new ArrayList<>(frames.size());
    for (Buffered b : frames) {
      GatewayConnection.Send f = b.frame();
      out.add(new SessionHandovers.Frame(b.seq(), b.atMillis(), f.head(), f.body(), f.tail()));
    }
    return out;
  }

  /** Takes back the frames a handover saved (they were within the bounds when saved). */
  void restore(List<SessionHandovers.Frame> saved) {
    for (SessionHandovers.Frame f : saved) {
      keep(f.seq(), f.atMillis(), new GatewayConnection.Send(f.head(), f.body(), f.tail()));
    }
  }

  /** Gives back what the buffer counted in the replay-bytes gauge (the session ended). */
  void release() {
    CloisterMetrics.GATEWAY_REPLAY_BYTES.decrement(bytes);
    bytes = 0;
    frames.clear();
  }
}
