package dev.cloister.desktop;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.Channel;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.Member;
import dev.cloister.client.Message;
import dev.cloister.client.chat.Chat;
import dev.cloister.client.chat.StoredMessage;
import dev.cloister.client.device.KeyPackageUpkeep;
import dev.cloister.client.gateway.Dispatch;
import dev.cloister.client.gateway.GatewayClient;
import dev.cloister.client.gateway.GatewayListener;
import dev.cloister.client.gateway.Ready;
import dev.cloister.client.http.RestClient;
import dev.cloister.client.voice.VoiceCall;
import dev.cloister.client.voice.VoiceConfig;
import dev.cloister.client.voice.VoiceStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import javafx.animation.PauseTransition;
import javafx.application.Platform;
import javafx.beans.property.ObjectProperty;
import javafx.beans.property.SimpleObjectProperty;
import javafx.beans.property.SimpleStringProperty;
import javafx.beans.property.StringProperty;
import javafx.collections.FXCollections;
import javafx.collections.ObservableList;
import javafx.collections.ObservableMap;
import javafx.collections.ObservableSet;
import javafx.util.Duration;

/**
 * One signed-in device in the window: the gateway connection and what it says, kept as
 * observable state for the views (touched on the FX thread only), and the chat operations they
 * ask for, run on background threads.
 *
 * <p>Threads: the gateway's delivery thread decrypts incoming messages and follows the groups'
 * logs with a {@link Chat} of its own (as the CLI's listen does: a listening device commits
 * pending joiners); the UI's requests (read, send, edit, delete, page back) run in order on
 * {@link #work} with another. The home's lock keeps the two from writing group state at once.
 */
final class Session implements AutoCloseable {

  static final int PAGE = 50;
  private static final java.util.Set<String> GROUP_EVENTS =
      Set.of("MLS_PROPOSALS", "MLS_COMMIT", "MLS_WELCOME", "MLS_GROUP_CREATE");

  /** One member's voice state, as the gateway reports it. */
  record VoiceMember(String guildId, String channelId, String userId, boolean selfMute,
      boolean selfDeaf, boolean mute, boolean deaf, String fromChannelId, String reason) {

    static VoiceMember of(JsonNode d) {
      return new VoiceMember(d.path("guildId").asText(), d.path("channelId").asText(null),
          d.path("userId").asText(), d.path("selfMute").asBoolean(), d.path("selfDeaf").asBoolean(),
          d.path("mute").asBoolean(), d.path("deaf").asBoolean(),
          d.path("fromChannelId").asText(null), d.path("reason").asText(null));
    }
  }

  /** Where the open channel's encryption stands, for its header. */
  record Crypto(String groupId, long epoch, boolean member, String detail) {}

  final CloisterClient client;
  final String me;
  final ObservableList<GuildModel> guilds = FXCollections.observableArrayList();
  final ObservableMap<String, String> names = FXCollections.observableHashMap();
  final ObservableMap<String, String> presence = FXCollections.observableHashMap();
  final ObservableSet<String> unread = FXCollections.observableSet();
  final ObservableMap<String, String> typing = FXCollections.observableHashMap();
  final ObservableList<String> notices = FXCollections.observableArrayList();
  final ObjectProperty<GatewayClient.State> connection =
      new SimpleObjectProperty<>(GatewayClient.State.CONNECTING);
  final StringProperty connectionDetail = new SimpleStringProperty("");
  /** Who is in which voice channel, keyed {@code guildId/userId} (a user is in one per guild). */
  final ObservableMap<String, VoiceMember> voice = FXCollections.observableHashMap();
  /** Who the SFU hears in the call this device is in. */
  final ObservableSet<String> speaking = FXCollections.observableSet();
  /** Whose SSRC is whose in the call this device is in (from SPEAKING), for per-person quality. */
  private final Map<Long, String> ssrcs = new HashMap<>();
  /**
   * While this device waits to be in its call's MLS group, the call's own word for it (shown in
   * the voice pane rather than as a notice: it is a state, not news); empty once keys arrive.
   */
  final StringProperty voiceWaiting = new SimpleStringProperty("");
  /** The call this device is in, if any. */
  final ObjectProperty<VoiceCall> call = new SimpleObjectProperty<>();
  /** The voice channel of the call: another one's after a moderator moved this member. */
  final StringProperty callChannel = new SimpleStringProperty();
  /** The safety numbers verified on this device. */
  final TrustStore trust;
  /** Bumped when a verification changes, so lists showing trust redraw. */
  final javafx.beans.property.IntegerProperty trustVersion =
      new javafx.beans.property.SimpleIntegerProperty();
  /** The text channel on screen; its new messages do not count as unread. */
  final StringProperty openChannel = new SimpleStringProperty();

