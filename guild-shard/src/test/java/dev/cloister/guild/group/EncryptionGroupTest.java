package dev.cloister.guild.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.guild.EntityTestKits;
import dev.cloister.guild.GuildFeed;
import dev.cloister.guild.user.Devices;
import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.group.MlsGroupException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.pattern.StatusReply;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The group entity as delivery service, driven by real MLS clients ({@link GroupMember}) over
 * the entity's commands: roster to proposals, key-package claims, first commit wins, Welcomes
 * to joiners, posts refused while a removal is due, and recovery by replaying the log.
 */
class EncryptionGroupTest {

  private static final ActorTestKit testKit = EntityTestKits.create();
  private static final DeliveryServiceKey SERVER = DeliveryServiceKey.generate("cloister-test");
  private static final String GROUP = "g100";

  /** Each device's real key packages, uploaded ahead as a device would. */
  private final Map<String, Deque<KeyPackageBundle>> uploaded = new ConcurrentHashMap<>();
  private final Map<String, DeviceIdentity> identities = new LinkedHashMap<>();
  private final Map<String, GroupMember> members = new LinkedHashMap<>();
  private EventSourcedBehaviorTestKit<EncryptionGroup.Command, EncryptionGroup.Event, GroupState> group;

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void start() {
    EncryptionGroup.KeyPackageSource source = (userId, deviceId) -> {
      Deque<KeyPackageBundle> stock = uploaded.get(userId + "/" + deviceId);
      KeyPackageBundle kp = stock == null ? null : stock.peekFirst();
      return kp == null ? CompletableFuture.failedFuture(new IllegalStateException("no packages"))
          : CompletableFuture.completedFuture(
              new Devices.ClaimedKeyPackage(deviceId, kp.message(), false, stock.size() - 1));
    };
    group = EventSourcedBehaviorTestKit.create(testKit.system(), EncryptionGroup.create(GROUP,
        new DeliveryService(SERVER), source, GuildFeed.none(),
        new EncryptionGroup.Settings(Duration.ofSeconds(10))));
  }

  private DeviceIdentity device(String name) {
    return identities.computeIfAbsent(name, n -> {
      String[] ud = n.split("/");
      DeviceIdentity id = DeviceIdentity.generate(ud[0], ud[1]);
      Deque<KeyPackageBundle> stock = new ArrayDeque<>();
      stock.add(id.newKeyPackage(false));
      uploaded.put(n, stock);
      return id;
    });
  }

  private EncryptionGroup.Status roster(long version, String... devices) {
    for (String d : devices) {
      device(d);
    }
    return group.<StatusReply<EncryptionGroup.Status>>runCommand(r -> new EncryptionGroup.SetRoster(
        "100", null, List.of(devices), version, r)).reply().getValue();
  }

  private EncryptionGroup.Status status() {
    return group.<StatusReply<EncryptionGroup.Status>>runCommand(
        r -> new EncryptionGroup.GetStatus(null, r)).reply().getValue();
  }

  /** Claims complete asynchronously (pipeToSelf): wait, boundedly, for the Adds to be issued. */
  private EncryptionGroup.Status awaitPending(int count) throws InterruptedException {
    for (int i = 0; i < 200; i++) {
      EncryptionGroup.Status s = status();
      if (s.pendingProposals().size() == count) {
        return s;
      }
      Thread.sleep(20);
    }
    throw new AssertionError("pending proposals never reached " + count + ": " + status());
  }

  private void create(String creator) throws MlsGroupException {
    GroupMember m = GroupMember.create(device(creator), GROUP.getBytes(StandardCharsets.UTF_8),
        SERVER.publicKey(), SERVER.name());
    byte[] info = m.groupInfo();
    var reply = group.<StatusReply<EncryptionGroup.Status>>runCommand(
        r -> new EncryptionGroup.CreateGroup(creator, info, 1_000, r)).reply();
    assertThat(reply.isSuccess()).as(String.valueOf(reply)).isTrue();
    members.put(creator, m);
  }

  private StatusReply<EncryptionGroup.Status> submit(String committer, GroupMember.CommitBundle b,
      long now) {
    return group.<StatusReply<EncryptionGroup.Status>>runCommand(
        r -> new EncryptionGroup.SubmitCommit(committer, b.commit(), b.welcome(), null, now, r))
        .reply();
  }

