package dev.cloister.guild;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;

/**
 * A message carried as parts, each well under one Artery frame, so that its size never decides
 * whether it can cross the network. Artery drops a message larger than
 * {@code maximum-frame-size} (256 KiB by default) and has no stream for messages of any size;
 * raising the frame size would make every frame buffer of every node as large. The message is
 * serialized with the serializer Pekko would use for it and the bytes are cut into parts; the
 * receiver gathers the parts of one transfer and turns them back into the message.
 */
public final class Parts {

  private Parts() {}

  /** Part {@code index} of {@code count} of transfer {@code transferId}. */
  public record Part(long transferId, int index, int count, int serializerId, String manifest,
      byte[] bytes) implements CborSerializable {}

  /**
   * The bytes a part may carry when frames are {@code frameBytes} long: a quarter of the frame,
   * which leaves the envelope (recipient path, sender, manifest) ample room.
   */
  public static int partBytes(long frameBytes) {
    return (int) Math.max(4096, Math.min(Integer.MAX_VALUE / 2, frameBytes / 4));
  }

  /** The bytes a part may carry on this node's Artery frames. */
  public static int partBytes(ActorSystem<?> system) {
    return partBytes(system.settings().config()
        .getBytes("pekko.remote.artery.advanced.maximum-frame-size"));
  }

  /**
   * Answers {@code replyTo} with {@code outcome}: a value as its parts (transfer 0), each a
   * success; a rejection as one error. {@link #ask} gathers them.
   */
  public static void tell(ActorSystem<?> system, ActorRef<StatusReply<Part>> replyTo,
      Outcome<?> outcome) {
    if (outcome instanceof Outcome.Ok<?> ok) {
      for (Part p : split(system, 0, ok.value(), partBytes(system))) {
        replyTo.tell(StatusReply.success(p));
      }
    } else {
      replyTo.tell(StatusReply.error(((Outcome.Rejected<?>) outcome).rejection().reason()));
    }
  }

  private static final AtomicLong ASKS = new AtomicLong();

  /**
   * Like an ask with a status reply, for an answer sent with {@link #tell}: {@code send} gets the
   * address to name as {@code replyTo}; the answer completes with the value once all its parts
   * are in, fails with the rejection ({@link StatusReply.ErrorMessage}, as an ask would), or with
   * a {@link TimeoutException} after {@code timeout}. A short-lived actor gathers the parts.
   */
  public static <T> CompletionStage<T> ask(ActorSystem<?> system,
      Consumer<ActorRef<StatusReply<Part>>> send, Class<T> type, Duration timeout) {
    CompletableFuture<T> answer = new CompletableFuture<>();
    Object timedOut = new Object();
    Behavior<Object> gather = Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      timers.startSingleTimer(timedOut, timeout);
      Assembler parts = new Assembler(0);
      return Behaviors.receiveMessage(m -> {
        if (m == timedOut) {
          answer.completeExceptionally(new TimeoutException(
              "no complete answer within " + timeout.toMillis() + " ms"));
          return Behaviors.stopped();
        }
        StatusReply<?> reply = (StatusReply<?>) m;
        if (reply.isError()) {
          answer.completeExceptionally(reply.getError());
          return Behaviors.stopped();
        }
        if (!parts.add((Part) reply.getValue())) {
          return Behaviors.same();
        }
        try {
          answer.complete(parts.message(system, type));
        } catch (RuntimeException e) {
          answer.completeExceptionally(e);
        }
        return Behaviors.stopped();
      });
    }));
    ActorRef<Object> gatherer = system.systemActorOf(gather, "parts-" + ASKS.incrementAndGet(),
        Props.empty());
    send.accept(gatherer.narrow());
    return answer;
  }

  public static List<Part> split(ActorSystem<?> system, long transferId, Object message,
      int partBytes) {
    if (partBytes < 1) {
      throw new IllegalArgumentException("partBytes must be positive");
    }
    Serialization serialization = SerializationExtension.get(system.classicSystem());
    Serializer serializer = serialization.findSerializerFor(message);
    String manifest = Serializers.manifestFor(serializer, message);
    byte[] bytes = serializer.toBinary(message);
    int count = Math.max(1, (bytes.length + partBytes - 1) / partBytes);
    List<Part> parts = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      int from = i * partBytes;
      byte[] chunk = java.util.Arrays.copyOfRange(bytes, from, Math.min(bytes.length, from + partBytes));
      parts.add(new Part(transferId, i, count, serializer.identifier(), manifest, chunk));
    }
    return parts;
  }

  /**
   * Gathers the parts of one transfer, in any order; parts of another transfer, repeats and
   * parts that disagree with the first on the count are ignored.
   */
  public static final class Assembler {
    private final long transferId;
    private byte[][] chunks;
    private int received;
    private int serializerId;
    private String manifest;

    public Assembler(long transferId) {
      this.transferId = transferId;
    }

    /** True once every part is in. */
    public boolean add(Part p) {
      if (p.transferId() != transferId || p.count() < 1 || p.index() < 0 || p.index() >= p.count()) {
        return complete();
      }
      if (chunks == null) {
        chunks = new byte[p.count()][];
        serializerId = p.serializerId();
        manifest = p.manifest();
      }
      if (p.count() != chunks.length || chunks[p.index()] != null) {
        return complete();
      }
      chunks[p.index()] = p.bytes();
      received++;
      return complete();
    }

    public boolean complete() {
      return chunks != null && received == chunks.length;
    }

    public <T> T message(ActorSystem<?> system, Class<T> type) {
      if (!complete()) {
        throw new IllegalStateException("transfer " + transferId + " has " + received + " of "
            + (chunks == null ? "?" : chunks.length) + " parts");
      }
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      for (byte[] c : chunks) {
        all.writeBytes(c);
      }
      Object o = SerializationExtension.get(system.classicSystem())
          .deserialize(all.toByteArray(), serializerId, manifest).get();
      return type.cast(o);
    }
  }
}
