package dev.cloister.guild;

/** The answer to a read-only question put to an entity state: a value, or a rejection. */
public sealed interface Outcome<T> {

  record Ok<T>(T value) implements Outcome<T> {}

  record Rejected<T>(Rejection rejection) implements Outcome<T> {}

  static <T> Outcome<T> ok(T value) {
    return new Ok<>(value);
  }

  static <T> Outcome<T> rejected(Rejection rejection) {
    return new Rejected<>(rejection);
  }

  default <R> Outcome<R> map(java.util.function.Function<T, R> f) {
    return this instanceof Ok<T> ok ? ok(f.apply(ok.value()))
        : rejected(((Rejected<T>) this).rejection());
  }
}