  /** Every member takes the pending proposals; {@code committer} commits; all apply it. */
  private void commitPending(String committer, long now) throws MlsGroupException {
    EncryptionGroup.Status s = status();
    for (GroupMember m : members.values()) {
      for (byte[] p : s.pendingProposals()) {
        m.processProposal(p);
      }
    }
    GroupMember.CommitBundle bundle = members.get(committer).commit();
    var reply = submit(committer, bundle, now);
    assertThat(reply.isSuccess()).as(String.valueOf(reply)).isTrue();
    for (var e : List.copyOf(members.entrySet())) {
      GroupMember.CommitResult result = e.getValue().processCommit(bundle.commit());
      if (result == GroupMember.CommitResult.REMOVED) {
        members.remove(e.getKey());
      }
    }
    long seq = reply.getValue().seq();
    for (String joiner : status().members().stream()
        .map(m -> m.userId() + "/" + m.deviceId()).toList()) {
      if (!members.containsKey(joiner)) {
        assertThat(group.<StatusReply<EncryptionGroup.Status>>runCommand(
            r -> new EncryptionGroup.GetStatus(joiner, r)).reply().getValue().welcomeSeq())
            .isEqualTo(seq);
        members.put(joiner, GroupMember.join(identities.get(joiner),
            List.copyOf(uploaded.get(joiner)), bundle.welcome()));
      }
    }
  }

  private StatusReply<EncryptionGroup.Admission> admit(long epoch, long version, long now) {
    return group.<StatusReply<EncryptionGroup.Admission>>runCommand(
        r -> new EncryptionGroup.AdmitPost(epoch, version, now, r)).reply();
  }

  @Test
  void rosterDrivesAddsAndRemovesAndARemovedDeviceCannotReadTheNextMessage() throws Exception {
    roster(1, "1/a");
    assertThat(admit(0, 1, 1_000).getError().getMessage()).startsWith("conflict: no_group");
    create("1/a");
    roster(2, "1/a", "2/b", "3/c");
    awaitPending(2);
    assertThat(admit(0, 2, 1_000).isSuccess()).isTrue();
    commitPending("1/a", 2_000);
    assertThat(status().epoch()).isEqualTo(1);
    assertThat(members).containsOnlyKeys("1/a", "2/b", "3/c");
    byte[] auth = members.get("1/a").epochAuthenticator();
    for (GroupMember m : members.values()) {
      assertThat(m.epochAuthenticator()).isEqualTo(auth);
    }

    // The previous epoch stays open for the grace window when nobody was removed.
    assertThat(admit(1, 2, 3_000).isSuccess()).isTrue();
    assertThat(admit(0, 2, 3_000).isSuccess()).isTrue();
    assertThat(admit(0, 2, 20_000).getError().getMessage()).startsWith("conflict: stale_epoch");
    // A guild whose audience moved on is ahead of this roster: no post until it catches up.
    assertThat(admit(1, 3, 3_000).getError().getMessage()).startsWith("conflict: roster_pending");

    GroupMember carol = members.get("3/c");
    roster(3, "1/a", "2/b");
    assertThat(status().pendingProposals()).hasSize(1);
    // The old epoch takes nothing once a Remove is due.
    assertThat(admit(1, 3, 3_100).getError().getMessage()).startsWith("conflict: stale_epoch");
    commitPending("2/b", 4_000);
    assertThat(carol.status()).isEqualTo(GroupMember.Status.REMOVED);
    assertThat(members).containsOnlyKeys("1/a", "2/b");
    // No grace for the epoch a removal ended.
    assertThat(admit(1, 3, 4_100).getError().getMessage()).startsWith("conflict: stale_epoch");
    assertThat(admit(2, 3, 4_100).isSuccess()).isTrue();

    byte[] secret = members.get("1/a").protect("after carol left".getBytes(StandardCharsets.UTF_8));
    assertThat(members.get("2/b").unprotect(secret))
        .isEqualTo("after carol left".getBytes(StandardCharsets.UTF_8));
    assertThatThrownBy(() -> carol.unprotect(secret)).isInstanceOf(MlsGroupException.class);
  }

