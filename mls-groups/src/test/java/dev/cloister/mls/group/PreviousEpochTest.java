package dev.cloister.mls.group;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.mls.ds.GroupView;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Messages sent before a commit and delivered after it still open; older ones fail with a clear reason. */
class PreviousEpochTest {
    private final DeliveryServiceKey serverKey = DeliveryServiceKey.generate("ds");
    private final DeliveryService ds = new DeliveryService(serverKey);
    private final Map<DeviceCredential, GroupMember> members = new LinkedHashMap<>();
    private GroupView view;
    private GroupMember alice;
    private GroupMember bob;
    private GroupMember carol;

    @BeforeEach
    void threeMembers() throws Exception {
        DeviceIdentity a = DeviceIdentity.generate("alice", "d");
        byte[] groupId = "grace".getBytes(StandardCharsets.UTF_8);
        alice = GroupMember.create(a, groupId, serverKey.publicKey(), serverKey.name());
        view = ds.createGroup(groupId, alice.groupInfo(), a.credential()).value();
        members.put(a.credential(), alice);
        bob = add(DeviceIdentity.generate("bob", "d"));
        carol = add(DeviceIdentity.generate("carol", "d"));
    }

    private GroupMember add(DeviceIdentity device) throws Exception {
        KeyPackageBundle kp = device.newKeyPackage(false);
        DeliveryService.Proposed p = ds.proposeAdd(view, kp.message(), device.credential()).value();
        view = p.view();
        for (GroupMember m : members.values()) {
            m.processProposal(p.message());
        }
        GroupMember.CommitBundle c = alice.commit();
        accept(c.commit());
        GroupMember joined = GroupMember.join(device, List.of(kp), c.welcome());
        members.put(device.credential(), joined);
        return joined;
    }

    private void remove(GroupMember gone) throws Exception {
        DeliveryService.Proposed p = ds.proposeRemove(view, gone.identity().credential()).value();
        view = p.view();
        for (GroupMember m : members.values()) {
            m.processProposal(p.message());
        }
        accept(alice.commit().commit());
    }

    private void accept(byte[] commit) throws Exception {
        view = ds.validateCommit(view, commit).value().view();
        for (GroupMember m : new ArrayList<>(members.values())) {
            m.processCommit(commit);
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void previousEpochOpensOlderFailsClearly() throws Exception {
        long n = bob.epoch();
        byte[] early = bob.protect(utf8("sent before the commit"));
        byte[] early2 = bob.protect(utf8("also before"));
        assertThat(carol.epochOf(early)).isEqualTo(n);
        GroupMember dave = add(DeviceIdentity.generate("dave", "d"));
        assertThat(carol.epoch()).isEqualTo(n + 1);
        assertThat(carol.unprotect(early)).isEqualTo(utf8("sent before the commit"));
        // The joiner was not there at epoch n.
        assertThatThrownBy(() -> dave.unprotect(early)).hasMessageContaining("message from epoch " + n
                + ", this device keeps only epochs " + (n + 1) + ".." + (n + 1));

        // The kept epoch survives a restart.
        GroupMember carolAgain = GroupMember.fromBytes(carol.identity(), carol.toBytes());
        members.put(carol.identity().credential(), carolAgain);
        assertThat(carolAgain.unprotect(early2)).isEqualTo(utf8("also before"));
        byte[] now = bob.protect(utf8("after"));
        assertThat(carolAgain.unprotect(now)).isEqualTo(utf8("after"));
        assertThat(dave.unprotect(now)).isEqualTo(utf8("after"));

        // Two commits later the message is out of reach.
        byte[] lateEarly = alice.protect(utf8("epoch n+1"));
        add(DeviceIdentity.generate("erin", "d"));
        assertThat(bob.unprotect(lateEarly)).isEqualTo(utf8("epoch n+1"));
        assertThatThrownBy(() -> bob.unprotect(early2)).hasMessageContaining("message from epoch " + n
                + ", this device keeps only epochs " + (n + 1) + ".." + (n + 2));
        byte[] another = alice.protect(utf8("epoch n+2"));
        bob.forgetPreviousEpoch();
        assertThat(bob.unprotect(another)).isEqualTo(utf8("epoch n+2"));
        byte[] olderOne = dave.protect(utf8("x"));
        assertThat(carolAgain.unprotect(olderOne)).isEqualTo(utf8("x"));
    }

    @Test
    void aRemovedDeviceReadsWhatWasSentToItAndNothingAfter() throws Exception {
        byte[] before = bob.protect(utf8("still for carol"));
        long last = carol.epoch();
        remove(carol);
        assertThat(carol.status()).isEqualTo(GroupMember.Status.REMOVED);
        assertThat(carol.unprotect(before)).isEqualTo(utf8("still for carol"));
        byte[] after = bob.protect(utf8("not for carol"));
        assertThatThrownBy(() -> carol.unprotect(after)).hasMessageContaining("keeps only epochs " + last + ".." + last);
        GroupMember restored = GroupMember.fromBytes(carol.identity(), carol.toBytes());
        assertThatThrownBy(() -> restored.unprotect(after)).hasMessageContaining("keeps only epochs");
        assertThatThrownBy(restored::sframeBaseKey).hasMessageContaining("no longer in the group");

        // A device that leaves forgets everything.
        byte[] toBob = alice.protect(utf8("bye"));
        bob.leave();
        assertThatThrownBy(() -> bob.unprotect(toBob)).hasMessageContaining("no longer in the group (LEFT)");
        assertThat(GroupMember.fromBytes(bob.identity(), bob.toBytes()).status()).isEqualTo(GroupMember.Status.LEFT);
    }

    @Test
    void messagesAreCheckedBeforeBcmlsSeesThem() throws Exception {
        byte[] m = bob.protect(utf8("hello"));
        assertThatThrownBy(() -> carol.unprotect(java.util.Arrays.copyOf(m, m.length + 1))).hasMessageContaining("trailing");
        assertThatThrownBy(() -> carol.epochOf(new byte[] {0, 1, 0, 1})).hasMessageContaining("not PrivateMessage");
        byte[] otherGroup = m.clone();
        otherGroup[5] ^= 1;
        assertThatThrownBy(() -> carol.unprotect(otherGroup)).hasMessageContaining("another group");
        assertThatThrownBy(() -> carol.unprotect(alice.groupInfo())).hasMessageContaining("malformed");

        // A sender far ahead of its ratchet (lost messages, or a hostile member) is refused before bcmls derives every key.
        // Bob's message m above was generation 0; carol has read none of his messages.
        List<byte[]> sent = new ArrayList<>();
        for (int i = 1; i <= GroupMember.MAX_GENERATION_SKIP + 10; i++) {
            sent.add(bob.protect(utf8("n" + i)));
        }
        byte[] tooFar = sent.get(sent.size() - 1);
        assertThatThrownBy(() -> carol.unprotect(tooFar)).hasMessageContaining("more than " + GroupMember.MAX_GENERATION_SKIP);
        byte[] within = sent.get(GroupMember.MAX_GENERATION_SKIP - 1);
        assertThat(carol.unprotect(within)).isEqualTo(utf8("n" + GroupMember.MAX_GENERATION_SKIP));
        assertThat(carol.unprotect(tooFar)).isEqualTo(utf8("n" + (GroupMember.MAX_GENERATION_SKIP + 10)));
        assertThat(carol.unprotect(m)).isEqualTo(utf8("hello"));
    }
}
