package dev.cloister.client.chat;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterApi;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.HistoryQuery;
import dev.cloister.client.Message;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.ServerUnreachableException;
import dev.cloister.client.mls.GroupApi;
import dev.cloister.client.mls.GroupSession;
import dev.cloister.client.mls.GroupSync;
import dev.cloister.client.mls.Refusal;
import dev.cloister.client.profile.CorruptFileException;
import dev.cloister.client.profile.HomeLock;
import dev.cloister.client.profile.Profile;
import dev.cloister.mls.group.DeviceCredential;
import dev.cloister.mls.group.MlsGroupException;
import dev.cloister.mls.wire.MlsMessages;
import dev.cloister.mls.wire.MlsWireException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * End-to-end encrypted chat for one device: send, read (history decrypted in log order and kept
 * in the message store), open a single ciphertext, and take messages from the gateway.
 *
 * <p>Forward secrecy decides the order of work. A device decrypts a message of epoch e only while
 * it holds epoch e (or e + 1, which keeps e for a grace). So before it applies a commit that
 * leaves epoch e, it fetches the new messages of every channel of the group and decrypts those of
 * epoch e ({@link GroupSync.Messages}); plaintexts are written before the group state that no
 * longer holds their keys.
 *
 * <p>Each operation holds the home's lock ({@link Profile#lock()}) and reads the stores afresh.
 * Not thread-safe; one instance per thread.
 */
public final class Chat {

  /** How long a send waits to become a member of the channel's group (a member may add it). */
  static final Duration SEND_WAIT = Duration.ofSeconds(10);
  /** How long a read waits when membership is only a moment away (the roster driver is behind). */
  static final Duration READ_WAIT = Duration.ofSeconds(3);
  static final Duration POLL = Duration.ofMillis(150);
  static final int SEND_ATTEMPTS = 8;
  private static final int PAGE = HistoryQuery.MAX_LIMIT;
  private static final int MAX_PAGES = 100_000;

  /** A read: the newest messages, oldest first, and where this device stands in the group. */
  public record ReadResult(List<StoredMessage> messages, GroupSync.Result group) {}

  /** An opened ciphertext: its text, or why it cannot be read. */
  public record Opened(String text, String reason, boolean fromStore) {
    public boolean ok() {
      return text != null;
    }
  }

  /** Where a channel's group stands for this device. */
  public record GroupState(String groupId, GroupSync.Result sync, long epoch,
      List<String> members) {}

  private final Profile profile;
  private final CloisterApi api;
  private final GroupApi groups;
  private final GroupSync sync;
  private final List<String> notices = new ArrayList<>();
  // Per operation: read afresh under the lock, since another process may have written.
  private final Map<String, MessageStore> stores = new LinkedHashMap<>();
  private final Map<String, String> channelGroups = new HashMap<>();
  private final Map<String, List<String>> groupChannels = new HashMap<>();

  public Chat(CloisterClient client) {
    this.profile = client.profile();
    this.api = client.api();
    this.groups = new GroupApi(client.rest());
    this.sync = new GroupSync(groups, profile, client.identity(), notices::add);
  }

  /** What a person should know about what happened (a reset, a refused proposal); cleared on read. */
  public List<String> drainNotices() {
    List<String> out = List.copyOf(notices);
    notices.clear();
    return out;
  }

  private HomeLock begin() throws IOException {
    HomeLock lock = profile.lock();
    stores.clear();
    channelGroups.clear();
    groupChannels.clear();
    return lock;
  }

  // ---- send ----

  /** A chat message encrypted for a channel's group, ready to post (over REST or the gateway). */
  public record Sealed(String channelId, String groupId, long epoch, byte[] ciphertext) {}

