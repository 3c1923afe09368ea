package dev.cloister.guild;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import org.junit.jupiter.api.Test;

class SnowflakeTest {

  @Test
  void idsStrictlyIncreaseAndCarryTheirNodeAndTime() {
    Snowflake ids = new Snowflake(7);
    long before = System.currentTimeMillis();
    long previous = 0;
    var seen = new HashSet<Long>();
    for (int i = 0; i < 20_000; i++) { // more than 4096 per millisecond, so the sequence rolls
      long id = ids.next();
      assertThat(id).isGreaterThan(previous);
      assertThat((id >>> 12) & Snowflake.MAX_NODE_ID).isEqualTo(7);
      seen.add(id);
      previous = id;
    }
    assertThat(seen).hasSize(20_000);
    assertThat(Snowflake.timestampOf(previous).toEpochMilli()).isGreaterThanOrEqualTo(before);
  }

  @Test
  void parseAcceptsOnlyPositiveDecimalIds() {
    assertThat(Snowflake.parse("123").getAsLong()).isEqualTo(123);
    assertThat(Snowflake.parse("")).isEmpty();
    assertThat(Snowflake.parse("-1")).isEmpty();
    assertThat(Snowflake.parse("0")).isEmpty();
    assertThat(Snowflake.parse("12a")).isEmpty();
    assertThat(Snowflake.parse("99999999999999999999")).isEmpty();
    assertThat(Snowflake.parse(null)).isEmpty();
  }

  @Test
  void aRestartNeverRepeatsAnIdEvenWhenTheClockWasSetBack(@org.junit.jupiter.api.io.TempDir
      java.nio.file.Path dir) throws Exception {
    java.nio.file.Path floor = dir.resolve("id-floor");
    Snowflake first = new Snowflake(3, floor);
    long last = 0;
    for (int i = 0; i < 10_000; i++) {
      last = first.next();
    }
    assertThat(Long.parseLong(java.nio.file.Files.readString(floor).strip()))
        .as("reserved ahead, durably").isGreaterThan(last >>> 22);
    Snowflake restarted = new Snowflake(3, floor);
    assertThat(restarted.next()).isGreaterThan(last);

    // The node was down while the clock went back an hour: what the floor says wins.
    long hourAhead = System.currentTimeMillis() - Snowflake.EPOCH_MILLIS + 3_600_000;
    java.nio.file.Files.writeString(floor, hourAhead + "\n");
    long afterStep = new Snowflake(3, floor).next();
    assertThat(afterStep >>> 22).isGreaterThanOrEqualTo(hourAhead);

    java.nio.file.Files.writeString(floor, "garbage");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Snowflake(3, floor))
        .isInstanceOf(java.io.IOException.class).hasMessageContaining("is damaged");
  }
}