  private final Work work = new Work("cloister-ui-work");
  private final Work lookups = new Work("cloister-ui-lookups");
  private final Work voiceWork = new Work("cloister-ui-voice");
  private final Map<String, ObservableList<MessageItem>> channels = new HashMap<>();
  private final Set<String> edited = new HashSet<>();
  private final Set<String> askedNames = ConcurrentHashMap.newKeySet();
  private final Map<String, Map<String, Long>> typists = new HashMap<>();
  private final KeyPackageUpkeep upkeep;
  private Chat workChat; // on the work thread only
  private GatewayClient gateway;
  private long localIds;
  /** {@link #call} as the gateway's delivery thread reads it. */
  private volatile VoiceCall activeCall;

  Session(CloisterClient client) {
    this.client = client;
    this.me = client.account().userId();
    this.upkeep = client.keyPackages();
    this.trust = new TrustStore(client.profile().home());
    names.put(me, client.account().username());
    askedNames.add(me);
    client.notices().forEach(notices::add);
    call.addListener((o, a, b) -> activeCall = b);
  }

  /** Connects to the gateway; state and events arrive on the FX thread from here on. */
  void connect() {
    gateway = client.gateway(new Listener());
  }

  // ---- what the views ask for ----

  /** The messages of a text channel, as far as loaded (the same list for as long as it lives). */
  ObservableList<MessageItem> messages(String channelId) {
    return channels.computeIfAbsent(channelId, id -> FXCollections.observableArrayList());
  }

  /** A user's name, asked of the server once; {@link #names} changes when it arrives. */
  String name(String userId) {
    String n = names.get(userId);
    if (n != null) {
      return n;
    }
    if (askedNames.add(userId)) {
      lookups.run(() -> client.api().username(userId), name -> names.put(userId, name),
          e -> askedNames.remove(userId));
    }
    return "user " + userId;
  }

  Optional<GuildModel> guild(String guildId) {
    return guilds.stream().filter(g -> g.id.equals(guildId)).findFirst();
  }

  /** Reads the channel (fetching, decrypting, joining its group if need be) and follows it. */
  void open(String guildId, String channelId, Consumer<Crypto> crypto, Consumer<Throwable> failed) {
    unread.remove(channelId);
    work.run(() -> {
      Chat.ReadResult r = chat().read(channelId, PAGE);
      Set<String> pins = new HashSet<>();
      for (Message m : client.api().pins(channelId)) {
        pins.add(m.id());
      }
      return Map.entry(r, pins);
    }, done -> {
      Chat.ReadResult r = done.getKey();
      List<MessageItem> items = new ArrayList<>();
      for (StoredMessage m : r.messages()) {
        items.add(MessageItem.of(m, edited.contains(m.id()), done.getValue().contains(m.id())));
      }
      messages(channelId).setAll(items);
      if (!items.isEmpty() && gateway != null) {
        gateway.follow(channelId, guildId, items.get(items.size() - 1).id());
      }
      var g = r.group();
      crypto.accept(new Crypto(g.session() == null ? null : g.session().groupId(),
          g.session() == null ? -1 : g.session().epoch(), g.member(), g.detail()));
      drainNotices(workChat);
    }, failed);
  }

  /** Loads the page before the oldest message shown; {@code done} gets how many came. */
  void older(String channelId, Consumer<Integer> done, Consumer<Throwable> failed) {
    ObservableList<MessageItem> list = messages(channelId);
    Optional<MessageItem> first = list.stream().filter(m -> !m.sending()).findFirst();
    if (first.isEmpty()) {
      done.accept(0);
      return;
    }
    work.run(() -> chat().older(channelId, first.get().id(), PAGE), page -> {
      List<MessageItem> items = page.stream()
          .filter(m -> list.stream().noneMatch(x -> x.id().equals(m.id())))
          .map(m -> MessageItem.of(m, edited.contains(m.id()), false)).toList();
      list.addAll(0, items);
      done.accept(items.size());
    }, failed);
  }

