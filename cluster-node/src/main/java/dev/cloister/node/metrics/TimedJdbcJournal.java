package dev.cloister.node.metrics;

import com.typesafe.config.Config;
import java.util.regex.Pattern;
import org.apache.pekko.persistence.AtomicWrite;
import org.apache.pekko.persistence.PersistentRepr;
import org.apache.pekko.persistence.jdbc.journal.JdbcAsyncWriteJournal;
import scala.Function1;
import scala.collection.immutable.Seq;
import scala.concurrent.Future;
import scala.runtime.BoxedUnit;
import scala.util.Try;

/**
 * pekko-persistence-jdbc's journal, timed: batch writes and the replay of each entity's events
 * at recovery. Kamon has no Pekko persistence instrumentation, so this is how
 * the node measures persist and recovery time ({@code jdbc-journal.class} in application.conf).
 */
public class TimedJdbcJournal extends JdbcAsyncWriteJournal {

  private static final Pattern ENTITY_TYPE = Pattern.compile("[A-Za-z][A-Za-z0-9]{0,31}");

  public TimedJdbcJournal(Config config) {
    super(config);
  }

  @Override
  public Future<Seq<Try<BoxedUnit>>> asyncWriteMessages(Seq<AtomicWrite> messages) {
    long t0 = System.nanoTime();
    long events = 0;
    var it = messages.iterator();
    while (it.hasNext()) {
      events += it.next().size();
    }
    long count = events;
    Future<Seq<Try<BoxedUnit>>> result = super.asyncWriteMessages(messages);
    result.onComplete(done -> {
      CloisterMetrics.JOURNAL_WRITE.record(System.nanoTime() - t0);
      if (done.isSuccess()) {
        CloisterMetrics.JOURNAL_EVENTS.increment(count);
      } else {
        CloisterMetrics.JOURNAL_WRITE_FAILURES.increment();
      }
      return BoxedUnit.UNIT;
    }, ec());
    return result;
  }

  @Override
  public Future<BoxedUnit> asyncReplayMessages(String persistenceId, long fromSequenceNr,
      long toSequenceNr, long max, Function1<PersistentRepr, BoxedUnit> recoveryCallback) {
    long t0 = System.nanoTime();
    Future<BoxedUnit> result = super.asyncReplayMessages(persistenceId, fromSequenceNr,
        toSequenceNr, max, recoveryCallback);
    result.onComplete(done -> {
      CloisterMetrics.ENTITY_RECOVERY.withTag("entity_type", entityType(persistenceId))
          .record(System.nanoTime() - t0);
      return BoxedUnit.UNIT;
    }, ec());
    return result;
  }

  /** {@code Guild|123} is a Guild; anything unexpected counts as {@code other}. */
  static String entityType(String persistenceId) {
    int bar = persistenceId.indexOf('|');
    String type = bar < 0 ? "" : persistenceId.substring(0, bar);
    return ENTITY_TYPE.matcher(type).matches() ? type : "other";
  }
}