  /**
   * Encrypts {@code text} for the channel's group at its current epoch and posts it; syncs first
   * (processing the log, committing pending proposals, joining if needed), and again after a
   * refusal the server names ({@code stale_epoch}, {@code roster_pending}, ...), a bounded number
   * of times.
   *
   * @throws ChatException this device is not (yet) a member of the channel's group
   */
  public Message send(String channelId, String text) throws IOException {
    return sealAndPost(channelId, text, sealed -> {
      Message m = api.post(channelId, sealed.ciphertext());
      MessageStore store = store(channelId);
      store.sent(m, sealed.groupId(), sealed.epoch(), sealed.ciphertext(), text);
      store.save();
      return m;
    });
  }

  private interface Post {
    Message post(Sealed sealed) throws IOException;
  }

  /** Seals {@code text} and posts it, sealing again after a refusal a sync cures (bounded). */
  private Message sealAndPost(String channelId, String text, Post post) throws IOException {
    ChatPayload.of(text);
    try (HomeLock lock = begin()) {
      ApiException refused = null;
      for (int attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
        Sealed sealed = seal(channelId, text, attempt > 0);
        try {
          return post.post(sealed);
        } catch (ApiException e) {
          if (!Refusal.curedBySync(e)) {
            throw e;
          }
          refused = e;
          if (Refusal.ROSTER_PENDING.equals(Refusal.of(e))) {
            pause(Duration.ofMillis(100L * (attempt + 1)));
          }
        }
      }
      throw refused;
    }
  }

  /**
   * Syncs the channel's group and encrypts {@code text} for it, for a caller that posts it
   * itself (the gateway's {@code send} op). The text waits in the store's outbox, so the message
   * reads as this device's own when it comes back from history or the gateway. A refusal of the
   * post ({@code stale_epoch}, ...) means: seal again.
   */
  public Sealed seal(String channelId, String text) throws IOException {
    ChatPayload.of(text);
    try (HomeLock lock = begin()) {
      return seal(channelId, text, false);
    }
  }

  private Sealed seal(String channelId, String text, boolean freshGroup) throws IOException {
    String groupId = groupOf(channelId, freshGroup);
    GroupSync.Result r = awaitMember(groupId, SEND_WAIT, true);
    if (!r.member()) {
      throw new ChatException("cannot send to channel " + channelId + ": " + r.detail());
    }
    GroupSession s = r.session();
    byte[] ciphertext;
    try {
      ciphertext = s.seal(ChatPayload.of(text).encode());
    } catch (MlsGroupException e) {
      throw new ChatException("cannot encrypt for group " + groupId + ": " + e.getMessage(), e);
    }
    s.save(); // never reuse a message key, whatever happens next
    MessageStore store = store(channelId);
    store.outgoing(ciphertext, text);
    store.save();
    return new Sealed(channelId, groupId, s.epoch(), ciphertext);
  }

  /**
   * Edits one's own message: the new text, encrypted for the channel's group now, retried after a
   * refusal a sync cures, as {@link #send} is.
   */
  public Message edit(String channelId, String messageId, String text) throws IOException {
    return sealAndPost(channelId, text, sealed -> {
      Message m = api.edit(channelId, messageId, sealed.ciphertext());
      MessageStore store = store(channelId);
      Instant created = store.get(messageId).map(StoredMessage::createdAt).orElse(m.createdAt());
      store.sent(new Message(m.id(), m.channelId(), m.authorId(), m.ciphertext(), created,
          m.editedAt(), m.pinned()), sealed.groupId(), sealed.epoch(), sealed.ciphertext(), text);
      store.save();
      return m;
    });
  }

  /** Deletes a message (one's own, or any with MANAGE_MESSAGES) and forgets its text here. */
  public void delete(String channelId, String messageId) throws IOException {
    api.deleteMessage(channelId, messageId);
    forget(channelId, messageId);
  }

  /** Takes a MESSAGE_DELETE: the message's text is forgotten on this device too. */
  public void forget(String channelId, String messageId) throws IOException {
    try (HomeLock lock = begin()) {
      MessageStore store = store(channelId);
      store.remove(messageId);
      store.save();
    }
  }

  /**
   * The {@code limit} stored messages just older than {@code beforeId}, oldest first, from this
   * device's store only (a {@link #read} has fetched the channel's history into it already).
   */
  public List<StoredMessage> older(String channelId, String beforeId, int limit)
      throws IOException {
    try (HomeLock lock = begin()) {
      return store(channelId).before(Long.parseLong(beforeId), limit);
    }
  }