  /** Sends: shown at once as being sent; {@code failed} gets the text back if it did not go. */
  void send(String channelId, String text, Consumer<Throwable> failed) {
    String localId = "local-" + (++localIds);
    ObservableList<MessageItem> list = messages(channelId);
    list.add(MessageItem.sending(localId, me, text));
    work.run(() -> chat().send(channelId, text), m -> {
      list.removeIf(x -> x.id().equals(localId));
      put(channelId, new MessageItem(m.id(), me, m.createdAt(), text, null, false, false, false,
          false));
      drainNotices(workChat);
    }, e -> {
      list.removeIf(x -> x.id().equals(localId));
      failed.accept(e);
    });
  }

  void edit(String channelId, String messageId, String text, Consumer<Throwable> failed) {
    work.run(() -> chat().edit(channelId, messageId, text), m -> {
      edited.add(messageId);
      replace(channelId, messageId, old -> new MessageItem(old.id(), old.authorId(), old.at(),
          text, null, false, true, old.pinned(), false));
    }, failed);
  }

  void delete(String channelId, String messageId, Consumer<Throwable> failed) {
    work.run(() -> {
      chat().delete(channelId, messageId);
      return messageId;
    }, id -> messages(channelId).removeIf(m -> m.id().equals(id)), failed);
  }

  void pin(String channelId, String messageId, boolean pinned, Consumer<Throwable> failed) {
    work.run(() -> {
      client.api().pin(channelId, messageId, pinned);
      return pinned;
    }, p -> replace(channelId, messageId, m -> m.withPinned(p)), failed);
  }

  /** Tells the channel you are typing (the view throttles it). */
  void typing(String channelId) {
    if (gateway != null) {
      gateway.typing(channelId);
    }
  }

  /** Any other call off the FX thread, in order with the chat's. */
  <T> void call(Work.Task<T> task, Consumer<T> done, Consumer<Throwable> failed) {
    work.run(task, done, failed);
  }

  /** Joins a voice channel (leaving the call this device is in first). */
  void joinVoice(String guildId, String channelId, VoiceDevices.Choice devices, boolean muted,
      Consumer<VoiceCall> joined, Consumer<Throwable> failed) {
    VoiceCall previous = call.get();
    call.set(null);
    voiceWork.run(() -> {
      if (previous != null) {
        previous.close();
      }
      var source = devices.openSource();
      var sink = devices.openSink();
      try {
        return VoiceCall.join(client, gateway, guildId, channelId, muted, VoiceConfig.defaults(),
            source, sink, new VoiceCall.Listener() {
              @Override
              public void notice(String text) {
                Platform.runLater(() -> {
                  if (text.startsWith("not in the call's keys yet")) {
                    voiceWaiting.set("Waiting for the call's keys: " + text.substring(
                        text.indexOf(':') + 1).strip());
                  } else {
                    notices.add(text);
                  }
                });
              }

              @Override
              public void epoch(long epoch, int members) {
                Platform.runLater(() -> voiceWaiting.set(""));
              }

              @Override
              public void channelChanged(String channelId, String byUserId) {
                Platform.runLater(() -> {
                  callChannel.set(channelId);
                  notices.add((byUserId == null ? "A moderator" : name(byUserId))
                      + " moved you to another voice channel.");
                });
              }
            }, java.time.Duration.ofSeconds(20));
      } catch (Exception | Error e) {
        source.close();
        sink.close();
        throw e;
      }
    }, c -> {
      call.set(c);
      callChannel.set(c.channelId());
      joined.accept(c);
    }, failed);
  }

  void leaveVoice() {
    VoiceCall c = call.get();
    call.set(null);
    callChannel.set(null);
    speaking.clear();
    ssrcs.clear();
    voiceWaiting.set("");
    if (c != null) {
      voiceWork.run(() -> {
        c.close();
        return null;
      }, x -> { }, e -> notices.add("Leaving the call: " + Problems.describe(e,
          Problems.Doing.OTHER)));
    }
  }

  /**
   * How this device receives {@code userId} in its call: the stream of theirs it has heard
   * (matched by the SSRC the SPEAKING events name), empty if not heard yet.
   */
  Optional<VoiceStats.Stream> quality(String userId) {
    VoiceCall c = call.get();
    if (c == null) {
      return Optional.empty();
    }
    return c.engine().stats().streams().stream()
        .filter(st -> userId.equals(ssrcs.get(st.ssrc()))).findFirst();
  }

