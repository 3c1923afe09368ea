package dev.cloister.node.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TimedJdbcJournalTest {

  @Test
  void entityTypesComeFromThePersistenceIdAndNothingElse() {
    assertThat(TimedJdbcJournal.entityType("Guild|812345")).isEqualTo("Guild");
    assertThat(TimedJdbcJournal.entityType("EncryptionGroup|g81")).isEqualTo("EncryptionGroup");
    assertThat(TimedJdbcJournal.entityType("no-bar")).isEqualTo("other");
    assertThat(TimedJdbcJournal.entityType("81234|x")).isEqualTo("other");
    assertThat(TimedJdbcJournal.entityType("A".repeat(40) + "|x")).isEqualTo("other");
  }
}