  @Test
  void theFirstValidCommitOfAnEpochWinsAndForgeriesAreRefused() throws Exception {
    roster(1, "1/a", "2/b");
    create("1/a");
    awaitPending(1);
    commitPending("1/a", 1_000);
    roster(2, "1/a", "2/b", "4/d");
    EncryptionGroup.Status s = awaitPending(1);
    for (GroupMember m : members.values()) {
      m.processProposal(s.pendingProposals().get(0));
    }
    GroupMember.CommitBundle fromA = members.get("1/a").commit();
    GroupMember.CommitBundle fromB = members.get("2/b").commit();
    assertThat(submit("1/a", fromA, 2_000).isSuccess()).isTrue();
    assertThat(submit("2/b", fromB, 2_001).getError().getMessage())
        .startsWith("conflict: stale_epoch: commit is for epoch 1, the group is at epoch 2");
    // Replaying the winning commit is stale too.
    assertThat(submit("1/a", fromA, 2_002).getError().getMessage()).startsWith("conflict: stale_epoch");
    // Garbage, and a commit sent in another device's name.
    var garbage = new GroupMember.CommitBundle(new byte[] {0, 1, 0, 1, 9, 9}, null, 2);
    assertThat(submit("1/a", garbage, 2_003).getError().getMessage()).startsWith("invalid: malformed commit");
    members.get("2/b").discardPendingCommit();
    members.get("2/b").processCommit(fromA.commit());
    members.get("1/a").processCommit(fromA.commit());
    GroupMember.CommitBundle emptyByB = members.get("2/b").commit();
    assertThat(submit("1/a", emptyByB, 2_004).getError().getMessage())
        .isEqualTo("forbidden: a device commits only in its own name");
    assertThat(status().epoch()).isEqualTo(2);
    assertThat(status().members()).hasSize(3);
  }

  @Test
  void aCommitWithoutAWelcomeForItsJoinersIsRefused() throws Exception {
    roster(1, "1/a", "2/b");
    create("1/a");
    EncryptionGroup.Status s = awaitPending(1);
    members.get("1/a").processProposal(s.pendingProposals().get(0));
    GroupMember.CommitBundle b = members.get("1/a").commit();
    var noWelcome = new GroupMember.CommitBundle(b.commit(), null, b.epoch());
    assertThat(submit("1/a", noWelcome, 1_000).getError().getMessage())
        .contains("needs a Welcome");
    var truncated = new GroupMember.CommitBundle(b.commit(), new byte[] {0, 1, 0, 3, 0, 1, 9},
        b.epoch());
    assertThat(submit("1/a", truncated, 1_000).getError().getMessage())
        .startsWith("invalid: malformed Welcome");
    // Well formed, but for nobody: the joiner could never join.
    var forNobody = new GroupMember.CommitBundle(b.commit(), new byte[] {0, 1, 0, 3, 0, 1, 0, 0},
        b.epoch());
    assertThat(submit("1/a", forNobody, 1_000).getError().getMessage())
        .contains("addressed to exactly the added devices' key packages");
    assertThat(submit("1/a", b, 1_000).isSuccess()).isTrue();
  }

  @Test
  void aDeviceLeavingTheRosterBeforeItsAddIsCommittedHasItsProposalRevoked() throws Exception {
    roster(1, "1/a", "2/b");
    create("1/a");
    awaitPending(1);
    roster(2, "1/a");
    assertThat(status().pendingProposals()).isEmpty();
    assertThat(group.restart().state().view().pending()).isEmpty();
  }

  @Test
  void theLogRebuildsTheGroupAfterARestart() throws Exception {
    roster(1, "1/a", "2/b", "3/c");
    create("1/a");
    awaitPending(2);
    commitPending("1/a", 1_000);
    roster(2, "1/a", "3/c");
    commitPending("3/c", 2_000);
    EncryptionGroup.Status before = status();
    group.restart();
    EncryptionGroup.Status after = status();
    assertThat(after.epoch()).isEqualTo(before.epoch()).isEqualTo(2);
    assertThat(after.members()).usingRecursiveComparison().isEqualTo(before.members());
    assertThat(after.seq()).isEqualTo(before.seq());
    // The group goes on from the rebuilt view.
    roster(3, "1/a", "3/c", "4/d");
    awaitPending(1);
    commitPending("1/a", 3_000);
    assertThat(status().epoch()).isEqualTo(3);
    assertThat(members).containsOnlyKeys("1/a", "3/c", "4/d");
  }

