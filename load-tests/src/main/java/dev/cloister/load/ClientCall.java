package dev.cloister.load;

import com.typesafe.scalalogging.Logger;
import io.gatling.core.action.Action;
import io.gatling.core.structure.ScenarioContext;
import io.gatling.javaapi.core.ActionBuilder;
import io.gatling.javaapi.core.Session;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import org.slf4j.LoggerFactory;

/**
 * A Gatling step that runs client-core code: the work runs on the simulation's worker pool (never
 * on Gatling's event loop, since the SDK blocks), its time is recorded as a request named
 * {@code name}, and the virtual user goes on, on its own event loop, with the session the work
 * returned; a failure is recorded as KO with its message and marks the session failed.
 *
 * <p>Gatling's Java DSL has no custom-action API, so this implements the Scala {@code Action}
 * and {@code ActionBuilder} traits directly (both are interfaces with default methods in Scala
 * 2.13; the only state a trait declares is the logger of {@code StrictLogging}).
 */
public final class ClientCall implements ActionBuilder {

  /** The work of one step; it may block. Returns the session to go on with. */
  @FunctionalInterface
  public interface Work {
    Session run(Session session) throws Exception;
  }

  /** Work that completes later (an answer awaited without holding a thread). */
  @FunctionalInterface
  public interface AsyncWork {
    CompletionStage<Session> run(Session session) throws Exception;
  }

  private final String name;
  private final AsyncWork work;
  private final Recorder recorder;
  private final ExecutorService pool;
  private final boolean recorded;

  private ClientCall(String name, AsyncWork work, Recorder recorder, ExecutorService pool,
      boolean recorded) {
    this.name = name;
    this.work = work;
    this.recorder = recorder;
    this.pool = pool;
    this.recorded = recorded;
  }

  /** A blocking step recorded as request {@code name}. */
  public static ClientCall timed(String name, Recorder recorder, ExecutorService pool, Work work) {
    return new ClientCall(name, s -> CompletableFuture.completedFuture(work.run(s)), recorder,
        pool, true);
  }

  /** A step whose answer comes later, recorded as request {@code name}. */
  public static ClientCall timedAsync(String name, Recorder recorder, ExecutorService pool,
      AsyncWork work) {
    return new ClientCall(name, work, recorder, pool, true);
  }

  /**
   * A step whose answer comes later and which is not itself the measurement (the work records
   * its own timing, e.g. from a moment the step does not see); a failure is recorded as
   * {@code name}.
   */
  public static ClientCall untimedAsync(String name, Recorder recorder, ExecutorService pool,
      AsyncWork work) {
    return new ClientCall(name, work, recorder, pool, false);
  }

  /** A blocking step that is not a measurement (it records only a failure, as {@code name}). */
  public static ClientCall untimed(String name, Recorder recorder, ExecutorService pool,
      Work work) {
    return new ClientCall(name, s -> CompletableFuture.completedFuture(work.run(s)), recorder,
        pool, false);
  }

  @Override
  public io.gatling.core.action.builder.ActionBuilder asScala() {
    return new io.gatling.core.action.builder.ActionBuilder() {
      @Override
      public Action build(ScenarioContext ctx, Action next) {
        return new Step(ctx, next);
      }
    };
  }

  private final class Step implements Action {
    private final Action next;
    private final Logger logger = Logger.apply(LoggerFactory.getLogger(ClientCall.class));

    Step(ScenarioContext ctx, Action next) {
      this.next = next;
      recorder.bind(ctx.coreComponents().statsEngine());
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public void execute(io.gatling.core.session.Session scalaSession) {
      long start = System.currentTimeMillis();
      Session session = new Session(scalaSession);
      try {
        pool.execute(() -> {
          CompletionStage<Session> answer;
          try {
            answer = work.run(session);
          } catch (Exception | Error e) {
            answer = CompletableFuture.failedFuture(e);
          }
          answer.whenComplete((out, failure) -> {
            long end = System.currentTimeMillis();
            io.gatling.core.session.Session after;
            if (failure == null) {
              if (recorded) {
                recorder.ok(name, start, end);
              }
              after = out.asScala();
            } else {
              Throwable cause = failure instanceof java.util.concurrent.CompletionException
                  && failure.getCause() != null ? failure.getCause() : failure;
              recorder.ko(name, start, end, describe(cause));
              after = scalaSession.markAsFailed();
            }
            scalaSession.eventLoop().execute(() -> next.execute(after));
          });
        });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        recorder.ko(name, start, System.currentTimeMillis(), "the worker pool is shut down");
        next.execute(scalaSession.markAsFailed());
      }
    }

    @Override
    public Logger logger() {
      return logger;
    }

    @Override
    public void com$typesafe$scalalogging$StrictLogging$_setter_$logger_$eq(Logger l) {
      // the logger is set in the constructor
    }
  }

  static String describe(Throwable t) {
    while ((t instanceof java.util.concurrent.ExecutionException
        || t instanceof java.util.concurrent.CompletionException) && t.getCause() != null) {
      t = t.getCause();
    }
    String m = t.getMessage();
    return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }
}
