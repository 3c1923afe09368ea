package dev.cloister.guild.group;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.Outcome;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.group.EncryptionGroup.CommitAccepted;
import dev.cloister.guild.group.EncryptionGroup.Event;
import dev.cloister.guild.group.EncryptionGroup.GroupCreated;
import dev.cloister.guild.group.EncryptionGroup.ProposalIssued;
import dev.cloister.guild.group.EncryptionGroup.ProposalsRevoked;
import dev.cloister.guild.group.EncryptionGroup.RosterSet;
import dev.cloister.mls.ds.DeliveryService;
import dev.cloister.mls.ds.GroupView;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.MlsSuite;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the delivery service knows of one group, and its rules: no group secret, only the roster
 * it must converge to, the public {@link GroupView}, the latest GroupInfo, and where each joiner's
 * Welcome is in the log. Pure: every decision takes the {@link DeliveryService} and the time.
 *
 * <p>Devices are named {@code userId/deviceId}.
 */
public record GroupState(
    String groupId, String guildId, String channelId, List<String> roster, long audienceVersion,
    GroupViewData view, byte[] groupInfo, long epochStartedAtMillis, boolean lastCommitRemoved,
    Map<String, Long> welcomeSeq, long seq, List<String> refusedPackages)
    implements CborSerializable {

  /** Reasons a client acts on; they start the rejection message so the API can name them. */
  public static final String STALE_EPOCH = "stale_epoch";
  public static final String WRONG_GROUP = "wrong_group";
  public static final String NO_GROUP = "no_group";
  public static final String ROSTER_PENDING = "roster_pending";
  public static final String FUTURE_EPOCH = "future_epoch";

  public GroupState {
    roster = roster == null ? List.of() : roster;
    welcomeSeq = welcomeSeq == null ? Map.of() : welcomeSeq;
    refusedPackages = refusedPackages == null ? List.of() : refusedPackages;
  }

  public static GroupState empty(String groupId) {
    return new GroupState(groupId, null, null, List.of(), -1, null, null, 0, false, Map.of(), 0,
        List.of());
  }

  public boolean created() {
    return view != null;
  }

  public byte[] groupIdBytes() {
    return groupId.getBytes(StandardCharsets.UTF_8);
  }

  static String[] split(String device) {
    int slash = device.indexOf('/');
    return new String[] {device.substring(0, slash), device.substring(slash + 1)};
  }

  static String name(DeviceCredential d) {
    return d.userId() + "/" + d.deviceId();
  }

  static DeviceCredential credential(String device) {
    String[] ud = split(device);
    return new DeviceCredential(ud[0], ud[1]);
  }

  // -- what the group holds --

  public Set<String> members() {
    Set<String> out = new LinkedHashSet<>();
    if (view != null) {
      view.members().forEach(m -> out.add(m.userId() + "/" + m.deviceId()));
    }
    return out;
  }

  private Set<String> pending(String kind) {
    Set<String> out = new LinkedHashSet<>();
    if (view != null) {
      view.pending().stream().filter(p -> p.kind().equals(kind))
          .forEach(p -> out.add(p.userId() + "/" + p.deviceId()));
    }
    return out;
  }

  /** Roster devices that are neither members nor being added: each needs a key package. */
  public List<String> devicesToAdd() {
    if (view == null) {
      return List.of();
    }
    Set<String> have = members();
    have.addAll(pending("ADD"));
    return roster.stream().filter(d -> !have.contains(d)).toList();
  }

  // -- decisions --

  public Decision<Event> setRoster(String guild, String channel, List<String> devices,
      long version, DeliveryService ds) {
    if (version < audienceVersion) {
      return Decision.accept(); // an older computation arrived late
    }
    for (String d : devices) {
      int slash = d.indexOf('/');
      if (slash <= 0 || slash == d.length() - 1) {
        return Decision.reject(Rejection.invalid("device names are userId/deviceId: " + d));
      }
    }
    List<String> sorted = List.copyOf(new TreeSet<>(devices));
    List<Event> events = new ArrayList<>();
    if (!sorted.equals(roster) || version != audienceVersion || guildId == null) {
      events.add(new RosterSet(guild, channel, sorted, version));
    }
    if (view != null) {
      Set<String> wanted = Set.copyOf(sorted);
      GroupView v = view.toView();
      List<byte[]> revoked = new ArrayList<>();
      for (GroupView.PendingProposal p : v.pending()) {
        if (p.kind() == GroupView.ProposalKind.ADD && !wanted.contains(name(p.device()))) {
          revoked.add(p.ref());
        }
      }
      if (!revoked.isEmpty()) {
        events.add(new ProposalsRevoked(revoked, "no longer on the roster"));
        v = withoutPending(v, revoked);
      }
      Set<String> removing = pending("REMOVE");
      for (GroupView.Member m : v.members()) {
        String d = name(m.device());
        if (!wanted.contains(d) && !removing.contains(d)) {
          var proposed = ds.proposeRemove(v, m.device());
          if (!proposed.accepted()) {
            return Decision.reject(Rejection.invalid(proposed.reason()));
          }
          events.add(issued(proposed.value(), "REMOVE", d, m.leaf(), null));
          v = proposed.value().view();
        }
      }
    }
    return events.isEmpty() ? Decision.accept() : new Decision.Accept<>(events);
  }

  private static ProposalIssued issued(DeliveryService.Proposed p, String kind, String device,
      int leaf, byte[] keyPackage) {
    return new ProposalIssued(kind, device, leaf, p.ref(), p.message(), keyPackage);
  }

  private static GroupView withoutPending(GroupView v, List<byte[]> refs) {
    List<GroupView.PendingProposal> kept = v.pending().stream()
        .filter(p -> refs.stream().noneMatch(r -> Arrays.equals(r, p.ref()))).toList();
    return new GroupView(v.groupId(), v.epoch(), v.ratchetTree(), v.confirmedTranscriptHash(),
        v.interimTranscriptHash(), v.extensions(), v.members(), kept);
  }

  public Decision<Event> create(String device, byte[] info, long now, DeliveryService ds) {
    if (view != null) {
      return Decision.reject(Rejection.conflict("the group already exists (epoch "
          + view.epoch() + "); join it instead"));
    }
    if (!roster.contains(device)) {
      return Decision.reject(Rejection.forbidden("device " + device + " is not on this group's roster"));
    }
    var created = ds.createGroup(groupIdBytes(), info, credential(device));
    if (!created.accepted()) {
      return Decision.reject(Rejection.invalid(created.reason()));
    }
    return Decision.accept(new GroupCreated(device, info, now));
  }

  public Decision<Event> proposeAdd(String device, byte[] keyPackage, DeliveryService ds) {
    if (view == null || !devicesToAdd().contains(device)) {
      return Decision.accept(); // the roster moved on while the package was being claimed
    }
    if (refusedPackages.contains(digest(keyPackage))) {
      return Decision.reject(Rejection.conflict("a member refused this key package of " + device
          + "; the device needs to upload new ones"));
    }
    var proposed = ds.proposeAdd(view.toView(), keyPackage, credential(device));
    if (!proposed.accepted()) {
      return Decision.reject(Rejection.invalid(proposed.reason()));
    }
    byte[] kp = proposed.value().view().pending().get(view.pending().size()).keyPackage();
    return Decision.accept(issued(proposed.value(), "ADD", device, -1, kp));
  }

  /**
   * A member cannot process some pending Adds (a key package its client refuses): they are
   * dropped, as DAVE's proposals op allows, so that no proposal can wedge the group; the roster
   * proposes those devices again with other key packages. Removes cannot be revoked this way:
   * a removal must happen.
   */
  public Decision<Event> revoke(String device, List<byte[]> refs, String reason) {
    if (view == null) {
      return Decision.reject(Rejection.conflict(NO_GROUP + ": the group does not exist yet"));
    }
    if (!members().contains(device)) {
      return Decision.reject(Rejection.forbidden("only members revoke proposals"));
    }
    if (refs.isEmpty()) {
      return Decision.reject(Rejection.invalid("name the proposals to revoke"));
    }
    for (byte[] ref : refs) {
      GroupViewData.PendingData p = view.pending().stream()
          .filter(x -> Arrays.equals(x.ref(), ref)).findFirst().orElse(null);
      if (p == null) {
        return Decision.reject(Rejection.conflict(STALE_EPOCH
            + ": no such pending proposal in epoch " + view.epoch()));
      }
      if (!p.kind().equals("ADD")) {
        return Decision.reject(Rejection.forbidden("a Remove cannot be revoked; commit it"));
      }
    }
    String why = reason == null || reason.isBlank() ? "refused by " + device
        : "refused by " + device + ": " + (reason.length() > 200 ? reason.substring(0, 200) : reason);
    return Decision.accept(new ProposalsRevoked(List.copyOf(refs), why));
  }

  /** Identifies a key package (the MLSMessage a claim hands out) among refused ones. */
  static String digest(byte[] keyPackageMessage) {
    try {
      return java.util.HexFormat.of().formatHex(
          sha256(MlsMessages.parseKeyPackageMessage(keyPackageMessage).encoded()));
    } catch (MlsWireException e) {
      return "";
    }
  }

  private static byte[] sha256(byte[] bytes) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256").digest(bytes);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public Decision<Event> reset(String device, DeliveryService ds) {
    if (view == null) {
      return Decision.reject(Rejection.conflict(NO_GROUP + ": the group does not exist yet"));
    }
    GroupView v = view.toView();
    GroupView.Member m = v.member(credential(device));
    if (m == null || pending("REMOVE").contains(device)) {
      return Decision.accept(); // not a member (any more): it will be added from the roster
    }
    var proposed = ds.proposeRemove(v, m.device());
    if (!proposed.accepted()) {
      return Decision.reject(Rejection.invalid(proposed.reason()));
    }
    return Decision.accept(issued(proposed.value(), "REMOVE", device, m.leaf(), null));
  }

  public Decision<Event> commit(String device, byte[] commit, byte[] welcome, byte[] info,
      long now, CommitReplay replay) {
    if (view == null) {
      return Decision.reject(Rejection.conflict(NO_GROUP + ": the group does not exist yet"));
    }
    MlsMessages.PublicMessage pm;
    try {
      pm = MlsMessages.parsePublicMessage(commit);
    } catch (MlsWireException e) {
      return Decision.reject(Rejection.invalid("malformed commit: " + e.getMessage()));
    }
    if (!Arrays.equals(pm.groupId(), groupIdBytes())) {
      return Decision.reject(Rejection.invalid(WRONG_GROUP + ": commit is for another group"));
    }
    if (pm.epoch() != view.epoch()) {
      return Decision.reject(Rejection.conflict(STALE_EPOCH + ": commit is for epoch " + pm.epoch()
          + ", the group is at epoch " + view.epoch() + "; process the log and commit again"));
    }
    GroupView before = view.toView();
    GroupView.Member sender = before.memberAt(pm.senderIndex());
    boolean external = pm.senderType() == MlsMessages.SENDER_NEW_MEMBER_COMMIT;
    if (!external && (sender == null || !name(sender.device()).equals(device))) {
      return Decision.reject(Rejection.forbidden("a device commits only in its own name"));
    }
    if (external && !mayJoinExternally(device)) {
      return Decision.reject(Rejection.forbidden("device " + device + " may join by external"
          + " commit only while its Add is pending or to rejoin as a member"));
    }
    var accepted = external
        ? replay.validateExternal(before, commit, d -> name(d).equals(device))
        : replay.validate(before, commit);
    if (!accepted.accepted()) {
      return Decision.reject(Rejection.invalid(accepted.reason()));
    }
    GroupView next = accepted.value().view();
    List<String> joiners = accepted.value().joiners().stream().map(GroupState::name).toList();
    List<String> removed = accepted.value().removed().stream().map(GroupState::name).toList();
    String bad = external ? null : checkWelcome(welcome, joiners, before);
    if (bad == null && info != null) {
      var checked = replay.ds().checkGroupInfo(next, info);
      bad = checked.accepted() ? null : checked.reason();
    }
    if (bad != null) {
      return Decision.reject(Rejection.invalid(bad));
    }
    return Decision.accept(new CommitAccepted(device, before.epoch(), commit,
        joiners.isEmpty() || external ? null : welcome, info, joiners, removed, now));
  }

  /** A roster device whose Add is pending (it need not wait for a member), or a member rejoining. */
  private boolean mayJoinExternally(String device) {
    return roster.contains(device)
        && (pending("ADD").contains(device) || members().contains(device));
  }

  /**
   * The Welcome must be an MLS 1.0 Welcome naming exactly the key packages of the Adds
   * (by KeyPackageRef): a commit whose joiners could not join would wedge them.
   */
  private static String checkWelcome(byte[] welcome, List<String> joiners, GroupView before) {
    if (joiners.isEmpty()) {
      return null;
    }
    if (welcome == null) {
      return "the commit adds " + joiners + " and needs a Welcome for them";
    }
    try {
      Set<String> named = new java.util.HashSet<>();
      for (byte[] ref : MlsMessages.checkWelcome(welcome, MlsSuite.SUITE.getSuiteID())) {
        named.add(java.util.HexFormat.of().formatHex(ref));
      }
      Set<String> expected = new java.util.HashSet<>();
      for (GroupView.PendingProposal p : before.pending()) {
        if (p.kind() == GroupView.ProposalKind.ADD) {
          expected.add(java.util.HexFormat.of().formatHex(keyPackageRef(p.keyPackage())));
        }
      }
      return named.equals(expected) ? null
          : "the Welcome must be addressed to exactly the added devices' key packages";
    } catch (MlsWireException e) {
      return "malformed Welcome: " + e.getMessage();
    }
  }

  private static byte[] keyPackageRef(byte[] keyPackage) throws MlsWireException {
    // bcmls's suite objects share one digest; the delivery service locks on the same object.
    synchronized (MlsSuite.SUITE) {
      try {
        return MlsSuite.SUITE.refHash(keyPackage, "MLS 1.0 KeyPackage Reference");
      } catch (java.io.IOException e) {
        throw new MlsWireException("cannot hash key package: " + e.getMessage());
      }
    }
  }

  /**
   * A member uploads the current epoch's GroupInfo (with the ratchet tree) after applying a commit,
   * so that a device whose Add is pending can join by external commit while nobody is online.
   */
  public Decision<Event> uploadGroupInfo(String device, byte[] info, DeliveryService ds) {
    if (view == null) {
      return Decision.reject(Rejection.conflict(NO_GROUP + ": the group does not exist yet"));
    }
    if (!members().contains(device)) {
      return Decision.reject(Rejection.forbidden("only members upload the group's GroupInfo"));
    }
    if (info == null) {
      return Decision.reject(Rejection.invalid("GroupInfo missing"));
    }
    var checked = ds.checkGroupInfo(view.toView(), info);
    if (!checked.accepted()) {
      return Decision.reject(Rejection.invalid(checked.reason()));
    }
    return groupInfo != null && Arrays.equals(groupInfo, info) ? Decision.accept()
        : Decision.accept(new EncryptionGroup.GroupInfoUploaded(device, view.epoch(), info));
  }

  /** Whether a message of {@code epoch} may be posted to a channel of this group now. */
  public Outcome<EncryptionGroup.Admission> admitPost(long epoch, long guildAudienceVersion,
      long now, long graceMillis) {
    if (view == null) {
      return Outcome.rejected(Rejection.conflict(NO_GROUP
          + ": the channel's encryption group does not exist yet; create it and post again"));
    }
    if (guildAudienceVersion > audienceVersion) {
      return Outcome.rejected(Rejection.conflict(ROSTER_PENDING
          + ": who may read this channel just changed; sync the group and post again"));
    }
    if (!pending("REMOVE").isEmpty()) {
      return Outcome.rejected(Rejection.conflict(STALE_EPOCH + ": a member is being removed"
          + " from epoch " + view.epoch() + "; commit the pending proposals and post again"));
    }
    boolean inGrace = !lastCommitRemoved && now - epochStartedAtMillis <= graceMillis;
    String refused = DeliveryService.checkEpoch(view.epoch(), epoch, inGrace);
    if (refused != null) {
      return Outcome.rejected(Rejection.conflict(refused));
    }
    return Outcome.ok(new EncryptionGroup.Admission(groupId, view.epoch()));
  }

  public EncryptionGroup.Status status(String device) {
    List<byte[]> pendingMessages = view == null ? List.of()
        : view.pending().stream().map(GroupViewData.PendingData::message).toList();
    Long welcome = device == null ? null : welcomeSeq.get(device);
    return new EncryptionGroup.Status(groupId, guildId, channelId, view != null,
        view == null ? -1 : view.epoch(), view == null ? List.of() : view.members(),
        pendingMessages, groupInfo, welcome == null ? 0 : welcome,
        device != null && roster.contains(device), seq);
  }

  // -- events --

  public GroupState apply(Event event, CommitReplay replay) {
    long s = seq + 1;
    if (event instanceof RosterSet r) {
      return new GroupState(groupId, r.guildId(), r.channelId(), r.devices(),
          r.audienceVersion(), view, groupInfo, epochStartedAtMillis, lastCommitRemoved,
          welcomeSeq, s, refusedPackages);
    }
    if (event instanceof GroupCreated c) {
      GroupView v = replay.ds().createGroup(groupIdBytes(), c.groupInfo(), credential(c.creator()))
          .value();
      return new GroupState(groupId, guildId, channelId, roster, audienceVersion,
          GroupViewData.of(v), c.groupInfo(), c.atMillis(), false, welcomeSeq, s, refusedPackages);
    }
    if (event instanceof ProposalIssued p) {
      List<GroupViewData.PendingData> pend = new ArrayList<>(view.pending());
      String[] ud = split(p.device());
      pend.add(new GroupViewData.PendingData(p.ref(), p.kind(), ud[0], ud[1], p.leaf(),
          p.message(), p.keyPackage()));
      return withView(new GroupViewData(view.groupId(), view.epoch(), view.ratchetTree(),
          view.confirmedTranscriptHash(), view.interimTranscriptHash(), view.extensions(),
          view.members(), List.copyOf(pend)), s);
    }
    if (event instanceof ProposalsRevoked r) {
      GroupState next = withView(GroupViewData.of(withoutPending(view.toView(), r.refs())), s);
      if (!r.reason().startsWith("refused by ")) {
        return next;
      }
      List<String> refused = new ArrayList<>(refusedPackages);
      for (GroupViewData.PendingData p : view.pending()) {
        if (p.keyPackage() != null && r.refs().stream().anyMatch(x -> Arrays.equals(x, p.ref()))) {
          refused.add(java.util.HexFormat.of().formatHex(sha256(p.keyPackage())));
        }
      }
      // Bounded: the oldest refusals are forgotten first.
      List<String> kept = refused.subList(Math.max(0, refused.size() - 256), refused.size());
      return new GroupState(groupId, guildId, channelId, roster, audienceVersion, next.view(),
          groupInfo, epochStartedAtMillis, lastCommitRemoved, welcomeSeq, s, List.copyOf(kept));
    }
    if (event instanceof EncryptionGroup.GroupInfoUploaded g) {
      return new GroupState(groupId, guildId, channelId, roster, audienceVersion, view,
          g.groupInfo(), epochStartedAtMillis, lastCommitRemoved, welcomeSeq, s, refusedPackages);
    }
    if (event instanceof CommitAccepted c) {
      GroupView next = replay.next(view.toView(), c.commit());
      Map<String, Long> welcomes = new LinkedHashMap<>(welcomeSeq);
      c.removed().forEach(welcomes::remove);
      if (c.welcome() != null) {
        c.joiners().forEach(j -> welcomes.put(j, s));
      } else {
        c.joiners().forEach(welcomes::remove); // joined by external commit: no Welcome
      }
      return new GroupState(groupId, guildId, channelId, roster, audienceVersion,
          GroupViewData.of(next), c.groupInfo(), c.atMillis(), !c.removed().isEmpty(),
          Map.copyOf(welcomes), s, refusedPackages);
    }
    throw new IllegalStateException("unknown event " + event);
  }

  private GroupState withView(GroupViewData v, long s) {
    return new GroupState(groupId, guildId, channelId, roster, audienceVersion, v, groupInfo,
        epochStartedAtMillis, lastCommitRemoved, welcomeSeq, s, refusedPackages);
  }
}
