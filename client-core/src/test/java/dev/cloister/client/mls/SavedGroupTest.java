package dev.cloister.client.mls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.client.http.ApiException;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The group state file's payload, and how refusals are named. Offline. */
class SavedGroupTest {

  @Test
  void roundTripsWithAndWithoutAMember() throws IOException {
    SavedGroup joined = new SavedGroup("g123", 42, 3, 7, null, new byte[] {1, 2, 3});
    assertThat(SavedGroup.fromBytes(joined.toBytes())).isEqualTo(joined);
    SavedGroup lost = new SavedGroup("c9", 5, 1, 5, "removed at epoch 4", new byte[0]);
    assertThat(SavedGroup.fromBytes(lost.toBytes())).isEqualTo(lost);
    SavedGroup waiting = SavedGroup.waiting("g1", 11);
    assertThat(SavedGroup.fromBytes(waiting.toBytes())).isEqualTo(waiting);
    assertThat(waiting.member()).isNull();
    assertThat(waiting.joinedEpoch()).isEqualTo(-1);
  }

  @Test
  void refusesWhatItDidNotWrite() {
    byte[] good = new SavedGroup("g123", 42, 3, 7, null, new byte[] {1, 2, 3}).toBytes();
    assertThatThrownBy(() -> SavedGroup.fromBytes(Arrays.copyOf(good, good.length - 1)))
        .isInstanceOf(IOException.class);
    byte[] longer = Arrays.copyOf(good, good.length + 1);
    assertThatThrownBy(() -> SavedGroup.fromBytes(longer)).isInstanceOf(IOException.class);
    byte[] magic = good.clone();
    magic[0] ^= 1;
    assertThatThrownBy(() -> SavedGroup.fromBytes(magic)).hasMessageContaining("not a Cloister");
    byte[] version = good.clone();
    version[4] = 9;
    assertThatThrownBy(() -> SavedGroup.fromBytes(version)).hasMessageContaining("format 9");
    byte[] path = new SavedGroup("g123", 1, 0, 0, null, null).toBytes();
    path[7] = '/'; // the group id becomes "g/23": never a file name
    assertThatThrownBy(() -> SavedGroup.fromBytes(path)).isInstanceOf(IOException.class);
  }

  @Test
  void groupIdsAreOnlyWhatTheServerHandsOut() {
    assertThat(GroupApi.validGroupId("g253631627308040192")).isTrue();
    assertThat(GroupApi.validGroupId("c1")).isTrue();
    assertThat(GroupApi.validGroupId("x1")).isFalse();
    assertThat(GroupApi.validGroupId("g../1")).isFalse();
    assertThat(GroupApi.validGroupId("g")).isFalse();
    assertThat(GroupApi.validGroupId(null)).isFalse();
  }

  @Test
  void refusalsAreReadFromTheCodeOrTheMessage() {
    assertThat(Refusal.of(new ApiException(409, "conflict", "stale_epoch: the message is for epoch 3")))
        .isEqualTo(Refusal.STALE_EPOCH);
    assertThat(Refusal.of(new ApiException(409, "roster_pending", "who may read it changed")))
        .isEqualTo(Refusal.ROSTER_PENDING);
    assertThat(Refusal.of(new ApiException(400, "invalid", "not_mls: that is not MLS")))
        .isEqualTo(Refusal.NOT_MLS);
    assertThat(Refusal.curedBySync(new ApiException(400, "invalid", "wrong_group: moved")))
        .isTrue();
    assertThat(Refusal.of(new ApiException(403, "forbidden", "missing permission SEND_MESSAGES")))
        .isEqualTo("forbidden");
    assertThat(Refusal.curedBySync(new ApiException(403, "forbidden", "stale: no"))).isFalse();
  }
}