  // ---- read ----

  /**
   * Fetches the channel's new messages, brings the group up to date (decrypting each epoch's
   * messages before leaving it), and returns the newest {@code limit} stored messages.
   */
  public ReadResult read(String channelId, int limit) throws IOException {
    try (HomeLock lock = begin()) {
      String groupId = groupOf(channelId, false);
      fetch(channelId);
      GroupSync.Result r = awaitMember(groupId, READ_WAIT, false);
      if (r.session() != null) {
        settle(r.session());
      }
      MessageStore store = store(channelId);
      for (String other : store.pendingGroups()) {
        if (other != null && !other.equals(groupId)) {
          settleElsewhere(other);
        }
      }
      if (!r.member() && r.detail() != null) {
        notices.add(r.detail());
      }
      return new ReadResult(store.last(limit), r);
    }
  }

  /** Why a message still pending after a read is not readable (yet). */
  public static String pendingReason(StoredMessage m, GroupSync.Result group) {
    return Unreadable.notYet(m.groupId(), m.epoch(), group == null ? null : group.detail());
  }

  // ---- open ----

  /**
   * Decrypts one ciphertext with this device's state; the state is not saved afterwards, so
   * opening does not use up a message key. If the message is of a newer epoch, syncs the group
   * first. A message this device already read (its key spent) is answered from the store.
   */
  public Opened open(String channelId, byte[] ciphertext) throws IOException {
    MlsMessages.PrivateMessageHeader h;
    try {
      h = MlsMessages.parsePrivateMessageHeader(ciphertext);
    } catch (MlsWireException e) {
      return new Opened(null, "not an MLS PrivateMessage (" + e.getMessage() + ")", false);
    }
    String groupId = new String(h.groupId(), StandardCharsets.UTF_8);
    if (!GroupApi.validGroupId(groupId)) {
      return new Opened(null, "a PrivateMessage of a group Cloister does not name: " + groupId, false);
    }
    try (HomeLock lock = begin()) {
      Optional<GroupSession> s = loadQuietly(groupId);
      if (s.isEmpty() || (h.epoch() > s.get().epoch() && s.get().lost() == null)) {
        try {
          sync.sync(groupId, messagesOf());
        } catch (ApiException | ServerUnreachableException e) {
          notices.add("could not bring group " + groupId + " up to date: " + e.getMessage());
        }
        s = loadQuietly(groupId);
      }
      Optional<String> kept = store(channelId).textOf(ciphertext);
      if (s.isEmpty()) {
        return kept.map(t -> new Opened(t, null, true))
            .orElse(new Opened(null, Unreadable.noState(groupId), false));
      }
      GroupSession session = s.get();
      String reason;
      if (session.joinedEpoch() >= 0 && h.epoch() < session.joinedEpoch()) {
        reason = Unreadable.beforeJoined(session);
      } else if (session.lost() != null && h.epoch() > session.epoch()) {
        reason = Unreadable.afterLeft(session, h.epoch());
      } else {
        try {
          return new Opened(ChatPayload.decode(session.open(ciphertext)).text(), null, false);
        } catch (MlsGroupException e) {
          reason = Unreadable.failed(session, null, h.epoch(), e);
        } catch (IOException e) {
          return new Opened(null, "decrypted, but not a chat message: " + e.getMessage(), false);
        }
      }
      return kept.map(t -> new Opened(t, null, true)).orElse(new Opened(null, reason, false));
    }
  }

  private Optional<GroupSession> loadQuietly(String groupId) throws IOException {
    try {
      return sync.load(groupId);
    } catch (ApiException | ServerUnreachableException e) {
      // The reset path needs the server; report the damage without it.
      throw new ChatException("the state of group " + groupId + " is damaged and the server "
          + "cannot be asked to reset it now: " + e.getMessage(), e);
    }
  }

  // ---- group ----