  /** The server took this device out of its call (a moderator, another device, a lost link). */
  private void voiceEndedByServer(VoiceMember v) {
    VoiceCall c = call.get();
    if (c == null || !me.equals(v.userId()) || v.channelId() != null
        || !c.channelId().equals(v.fromChannelId()) || "moved".equals(v.reason())) {
      return; // a moderator's move: the call follows into the other channel on its own
    }
    leaveVoice();
    notices.add(switch (v.reason() == null ? "" : v.reason()) {
      case "disconnected" -> "A moderator disconnected you from the call.";
      case "replaced" -> "You joined this call from another device.";
      case "kicked", "banned" -> "You were removed from the guild, and from its call.";
      case "lost_connect" -> "You were out of the call: the connection was lost for too long.";
      default -> "You are no longer in the call.";
    });
  }

  /** The voice channel members, in the order they are listed. */
  List<VoiceMember> inVoice(String guildId, String channelId) {
    return voice.values().stream().filter(v -> v.guildId().equals(guildId)
        && channelId.equals(v.channelId())).sorted(java.util.Comparator.comparing(
            (VoiceMember v) -> name(v.userId()))).toList();
  }

  /** Adds or refreshes a guild from REST (after creating or joining one). */
  GuildModel putGuild(Guild g) {
    Optional<GuildModel> known = guild(g.id());
    if (known.isPresent()) {
      known.get().update(g);
      return known.get();
    }
    GuildModel m = new GuildModel(g);
    guilds.add(m);
    if (!g.hasAllMembers()) { // REST's guilds carry none, a large guild's ready only you
      work.run(() -> client.api().members(g.id()), members -> {
        m.members.setAll(members);
        if (g.large()) {
          askPresences(g.id(), members.stream().map(Member::userId).toList());
        }
      }, e -> {});
    }
    return m;
  }

  /** A large guild's ready says nobody's presence: ask about its members, a page at a time. */
  private void askPresences(String guildId, List<String> userIds) {
    GatewayClient g = gateway;
    if (g == null) {
      return;
    }
    for (int from = 0; from < userIds.size(); from += GatewayClient.PRESENCES_PER_REQUEST) {
      List<String> page = userIds.subList(from,
          Math.min(userIds.size(), from + GatewayClient.PRESENCES_PER_REQUEST));
      g.requestPresences(guildId, List.copyOf(page))
          .thenAccept(statuses -> Platform.runLater(() -> presence.putAll(statuses)));
    }
  }

  // ---- helpers (FX thread) ----

  private Chat chat() {
    if (workChat == null) {
      workChat = client.chat();
    }
    return workChat;
  }

  private void drainNotices(Chat chat) {
    if (chat != null) {
      List<String> n = chat.drainNotices();
      Platform.runLater(() -> notices.addAll(n));
    }
  }

  /** Inserts or replaces by id, keeping id order (ids sort by time). */
  private void put(String channelId, MessageItem item) {
    ObservableList<MessageItem> list = messages(channelId);
    for (int i = 0; i < list.size(); i++) {
      if (list.get(i).id().equals(item.id())) {
        list.set(i, item);
        return;
      }
    }
    int at = list.size();
    while (at > 0 && (list.get(at - 1).sending()
        || Long.parseLong(list.get(at - 1).id()) > Long.parseLong(item.id()))) {
      at--;
    }
    list.add(at, item);
  }

  private void replace(String channelId, String messageId,
      java.util.function.UnaryOperator<MessageItem> change) {
    ObservableList<MessageItem> list = messages(channelId);
    for (int i = 0; i < list.size(); i++) {
      if (list.get(i).id().equals(messageId)) {
        list.set(i, change.apply(list.get(i)));
        return;
      }
    }
  }

  /** The voice states a ready's or GUILD_CREATE's guild carries. */
  private void voiceStates(JsonNode guild) {
    for (JsonNode v : guild.path("voiceStates")) {
      VoiceMember m = VoiceMember.of(v);
      if (m.channelId() != null) {
        voice.put(m.guildId() + "/" + m.userId(), m);
      }
    }
  }

  /** After a group moved on, messages that waited for its keys may read now. */
  private void rereadPending() {
    channels.forEach((channelId, list) -> {
      if (list.stream().noneMatch(MessageItem::pending)) {
        return;
      }
      int shown = (int) list.stream().filter(m -> !m.sending()).count();
      work.run(() -> chat().read(channelId, Math.max(shown, 1)).messages(), read -> {
        for (StoredMessage m : read) {
          replace(channelId, m.id(), old -> MessageItem.of(m, old.edited(), old.pinned()));
        }
      }, e -> { });
    });
  }

