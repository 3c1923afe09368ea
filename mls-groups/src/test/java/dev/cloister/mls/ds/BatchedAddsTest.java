package dev.cloister.mls.ds;

import static org.assertj.core.api.Assertions.assertThat;

import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import dev.cloister.mls.group.MlsGroupException;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The E2EE benchmark's setup through the real delivery-service flow, as the EncryptionGroup entity
 * runs it: 60 members of which 5 have live devices; the server claims a fresh key package for each
 * Add; a live member commits them in batches of 10; live devices whose Add is pending join by
 * external commit, which drops the other pending Adds, and the server issues those again with new
 * key packages; then newcomers join one at a time, from a Welcome or by external commit. Every
 * join checks every leaf of a tree that has grown through all of that, and so does the test.
 *
 * <p>The benchmark ran this with the server in the same process, busy with the guild's other
 * groups on its own threads. bcmls's cipher suites are process-wide singletons with one digest and
 * one signer each, and the client's MLS work did not take the delivery service's lock, so each
 * corrupted the other's hashes and signatures: leaves "badly signed" at a join (they verify when
 * checked again), refused key packages, proposals whose signature fails, "Invalid proposal list".
 * The second test runs the flow (30 members) beside such a server thread.
 */
class BatchedAddsTest {
    private static final int LIVE = 5;
    private static final int BATCH = 10;
    private static final int NEWCOMERS = 5;

    @Test
    void batchedAddsAndExternalJoinsKeepEveryLeafWellSigned() throws Exception {
        new Flow(60).run();
    }

    @Test
    void aClientBesideABusyServerInTheSameProcess() throws Exception {
        BusyServer server = new BusyServer();
        Thread t = new Thread(server, "busy-server");
        t.start();
        try {
            new Flow(30).run(); // failed within its first epochs before bcmls work took one lock
        } finally {
            server.stop = true;
            t.join();
        }
        assertThat(server.failure.get()).as("the server's own work while the client ran").isNull();
        assertThat(server.rounds).as("the server thread ran beside the client").isPositive();
    }

    /** One device: its identity, the key packages it uploaded, and its member once it joined. */
    private static final class Device {
        final DeviceIdentity identity;
        final List<KeyPackageBundle> packages = new ArrayList<>();
        final boolean live;
        GroupMember member;

        Device(String user, boolean live) {
            this.identity = DeviceIdentity.generate(user, "d1");
            this.live = live;
        }

        /** The server claims one of this device's one-time key packages (a fresh one each time). */
        KeyPackageBundle claim() {
            KeyPackageBundle kp = identity.newKeyPackage(false);
            packages.add(kp);
            return kp;
        }
    }

    /** The group as the EncryptionGroup entity and the devices see it. */
    private static final class Flow {
        final DeliveryServiceKey serverKey = DeliveryServiceKey.generate("cloister-ds");
        final DeliveryService ds = new DeliveryService(serverKey);
        final byte[] groupId = "g-bench".getBytes(StandardCharsets.UTF_8);
        final Map<DeviceCredential, Device> devices = new LinkedHashMap<>();
        final Device owner = new Device("owner", true);
        final int size;
        GroupView view;
        byte[] groupInfo;
        int externalJoins;
        int welcomeJoins;

        Flow(int size) {
            this.size = size;
        }