  /** Brings the channel's group up to date (joining, committing) and says where it stands. */
  public GroupState group(String channelId) throws IOException {
    try (HomeLock lock = begin()) {
      String groupId = groupOf(channelId, false);
      GroupSync.Result r = awaitMember(groupId, READ_WAIT, false);
      List<String> members = new ArrayList<>();
      long epoch = -1;
      if (r.session() != null) {
        epoch = r.session().epoch();
        try {
          for (DeviceCredential c : r.session().members().values()) {
            members.add(c.userId() + "/" + c.deviceId());
          }
        } catch (MlsGroupException e) {
          throw new ChatException("cannot list the members of " + groupId + ": " + e.getMessage(), e);
        }
      }
      return new GroupState(groupId, r, epoch, members);
    }
  }

  /**
   * Brings one group up to date: joins it if this device may, follows its log (decrypting each
   * epoch's messages before leaving it) and commits pending proposals. What a client does when
   * the gateway says the group changed (MLS_PROPOSALS, MLS_COMMIT, MLS_WELCOME).
   */
  public GroupSync.Result sync(String groupId) throws IOException {
    if (!GroupApi.validGroupId(groupId)) {
      throw new IllegalArgumentException("not a group id: " + groupId);
    }
    try (HomeLock lock = begin()) {
      return sync.sync(groupId, messagesOf());
    }
  }

  // ---- gateway ----

  /**
   * Takes a message from the gateway (live or backfilled): stores it, brings its group up to its
   * epoch if needed, and returns it decrypted, unreadable, or still pending.
   */
  public StoredMessage receive(Message m) throws IOException {
    return receive(m, false);
  }

  /** Takes an edit (MESSAGE_UPDATE): the new ciphertext is decrypted like a new message. */
  public StoredMessage receiveEdit(Message m) throws IOException {
    return receive(m, true);
  }