  private void typingStarted(String channelId, String userId) {
    typists.computeIfAbsent(channelId, c -> new HashMap<>()).put(userId, System.nanoTime());
    showTyping(channelId);
    PauseTransition expire = new PauseTransition(Duration.seconds(8));
    expire.setOnFinished(e -> showTyping(channelId));
    expire.play();
  }

  private void typingStopped(String channelId, String userId) {
    Map<String, Long> t = typists.get(channelId);
    if (t != null && t.remove(userId) != null) {
      showTyping(channelId);
    }
  }

  private void showTyping(String channelId) {
    Map<String, Long> t = typists.getOrDefault(channelId, Map.of());
    long now = System.nanoTime();
    t.values().removeIf(at -> now - at > 7_500_000_000L);
    List<String> who = t.keySet().stream().map(this::name).sorted().toList();
    if (who.isEmpty()) {
      typing.remove(channelId);
    } else {
      typing.put(channelId, who.size() == 1 ? who.get(0) + " is typing…"
          : who.size() <= 3 ? String.join(", ", who) + " are typing…" : "Several people are typing…");
    }
  }

  void trustChanged() {
    trustVersion.set(trustVersion.get() + 1);
  }

  /** The gateway connection, for tests that take it down. */
  GatewayClient gateway() {
    return gateway;
  }

  @Override
  public void close() {
    VoiceCall c = activeCall;
    if (c != null) {
      try {
        c.close();
      } catch (java.io.IOException e) {
        // leaving anyway: the server drops the voice state with the session
      }
    }
    voiceWork.close();
    if (gateway != null) {
      gateway.close();
    }
    work.close();
    lookups.close();
  }

  // ---- the gateway (delivery thread) ----

  private final class Listener implements GatewayListener {

    private Chat chat; // the delivery thread's own

    @Override
    public void onReady(Ready ready) {
      Platform.runLater(() -> {
        List<String> present = ready.guilds().stream().map(Guild::id).toList();
        guilds.removeIf(g -> !present.contains(g.id));
        ready.guilds().forEach(Session.this::putGuild);
        voice.clear();
        presence.clear(); // what was heard before this new session may be stale
        for (JsonNode g : ready.raw().path("guilds")) {
          voiceStates(g);
          presence.putAll(GatewayClient.statuses(g.path("presences")));
        }
        for (Guild g : ready.guilds()) { // a large one's members already listed: ask again
          guild(g.id()).filter(m -> g.large() && !m.members.isEmpty()).ifPresent(m ->
              askPresences(g.id(), m.members.stream().map(Member::userId).toList()));
        }
      });
    }

    @Override
    public void onStateChange(GatewayClient.State state, String detail) {
      Platform.runLater(() -> {
        connectionDetail.set(detail == null ? "" : detail);
        connection.set(state);
      });
    }

    @Override
    public void onDispatch(Dispatch d) {
      if (chat == null) {
        chat = client.chat();
      }
      VoiceCall c = activeCall;
      if (c != null) {
        c.onDispatch(d); // the call keeps its own group in step
      }
      try {
        handle(d);
      } catch (Exception e) {
        String why = Problems.describe(e, Problems.Doing.OTHER);
        Platform.runLater(() -> notices.add("Could not process " + d.type() + ": " + why));
      }
      drainNotices(chat);
    }

