package dev.cloister.node;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * Pekko management's readiness check for the HTTP API (registered in {@code application.conf}):
 * {@code /ready} fails until the API is bound and again once shutdown has begun, so a load
 * balancer (Kubernetes' Service) sends no request to a node that cannot take it. The node hands
 * its flag to the actor system as a {@link Setup}.
 */
public final class ServingReadinessCheck implements Supplier<CompletionStage<Boolean>> {

  /** Carries the node's "serving" flag into the actor system. */
  public static final class Setup extends org.apache.pekko.actor.setup.Setup {
    private final BooleanSupplier serving;

    public Setup(BooleanSupplier serving) {
      this.serving = serving;
    }
  }

  private final BooleanSupplier serving;

  public ServingReadinessCheck(ActorSystem system) {
    this.serving = system.settings().setup().get(Setup.class).map(s -> s.serving)
        .orElse(() -> false);
  }

  @Override
  public CompletionStage<Boolean> get() {
    return CompletableFuture.completedFuture(serving.getAsBoolean());
  }
}
