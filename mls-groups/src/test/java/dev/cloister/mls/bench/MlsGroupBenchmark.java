package dev.cloister.mls.bench;

import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.DeliveryServiceKey;
import dev.cloister.mls.ds.GroupView;
import dev.cloister.mls.group.DeviceIdentity;
import dev.cloister.mls.group.GroupMember;
import dev.cloister.mls.group.KeyPackageBundle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * MLS costs at group sizes 10, 100 and 500, one Add per measured epoch through the delivery
 * service: commit creation, commit processing per member (mean over a few followers), join from
 * Welcome, Welcome size and delivery-service validation. Not JMH (building a 500-member group is
 * the expensive part); median of {@code reps} epochs after a warm-up.
 * Run: {@code mvn -B -pl mls-groups -Pbench test-compile exec:exec -Dbench.main=dev.cloister.mls.bench.MlsGroupBenchmark -Dbench.args=}
 */
public final class MlsGroupBenchmark {
    private static final int FOLLOWERS = 4;

    private final DeliveryServiceKey key = DeliveryServiceKey.generate("cloister-ds");
    private final DeliveryService ds = new DeliveryService(key);
    private GroupView view;
    private final List<GroupMember> tracked = new ArrayList<>();
    private int nextUser;

    public static void main(String[] args) throws Exception {
        int[] sizes = args.length > 0 ? Arrays.stream(args).mapToInt(Integer::parseInt).toArray() : new int[] {10, 100, 500};
        int reps = Integer.getInteger("reps", 7);
        System.out.printf("%6s %12s %14s %12s %12s %12s%n", "size", "commit ms", "process ms/mbr", "join ms",
                "welcome B", "ds ms");
        for (int size : sizes) {
            new MlsGroupBenchmark().run(size, reps);
        }
    }

    private void run(int size, int reps) throws Exception {
        byte[] groupId = ("bench-" + size).getBytes();
        DeviceIdentity creator = identity();
        GroupMember first = GroupMember.create(creator, groupId, key.publicKey(), key.name());
        view = ds.createGroup(groupId, first.groupInfo(), creator.credential()).value();
        tracked.add(first);
        // Grow in batches of Adds; only a few members keep following the group.
        while (view.members().size() < size - 1) {
            int batch = Math.min(50, size - 1 - view.members().size());
            addBatch(batch, tracked.size() < FOLLOWERS + 1);
        }
        for (int i = 0; i < 2; i++) {
            measure(true);
        }
        double[][] samples = new double[5][reps];
        for (int r = 0; r < reps; r++) {
            double[] s = measure(false);
            for (int k = 0; k < 5; k++) {
                samples[k][r] = s[k];
            }
            // Remove the newcomer again so the size stays put.
            removeLast();
        }
        System.out.printf("%6d %12.2f %14.2f %12.2f %12.0f %12.2f%n", size, median(samples[0]), median(samples[1]),
                median(samples[2]), median(samples[3]), median(samples[4]));
    }

    private DeviceIdentity identity() {
        return DeviceIdentity.generate("user" + nextUser++, "device");
    }

    private void addBatch(int n, boolean keep) throws Exception {
        List<DeviceIdentity> ids = new ArrayList<>();
        List<KeyPackageBundle> kps = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            DeviceIdentity id = identity();
            KeyPackageBundle kp = id.newKeyPackage(false);
            DeliveryService.Proposed p = ds.proposeAdd(view, kp.message(), id.credential()).value();
            view = p.view();
            for (GroupMember m : tracked) {
                m.processProposal(p.message());
            }
            ids.add(id);
            kps.add(kp);
        }
        GroupMember.CommitBundle c = tracked.get(0).commit();
        view = ds.validateCommit(view, c.commit()).value().view();
        for (GroupMember m : tracked) {
            m.processCommit(c.commit());
        }
        for (int i = 0; keep && i < n && tracked.size() < FOLLOWERS + 1; i++) {
            tracked.add(GroupMember.join(ids.get(i), List.of(kps.get(i)), c.welcome()));
        }
    }

    /** One Add epoch: {commit ms, process ms per member, join ms, welcome bytes, ds ms}. */
    private double[] measure(boolean warmup) throws Exception {
        DeviceIdentity id = identity();
        KeyPackageBundle kp = id.newKeyPackage(false);
        DeliveryService.Proposed p = ds.proposeAdd(view, kp.message(), id.credential()).value();
        view = p.view();
        for (GroupMember m : tracked) {
            m.processProposal(p.message());
        }
        GroupMember committer = tracked.get(0);
        long t0 = System.nanoTime();
        GroupMember.CommitBundle c = committer.commit();
        long t1 = System.nanoTime();
        view = ds.validateCommit(view, c.commit()).value().view();
        long t2 = System.nanoTime();
        committer.processCommit(c.commit());
        long t3 = System.nanoTime();
        for (int i = 1; i < tracked.size(); i++) {
            tracked.get(i).processCommit(c.commit());
        }
        long t4 = System.nanoTime();
        GroupMember joined = GroupMember.join(id, List.of(kp), c.welcome());
        long t5 = System.nanoTime();
        if (!Arrays.equals(joined.sframeBaseKey(), committer.sframeBaseKey())) {
            throw new IllegalStateException("joiner disagrees");
        }
        lastJoined = id;
        return new double[] {(t1 - t0) / 1e6, (t4 - t3) / 1e6 / (tracked.size() - 1), (t5 - t4) / 1e6,
                c.welcome().length, (t2 - t1) / 1e6};
    }

    private DeviceIdentity lastJoined;

    private void removeLast() throws Exception {
        DeliveryService.Proposed p = ds.proposeRemove(view, lastJoined.credential()).value();
        view = p.view();
        for (GroupMember m : tracked) {
            m.processProposal(p.message());
        }
        GroupMember.CommitBundle c = tracked.get(0).commit();
        view = ds.validateCommit(view, c.commit()).value().view();
        for (GroupMember m : tracked) {
            m.processCommit(c.commit());
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