    private void handle(Dispatch d) throws Exception {
      JsonNode data = d.data();
      String channelId = data.path("channelId").asText(null);
      switch (d.type()) {
        case Dispatch.MESSAGE_CREATE, Dispatch.MESSAGE_UPDATE -> {
          boolean edit = Dispatch.MESSAGE_UPDATE.equals(d.type());
          Message m = d.message();
          StoredMessage stored = edit ? chat.receiveEdit(m) : chat.receive(m);
          MessageItem item = MessageItem.of(stored, edit, m.pinned());
          Platform.runLater(() -> {
            if (edit) {
              edited.add(m.id());
            }
            if (channels.containsKey(m.channelId())) {
              put(m.channelId(), edit ? item.withPinned(pinnedNow(m.channelId(), m.id(),
                  m.pinned())) : item);
            }
            if (!edit) {
              typingStopped(m.channelId(), m.authorId());
              if (!m.channelId().equals(openChannel.get()) && !me.equals(m.authorId())) {
                unread.add(m.channelId());
              }
            }
          });
        }
        case "MESSAGE_DELETE" -> {
          String id = data.path("id").asText();
          chat.forget(channelId, id);
          Platform.runLater(() -> messages(channelId).removeIf(m -> m.id().equals(id)));
        }
        case "MESSAGE_PIN", "MESSAGE_UNPIN" -> {
          String id = data.path("id").asText();
          boolean pinned = "MESSAGE_PIN".equals(d.type());
          Platform.runLater(() -> replace(channelId, id, m -> m.withPinned(pinned)));
        }
        case KeyPackageUpkeep.KEY_PACKAGES_LOW -> upkeep.onDispatch(d);
        case "GUILD_CREATE" -> {
          Guild g = RestClient.read(data, Guild.class);
          Platform.runLater(() -> {
            putGuild(g);
            voiceStates(data);
            presence.putAll(GatewayClient.statuses(data.path("presences")));
          });
        }
        case "VOICE_STATE_UPDATE" -> {
          VoiceMember v = VoiceMember.of(data);
          Platform.runLater(() -> {
            String key = v.guildId() + "/" + v.userId();
            if (v.channelId() == null) {
              // A member moved between channels: the leave of the old one may come after the
              // join of the new one (two channels, two streams of events), and must not undo it.
              VoiceMember was = voice.get(key);
              if (was == null || v.fromChannelId() == null
                  || v.fromChannelId().equals(was.channelId())) {
                voice.remove(key);
              }
              voiceEndedByServer(v);
            } else {
              voice.put(key, v);
            }
          });
        }
        case "SPEAKING" -> {
          List<String> now = new ArrayList<>();
          Map<Long, String> heard = new HashMap<>();
          data.path("speakers").forEach(sp -> {
            now.add(sp.path("userId").asText());
            if (sp.path("ssrc").canConvertToLong()) {
              heard.put(sp.path("ssrc").asLong(), sp.path("userId").asText());
            }
          });
          Platform.runLater(() -> {
            ssrcs.putAll(heard);
            speaking.retainAll(now);
            speaking.addAll(now);
          });
        }
        case "GUILD_UPDATE" -> Platform.runLater(() -> guild(data.path("id").asText())
            .ifPresent(g -> {
              g.name.set(data.path("name").asText(g.name.get()));
              g.ownerId = data.path("ownerId").asText(g.ownerId);
            }));
        case "GUILD_DELETE" -> Platform.runLater(
            () -> guilds.removeIf(g -> g.id.equals(data.path("id").asText())));
        case "CHANNEL_CREATE", "CHANNEL_UPDATE" -> {
          Channel c = RestClient.read(data, Channel.class);
          Platform.runLater(() -> guild(c.guildId()).ifPresent(g -> g.putChannel(c)));
        }
        case "CHANNEL_DELETE" -> Platform.runLater(() -> guild(data.path("guildId").asText())
            .ifPresent(g -> g.removeChannel(data.path("id").asText())));
        case "GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE" -> {
          Member m = RestClient.read(data, Member.class);
          Platform.runLater(() -> guild(data.path("guildId").asText())
              .ifPresent(g -> g.putMember(m)));
        }
        case "GUILD_MEMBER_REMOVE" -> Platform.runLater(() -> guild(data.path("guildId").asText())
            .ifPresent(g -> g.members.removeIf(m -> m.userId().equals(data.path("userId")
                .asText()))));
        case "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE", "GUILD_ROLE_DELETE" -> {
          // roles decide names and permissions shown: read the guild afresh
          Guild g = client.api().guild(data.path("guildId").asText());
          Platform.runLater(() -> putGuild(g));
        }
        case "TYPING_START" -> {
          String userId = data.path("userId").asText();
          Platform.runLater(() -> typingStarted(channelId, userId));
        }
        case "PRESENCE_UPDATE" -> {
          String userId = data.path("userId").asText();
          String status = data.path("status").asText("offline");
          Platform.runLater(() -> presence.put(userId, status));
        }
        case "PRESENCE_BATCH" -> {
          Map<String, String> changed = GatewayClient.statuses(data.path("presences"));
          Platform.runLater(() -> presence.putAll(changed));
        }
        default -> {
          VoiceCall inCall = activeCall;
          if (GROUP_EVENTS.contains(d.type()) && data.path("groupId").isTextual()
              && (inCall == null || !inCall.groupId().equals(data.get("groupId").asText()))) {
            // a listening member commits pending joiners and follows the log
            chat.sync(data.get("groupId").asText());
            Platform.runLater(Session.this::rereadPending);
          }
        }
      }
    }

    private boolean pinnedNow(String channelId, String id, boolean fallback) {
      return messages(channelId).stream().filter(m -> m.id().equals(id)).findFirst()
          .map(MessageItem::pinned).orElse(fallback);
    }
  }
}
