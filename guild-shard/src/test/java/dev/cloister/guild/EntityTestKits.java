package dev.cloister.guild;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;

/** One actor test kit with the in-memory journal and serialization checks on. */
public final class EntityTestKits {

  private EntityTestKits() {}

  public static ActorTestKit create() {
    return ActorTestKit.create(EventSourcedBehaviorTestKit.config()
        .withFallback(ConfigFactory.parseString(
            "pekko.actor.allow-java-serialization = off\n"
                + "pekko.actor.provider = local"))
        .withFallback(ConfigFactory.load()));
  }
}