  @Test
  void aDeviceWhoseAddIsPendingJoinsByExternalCommitWithoutWaitingForAMember() throws Exception {
    roster(1, "1/a", "2/b");
    create("1/a");
    awaitPending(1);
    members.get("1/a").processProposal(status().pendingProposals().get(0));
    // Nobody commits; bob joins from the GroupInfo the creator uploaded.
    byte[] info = status().groupInfo();
    GroupMember.ExternalJoin bob = GroupMember.joinExternal(device("2/b"), info);
    // A device not on the roster may not do the same.
    GroupMember.ExternalJoin mallory = GroupMember.joinExternal(device("9/m"), info);
    assertThat(submit("9/m", new GroupMember.CommitBundle(mallory.commit(), null, 0), 1_000)
        .getError().getMessage()).startsWith("forbidden: device 9/m may join by external commit");
    var accepted = submit("2/b", new GroupMember.CommitBundle(bob.commit(), null, 0), 1_000);
    assertThat(accepted.isSuccess()).as(String.valueOf(accepted)).isTrue();
    assertThat(accepted.getValue().pendingProposals()).isEmpty();
    assertThat(accepted.getValue().welcomeSeq()).isZero();
    bob.member().processCommit(bob.commit());
    members.get("1/a").processCommit(bob.commit());
    members.put("2/b", bob.member());
    assertThat(bob.member().epochAuthenticator()).isEqualTo(members.get("1/a").epochAuthenticator());
    byte[] hi = members.get("1/a").protect("hi".getBytes(StandardCharsets.UTF_8));
    assertThat(bob.member().unprotect(hi)).isEqualTo("hi".getBytes(StandardCharsets.UTF_8));
    // The new epoch's GroupInfo is checked against the view before it is kept.
    var info1 = group.<StatusReply<EncryptionGroup.Status>>runCommand(r ->
        new EncryptionGroup.UploadGroupInfo("2/b", info, r)).reply();
    assertThat(info1.isSuccess()).isFalse();
    byte[] fresh = bob.member().groupInfo();
    assertThat(group.<StatusReply<EncryptionGroup.Status>>runCommand(r ->
        new EncryptionGroup.UploadGroupInfo("2/b", fresh, r)).reply().isSuccess()).isTrue();
    // Replaying the log accepts the external commit again.
    group.restart();
    assertThat(status().epoch()).isEqualTo(1);
    assertThat(status().members()).hasSize(2);
  }

  @Test
  void aMemberRevokesAnAddItCannotProcessAndTheRosterProposesTheDeviceAgain() throws Exception {
    roster(1, "1/a", "2/b");
    create("1/a");
    awaitPending(1);
    GroupViewData.PendingData add = group.getState().view().pending().get(0);
    // Only members revoke, and never a Remove.
    assertThat(group.<StatusReply<EncryptionGroup.Status>>runCommand(r -> new EncryptionGroup.Revoke(
        "2/b", List.of(add.ref()), "bad", r)).reply().getError().getMessage())
        .isEqualTo("forbidden: only members revoke proposals");
    // The device's stock moves on (the refused package stays in the source: it is never reused).
    uploaded.get("2/b").addLast(identities.get("2/b").newKeyPackage(false));
    var revoked = group.<StatusReply<EncryptionGroup.Status>>runCommand(r ->
        new EncryptionGroup.Revoke("1/a", List.of(add.ref()), "my client refuses it", r)).reply();
    assertThat(revoked.isSuccess()).isTrue();
    assertThat(group.getState().refusedPackages()).hasSize(1);
    // The roster still wants the device: the refused package is not proposed again; the next is.
    uploaded.get("2/b").removeFirst();
    roster(2, "1/a", "2/b");
    EncryptionGroup.Status again = awaitPending(1);
    assertThat(group.getState().view().pending().get(0).ref()).isNotEqualTo(add.ref());
    commitPending("1/a", 2_000);
    assertThat(members).containsOnlyKeys("1/a", "2/b");
    roster(3, "1/a");
    GroupViewData.PendingData remove = group.getState().view().pending().get(0);
    assertThat(group.<StatusReply<EncryptionGroup.Status>>runCommand(r -> new EncryptionGroup.Revoke(
        "1/a", List.of(remove.ref()), null, r)).reply().getError().getMessage())
        .isEqualTo("forbidden: a Remove cannot be revoked; commit it");
    assertThat(again.pendingProposals()).hasSize(1);
  }
}
