package dev.cloister.mls.ds;

/** The delivery service's answer: the accepted result, or a rejection with a stable, readable reason. */
public sealed interface Decision<T> {
    record Accepted<T>(T value) implements Decision<T> {
    }

    record Rejected<T>(String reason) implements Decision<T> {
    }

    static <T> Decision<T> accept(T value) {
        return new Accepted<>(value);
    }

    static <T> Decision<T> reject(String reason) {
        return new Rejected<>(reason);
    }

    default boolean accepted() {
        return this instanceof Accepted;
    }

    /** The accepted value; throws if rejected (for tests and callers that checked). */
    default T value() {
        if (this instanceof Accepted<T> a) {
            return a.value();
        }
        throw new IllegalStateException("rejected: " + ((Rejected<T>) this).reason());
    }

    default String reason() {
        return this instanceof Rejected<T> r ? r.reason() : null;
    }
}