  private StoredMessage receive(Message m, boolean edit) throws IOException {
    try (HomeLock lock = begin()) {
      MessageStore store = store(m.channelId());
      StoredMessage stored = edit ? store.edit(m) : store.add(m);
      store.save();
      if (stored.state() != StoredMessage.State.PENDING) {
        return stored;
      }
      Optional<GroupSession> s = sync.load(stored.groupId());
      if (s.isEmpty() || (stored.epoch() > s.get().epoch() && s.get().lost() == null)
          || !s.get().joined()) {
        GroupSync.Result r = sync.sync(stored.groupId(), messagesOf());
        s = Optional.ofNullable(r.session());
      }
      s.ifPresent(session -> {
        try {
          settle(session);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      return store.get(m.id()).orElse(stored);
    }
  }

  // ---- the group's channels and their messages ----

  private String groupOf(String channelId, boolean fresh) {
    if (fresh || !channelGroups.containsKey(channelId)) {
      channelGroups.put(channelId, groups.channelGroup(channelId));
    }
    return channelGroups.get(channelId);
  }

  /** Syncs until this device is a member, or the wait is over (only while membership is near, unless told to keep waiting). */
  private GroupSync.Result awaitMember(String groupId, Duration wait, boolean keepWaiting)
      throws IOException {
    long deadline = System.nanoTime() + wait.toNanos();
    while (true) {
      GroupSync.Result r = sync.sync(groupId, messagesOf());
      if (r.member() || r.outcome() == GroupSync.Outcome.LOST
          || !(r.soon() || keepWaiting) || System.nanoTime() > deadline) {
        return r;
      }
      pause(POLL);
    }
  }

  private GroupSync.Messages messagesOf() {
    return new GroupSync.Messages() {
      @Override
      public void beforeCommits(GroupSession session) throws IOException {
        for (String channelId : channelsOf(session.groupId())) {
          fetch(channelId);
        }
      }

      @Override
      public void openHeld(GroupSession session) throws IOException {
        settle(session);
      }
    };
  }

  /** The text channels this device can see whose messages go to {@code groupId}. */
  private List<String> channelsOf(String groupId) {
    List<String> known = groupChannels.get(groupId);
    if (known != null) {
      return known;
    }
    List<String> out = new ArrayList<>();
    if (groupId.startsWith("c")) {
      out.add(groupId.substring(1));
    } else {
      try {
        for (Channel c : api.channels(groupId.substring(1))) {
          if (c.isText() && groupId.equals(groupOf(c.id(), false))) {
            out.add(c.id());
          }
        }
      } catch (ApiException e) {
        if (e.status() != 403 && e.status() != 404) {
          throw e;
        }
      }
    }
    groupChannels.put(groupId, out);
    return out;
  }

  private MessageStore store(String channelId) throws IOException {
    MessageStore s = stores.get(channelId);
    if (s == null) {
      s = MessageStore.load(profile, channelId, notices::add);
      stores.put(channelId, s);
    }
    return s;
  }

  /** Pages the channel's history newer than the store's cursor into the store. */
  private void fetch(String channelId) throws IOException {
    MessageStore store = store(channelId);
    try {
      for (int pages = 0; pages < MAX_PAGES; pages++) {
        long after = Math.max(1, store.cursor()); // ids are positive: "after 1" is the whole channel
        List<Message> page = api.history(channelId, HistoryQuery.after(Long.toString(after), PAGE));
        for (int i = page.size() - 1; i >= 0; i--) {
          Message m = page.get(i);
          if (m.idValue() > after) {
            store.add(m);
            store.advanceCursor(m.idValue());
          }
        }
        if (page.isEmpty() || store.cursor() <= after) {
          break;
        }
      }
    } catch (ApiException e) {
      if (e.status() != 403 && e.status() != 404) {
        throw e;
      }
      // gone, or no longer ours to read: what is stored stays
    }
    store.save();
  }

  /**
   * Decrypts every pending message of the session's group in the stores at hand whose epoch it
   * holds, marks those it never can unreadable, and writes the stores (before the caller saves
   * the group state whose ratchet the decryption moved).
   */
  private void settle(GroupSession s) throws IOException {
    if (s.epoch() < 0) {
      return;
    }
    for (MessageStore store : stores.values()) {
      for (StoredMessage m : store.pending(s.groupId())) {
        StoredMessage done = settled(s, m);
        if (done != null) {
          store.put(done);
        }
      }
      store.save();
    }
  }

  private static StoredMessage settled(GroupSession s, StoredMessage m) {
    if (m.epoch() > s.epoch()) {
      return s.lost() == null ? null : m.unreadable(Unreadable.afterLeft(s, m.epoch()));
    }
    if (s.joinedEpoch() >= 0 && m.epoch() < s.joinedEpoch()) {
      return m.unreadable(Unreadable.beforeJoined(s));
    }
    try {
      dev.cloister.mls.group.OpenedMessage opened = s.openFrom(m.ciphertext());
      if (!opened.sender().userId().equals(m.authorId())) {
        // Another member's ciphertext posted under this author's name (or the server lying about
        // who posted it): never show it as theirs.
        return m.unreadable("sent by user " + opened.sender().userId()
            + " but posted as user " + m.authorId() + ": not shown");
      }
      return m.read(ChatPayload.decode(opened.plaintext()).text());
    } catch (MlsGroupException e) {
      return m.unreadable(Unreadable.failed(s, m.authorId(), m.epoch(), e));
    } catch (IOException e) {
      return m.unreadable("decrypted, but not a chat message: " + e.getMessage());
    }
  }

  /** Pending messages of another group (the channel moved): settle them with that group's state. */
  private void settleElsewhere(String groupId) throws IOException {
    if (!GroupApi.validGroupId(groupId)) {
      return;
    }
    GroupSession s;
    try {
      s = sync.sync(groupId, messagesOf()).session();
    } catch (ApiException | ServerUnreachableException e) {
      try {
        s = GroupSession.load(profile, sync.identity(), groupId).orElse(null);
      } catch (CorruptFileException damaged) {
        notices.add(damaged.getMessage());
        return;
      }
    }
    if (s != null) {
      settle(s);
    }
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ChatException("interrupted");
    }
  }
}
