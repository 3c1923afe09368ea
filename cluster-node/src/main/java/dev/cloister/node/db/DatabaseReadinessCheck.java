package dev.cloister.node.db;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * Pekko management's readiness check for the journal's database (registered in
 * {@code application.conf} under {@code pekko.management.health-checks.readiness-checks}):
 * {@code /ready} fails while the database does not take writes. The node hands its
 * {@link DatabaseHealth} to the actor system as a {@link Setup}.
 */
public final class DatabaseReadinessCheck implements Supplier<CompletionStage<Boolean>> {

  /** Carries the node's database health into the actor system. */
  public static final class Setup extends org.apache.pekko.actor.setup.Setup {
    private final DatabaseHealth health;

    public Setup(DatabaseHealth health) {
      this.health = health;
    }
  }

  private final DatabaseHealth health;

  public DatabaseReadinessCheck(ActorSystem system) {
    this.health = system.settings().setup().get(Setup.class).map(s -> s.health).orElse(null);
  }

  @Override
  public CompletionStage<Boolean> get() {
    return CompletableFuture.completedFuture(health != null && health.isUp());
  }
}
