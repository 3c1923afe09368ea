package dev.cloister.guild;

import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.typed.javadsl.EffectFactories;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;

/** Turns a pure {@link Decision} into the persistence effect and the reply every entity sends. */
public final class Replies {

  private Replies() {}

  public static <E, S, R> ReplyEffect<E, S> decide(
      EffectFactories<E, S> effects,
      Decision<E> decision,
      ActorRef<StatusReply<R>> replyTo,
      Function<S, R> answer) {
    if (decision instanceof Decision.Reject<E> reject) {
      return effects.reply(replyTo, StatusReply.error(reject.rejection().reason()));
    }
    var events = ((Decision.Accept<E>) decision).events();
    if (events.isEmpty()) {
      return effects.none().thenReply(replyTo, s -> StatusReply.success(answer.apply(s)));
    }
    return effects.persist(events).thenReply(replyTo, s -> StatusReply.success(answer.apply(s)));
  }

  /**
   * Like {@link #decide(EffectFactories, Decision, ActorRef, Function)}, and runs
   * {@code afterPersist} with the persisted events and the new state once they are in the journal,
   * before the reply goes out.
   */
  public static <E, S, R> ReplyEffect<E, S> decide(
      EffectFactories<E, S> effects,
      Decision<E> decision,
      ActorRef<StatusReply<R>> replyTo,
      Function<S, R> answer,
      BiConsumer<List<E>, S> afterPersist) {
    if (decision instanceof Decision.Accept<E> accept && !accept.events().isEmpty()) {
      List<E> events = accept.events();
      return effects.persist(events)
          .thenRun(s -> afterPersist.accept(events, s))
          .thenReply(replyTo, s -> StatusReply.success(answer.apply(s)));
    }
    return decide(effects, decision, replyTo, answer);
  }

  public static <E, S, R> ReplyEffect<E, S> answer(
      EffectFactories<E, S> effects, ActorRef<StatusReply<R>> replyTo, Outcome<R> outcome) {
    if (outcome instanceof Outcome.Rejected<R> rejected) {
      return effects.reply(replyTo, StatusReply.error(rejected.rejection().reason()));
    }
    return effects.reply(replyTo, StatusReply.success(((Outcome.Ok<R>) outcome).value()));
  }
}
