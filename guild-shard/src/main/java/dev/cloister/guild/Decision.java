package dev.cloister.guild;

import java.util.List;

/** What a pure entity state decides for a command: the events to persist, or a rejection. */
public sealed interface Decision<E> {

  record Accept<E>(List<E> events) implements Decision<E> {
    public Accept {
      events = List.copyOf(events);
    }
  }

  record Reject<E>(Rejection rejection) implements Decision<E> {}

  @SafeVarargs
  static <E> Decision<E> accept(E... events) {
    return new Accept<>(List.of(events));
  }

  static <E> Decision<E> reject(Rejection rejection) {
    return new Reject<>(rejection);
  }
}
