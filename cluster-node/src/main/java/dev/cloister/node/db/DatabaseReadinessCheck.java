package dev.cloister.node.db;

import dev.cloister.node.ReadinessFlag;
import org.apache.pekko.actor.ActorSystem;

/** {@code /ready} fails while the journal's database does not take writes. */
public final class DatabaseReadinessCheck extends ReadinessFlag {

  public static final String FLAG = "database";

  public DatabaseReadinessCheck(ActorSystem system) {
    super(system, FLAG);
  }
}