        void run() throws Exception {
            owner.member = GroupMember.create(owner.identity, groupId, serverKey.publicKey(), serverKey.name());
            view = ds.createGroup(groupId, owner.member.groupInfo(), owner.identity.credential()).value();
            groupInfo = owner.member.groupInfo();
            devices.put(owner.identity.credential(), owner);

            for (int i = 1; i < size; i++) {
                Device d = new Device("m" + i, i < LIVE);
                devices.put(d.identity.credential(), d);
                proposeAdd(d);
                if (d.live && i % 2 == 0) {
                    joinExternally(d); // a live device does not wait for the batch
                }
                if (i % BATCH == 0) {
                    commit(owner);
                }
            }
            commit(owner);
            assertThat(view.members()).hasSize(size);

            for (int j = 0; j < NEWCOMERS; j++) {
                Device d = new Device("new" + j, true);
                devices.put(d.identity.credential(), d);
                proposeAdd(d);
                if (j % 2 == 0) {
                    joinExternally(d);
                } else {
                    commit(owner);
                }
                assertConverged();
                byte[] hello = owner.member.protect(("welcome " + j).getBytes(StandardCharsets.UTF_8));
                assertThat(new String(d.member.unprotect(hello), StandardCharsets.UTF_8)).isEqualTo("welcome " + j);
            }
            assertThat(view.members()).hasSize(size + NEWCOMERS);
            assertEveryLeafWellSigned();
            assertThat(externalJoins).isEqualTo(2 + 3);
            assertThat(welcomeJoins).isEqualTo(2 + 2);
        }

        /** The server claims a key package and issues the Add; members take the proposal. */
        void proposeAdd(Device d) throws MlsGroupException {
            Decision<DeliveryService.Proposed> p = ds.proposeAdd(view, d.claim().message(), d.identity.credential(),
                    d.identity.signaturePublicKey());
            assertThat(p.accepted()).as("Add of %s: %s", d.identity.credential(), p.reason()).isTrue();
            view = p.value().view();
            for (GroupMember m : joined()) {
                m.processProposal(p.value().message());
            }
        }

        /** {@code c} commits every pending proposal; live joiners join from the Welcome. */
        void commit(Device c) throws MlsGroupException {
            if (view.pending().isEmpty()) {
                return;
            }
            GroupMember.CommitBundle b = c.member.commit();
            Decision<DeliveryService.CommitAccepted> d = ds.validateCommit(view, b.commit());
            assertThat(d.accepted()).as("commit of epoch %d: %s", view.epoch(), d.reason()).isTrue();
            assertThat(c.member.processCommit(b.commit())).isEqualTo(GroupMember.CommitResult.APPLIED_OWN);
            apply(d.value(), b.commit(), c.member);
            for (DeviceCredential joiner : d.value().joiners()) {
                Device j = devices.get(joiner);
                if (j.live) {
                    j.member = GroupMember.join(j.identity, j.packages, b.welcome());
                    assertThat(j.member.epoch()).isEqualTo(view.epoch());
                    welcomeJoins++;
                }
            }
        }

        /**
         * {@code d}, whose Add is pending, joins from the last GroupInfo; the server drops the other
         * pending Adds and issues them again with new key packages, as the roster asks it to.
         */
        void joinExternally(Device d) throws MlsGroupException {
            GroupMember.ExternalJoin join = GroupMember.joinExternal(d.identity, groupInfo);
            GroupView before = view;
            Decision<DeliveryService.CommitAccepted> accepted = ds.validateExternalCommit(view, join.commit(),
                    who -> before.member(who) != null || before.pending().stream()
                            .anyMatch(p -> p.kind() == GroupView.ProposalKind.ADD && p.device().equals(who)),
                    who -> devices.get(who).identity.signaturePublicKey());
            assertThat(accepted.accepted()).as("external join of %s: %s", d.identity.credential(), accepted.reason())
                    .isTrue();
            assertThat(join.member().processCommit(join.commit())).isEqualTo(GroupMember.CommitResult.APPLIED_OWN);
            apply(accepted.value(), join.commit(), join.member());
            d.member = join.member();
            externalJoins++;
            for (GroupView.PendingProposal p : before.pending()) {
                if (p.kind() == GroupView.ProposalKind.ADD && !p.device().equals(d.identity.credential())) {
                    proposeAdd(devices.get(p.device()));
                }
            }
        }

