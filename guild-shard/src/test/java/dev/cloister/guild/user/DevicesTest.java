package dev.cloister.guild.user;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.guild.EntityTestKits;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.KeyPackageBundle;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class DevicesTest {

  private static final ActorTestKit testKit = EntityTestKits.create();

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  private static Devices.StoredKeyPackage stored(KeyPackageBundle b) {
    return new Devices.StoredKeyPackage(b.ref(), b.message());
  }

  @Test
  void oneTimePackagesAreHandedOutOnceThenTheLastResortOneForEver() {
    var user = EventSourcedBehaviorTestKit.<User.Command, User.Event, User.State>create(
        testKit.system(), User.create("11"));
    user.<StatusReply<User.Profile>>runCommand(r -> new User.Create("alice", r));
    DeviceIdentity laptop = DeviceIdentity.generate("11", "laptop");
    var added = user.<StatusReply<Devices.DeviceInfo>>runCommand(r -> new User.AddDevice("laptop",
        laptop.credential().encode(), laptop.signaturePublicKey(), 5, r));
    assertThat(added.reply().getValue().deviceId()).isEqualTo("laptop");
    var again = user.<StatusReply<Devices.DeviceInfo>>runCommand(r -> new User.AddDevice("laptop",
        laptop.credential().encode(), laptop.signaturePublicKey(), 6, r));
    assertThat(again.events()).isEmpty();
    byte[] otherKey = DeviceIdentity.generate("11", "laptop").signaturePublicKey();
    assertThat(user.<StatusReply<Devices.DeviceInfo>>runCommand(r -> new User.AddDevice("laptop",
        laptop.credential().encode(), otherKey, 7, r)).reply().getError().getMessage())
        .isEqualTo("conflict: device laptop exists with another signature key");

    List<Devices.StoredKeyPackage> oneTime = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      oneTime.add(stored(laptop.newKeyPackage(false)));
    }
    Devices.StoredKeyPackage lastResort = stored(laptop.newKeyPackage(true));
    var stock = user.<StatusReply<Devices.KeyPackageStock>>runCommand(
        r -> new User.UploadKeyPackages("laptop", oneTime, lastResort, r)).reply().getValue();
    assertThat(stock.available()).isEqualTo(3);
    // Uploading the same packages again stores nothing twice.
    assertThat(user.<StatusReply<Devices.KeyPackageStock>>runCommand(
        r -> new User.UploadKeyPackages("laptop", oneTime, null, r)).reply().getValue().available())
        .isEqualTo(3);

    List<byte[]> handedOut = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      var claim = user.<StatusReply<Devices.ClaimedKeyPackage>>runCommand(
          r -> new User.ClaimKeyPackage("laptop", r)).reply().getValue();
      assertThat(claim.lastResort()).isFalse();
      assertThat(claim.remaining()).isEqualTo(2 - i);
      handedOut.add(claim.message());
    }
    assertThat(handedOut).extracting(java.util.Arrays::hashCode).doesNotHaveDuplicates();
    user.restart();
    for (int i = 0; i < 2; i++) {
      var claim = user.<StatusReply<Devices.ClaimedKeyPackage>>runCommand(
          r -> new User.ClaimKeyPackage("laptop", r));
      assertThat(claim.reply().getValue().lastResort()).isTrue();
      assertThat(claim.reply().getValue().message()).isEqualTo(lastResort.message());
      assertThat(claim.events()).isEmpty();
    }
  }

  @Test
  void aDeviceMustCarryItsOwnCredentialAndAnEd25519Key() {
    User.State alice = User.State.empty("11").apply(new User.Created("alice"));
    DeviceIdentity mallory = DeviceIdentity.generate("12", "phone");
    assertThat(alice.addDevice("phone", mallory.credential().encode(), mallory.signaturePublicKey(), 1))
        .isEqualTo(dev.cloister.guild.Decision.reject(dev.cloister.guild.Rejection.invalid(
            "credential names 12/phone, not 11/phone")));
    DeviceIdentity phone = DeviceIdentity.generate("11", "phone");
    assertThat(alice.addDevice("phone", phone.credential().encode(), new byte[5], 1))
        .isInstanceOf(dev.cloister.guild.Decision.Reject.class);
    assertThat(alice.addDevice("ph one", phone.credential().encode(), phone.signaturePublicKey(), 1))
        .isInstanceOf(dev.cloister.guild.Decision.Reject.class);
    assertThat(alice.addDevice("phone", new byte[] {1, 2, 3}, phone.signaturePublicKey(), 1))
        .isInstanceOf(dev.cloister.guild.Decision.Reject.class);
    User.State withPhone = alice.apply(new User.DeviceAdded("phone", phone.credential().encode(),
        phone.signaturePublicKey(), 1));
    assertThat(withPhone.removeDevice("phone", 2)).isInstanceOf(dev.cloister.guild.Decision.Accept.class);
    assertThat(withPhone.apply(new User.DeviceRemoved("phone", 2)).devices().byId()).isEmpty();
    assertThat(withPhone.claim("tablet")).isInstanceOf(dev.cloister.guild.Outcome.Rejected.class);
  }
}
