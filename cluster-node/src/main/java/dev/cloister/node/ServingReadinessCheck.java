package dev.cloister.node;

import org.apache.pekko.actor.ActorSystem;

/**
 * {@code /ready} fails until the HTTP API is bound and again once shutdown has begun, so a load
 * balancer (Kubernetes' Service) sends no request to a node that cannot take it.
 */
public final class ServingReadinessCheck extends ReadinessFlag {

  public static final String FLAG = "serving";

  public ServingReadinessCheck(ActorSystem system) {
    super(system, FLAG);
  }
}