        /** The accepted commit, applied by its author, reaches every other member; the author uploads the GroupInfo. */
        private void apply(DeliveryService.CommitAccepted accepted, byte[] commit, GroupMember author)
                throws MlsGroupException {
            view = accepted.view();
            for (GroupMember m : joined()) {
                if (m != author) {
                    assertThat(m.processCommit(commit)).isEqualTo(GroupMember.CommitResult.APPLIED);
                }
            }
            groupInfo = author.groupInfo();
            Decision<GroupView> checked = ds.checkGroupInfo(view, groupInfo);
            assertThat(checked.accepted()).as("GroupInfo of epoch %d: %s", view.epoch(), checked.reason()).isTrue();
        }

        private List<GroupMember> joined() {
            List<GroupMember> out = new ArrayList<>();
            for (Device d : devices.values()) {
                if (d.member != null) {
                    out.add(d.member);
                }
            }
            return out;
        }

        /** The server's tree: each leaf signed for its own index (RFC 9420 section 7.2), as joiners check it. */
        private void assertEveryLeafWellSigned() throws Exception {
            List<MlsMessages.LeafNode> leaves = MlsMessages.parseRatchetTree(view.ratchetTree());
            synchronized (MlsSuite.SUITE) { // a package-private check: its callers hold the bcmls lock
                for (int i = 0; i < leaves.size(); i++) {
                    MlsMessages.LeafNode leaf = leaves.get(i);
                    if (leaf != null) {
                        assertThat(KeyPackageCheck.verifies(leaf.signatureKey(), "LeafNodeTBS",
                                leaf.toBeSigned(groupId, i), leaf.signature())).as("leaf %d", i).isTrue();
                    }
                }
            }
        }

        private void assertConverged() throws MlsGroupException {
            for (GroupMember m : joined()) {
                assertThat(m.epoch()).isEqualTo(view.epoch());
                assertThat(m.epochAuthenticator()).isEqualTo(owner.member.epochAuthenticator());
            }
        }
    }

    /**
     * The node's delivery service working for another group on its own thread: key package checks,
     * server-signed Adds, GroupInfo checks. Every decision must be an acceptance.
     */
    private static final class BusyServer implements Runnable {
        final AtomicReference<String> failure = new AtomicReference<>();
        volatile boolean stop;
        volatile int rounds;
        private final DeliveryServiceKey serverKey = DeliveryServiceKey.generate("cloister-ds");
        private final DeliveryService ds = new DeliveryService(serverKey);
        private final GroupView other;
        private final byte[] otherInfo;
        private final List<DeviceIdentity> ids = new ArrayList<>();
        private final List<byte[]> packages = new ArrayList<>();

        BusyServer() throws MlsGroupException {
            byte[] gid = "c-private".getBytes(StandardCharsets.UTF_8);
            DeviceIdentity creator = DeviceIdentity.generate("creator", "d1");
            GroupMember m = GroupMember.create(creator, gid, serverKey.publicKey(), serverKey.name());
            otherInfo = m.groupInfo();
            other = ds.createGroup(gid, otherInfo, creator.credential()).value();
            for (int i = 0; i < 16; i++) {
                DeviceIdentity id = DeviceIdentity.generate("other" + i, "d1");
                ids.add(id);
                packages.add(id.newKeyPackage(false).message());
            }
        }

        @Override
        public void run() {
            int i = 0;
            while (!stop && failure.get() == null) {
                int k = i++ % ids.size();
                DeviceIdentity id = ids.get(k);
                Decision<DeliveryService.Proposed> add = ds.proposeAdd(other, packages.get(k), id.credential(),
                        id.signaturePublicKey());
                Decision<GroupView> info = ds.checkGroupInfo(other, otherInfo);
                if (!add.accepted() || !info.accepted()) {
                    failure.compareAndSet(null, "round " + i + ": " + (add.accepted() ? "" : add.reason() + "; ")
                            + (info.accepted() ? "" : info.reason()));
                }
                rounds = i;
            }
        }
    }
}
