package dev.cloister.node;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * A Pekko management readiness check that reads one of the node's flags (registered by name in
 * {@code application.conf} under {@code pekko.management.health-checks.readiness-checks}, one
 * subclass per flag, so that {@code /ready} says which one failed). Management makes the checks
 * from the actor system alone, so the node hands its flags to the system as a {@link Setup}.
 */
public abstract class ReadinessFlag implements Supplier<CompletionStage<Boolean>> {

  /** The node's readiness flags by name. */
  public static final class Setup extends org.apache.pekko.actor.setup.Setup {
    private final Map<String, BooleanSupplier> flags;

    public Setup(Map<String, BooleanSupplier> flags) {
      this.flags = Map.copyOf(flags);
    }
  }

  private final BooleanSupplier flag;

  /** A flag the system was not given reads false: a node not set up is not ready. */
  protected ReadinessFlag(ActorSystem system, String name) {
    this.flag = system.settings().setup().get(Setup.class)
        .map(s -> s.flags.getOrDefault(name, () -> false)).orElse(() -> false);
  }

  @Override
  public CompletionStage<Boolean> get() {
    return CompletableFuture.completedFuture(flag.getAsBoolean());
  }
}
