package dev.cloister.guild.voice;

import dev.cloister.guild.CborSerializable;
import dev.cloister.guild.Decision;
import dev.cloister.guild.Permission;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.voice.VoiceChannel.Endpoint;
import dev.cloister.guild.voice.VoiceChannel.Event;
import dev.cloister.guild.voice.VoiceChannel.ParticipantJoined;
import dev.cloister.guild.voice.VoiceChannel.ParticipantLeft;
import dev.cloister.guild.voice.VoiceChannel.SelfStateChanged;
import dev.cloister.guild.voice.VoiceChannel.ServerStateChanged;
import dev.cloister.guild.voice.VoiceChannel.UserLimitSet;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rules of one voice channel, without Pekko: who may join (CONNECT, the user limit, which
 * members with MOVE_MEMBERS pass), one place per member (joining from another device or session
 * replaces the earlier one), who may mute or deafen whom, and which call (conference and MLS
 * group) the channel is in. {@code call} counts the calls: it goes up when someone joins an empty
 * channel.
 */
public record VoiceRoom(String channelId, String guildId, int userLimit, long call,
    Map<String, Participant> participantsByUser, long version) implements CborSerializable {

  public static final int MAX_USER_LIMIT = 99;
  /** Ids travel into SFU endpoint ids and MLS device names: keep them plain. */
  private static final java.util.regex.Pattern ID = java.util.regex.Pattern.compile(
      "[A-Za-z0-9_-]{1,64}");

  public record Participant(String userId, String deviceId, String sessionId, boolean selfMute,
      boolean selfDeaf, boolean serverMute, boolean serverDeaf, String conferenceId,
      Endpoint endpoint, long joinedAtMillis) implements CborSerializable {

    VoiceState state() {
      return new VoiceState(userId, deviceId, sessionId, selfMute, selfDeaf, serverMute,
          serverDeaf, joinedAtMillis);
    }
  }

  /** What others see of a participant. */
  public record VoiceState(String userId, String deviceId, String sessionId, boolean selfMute,
      boolean selfDeaf, boolean serverMute, boolean serverDeaf, long joinedAtMillis)
      implements CborSerializable {}

  public VoiceRoom {
    participantsByUser = participantsByUser == null ? Map.of() : participantsByUser;
  }

  public static VoiceRoom empty(String channelId) {
    return new VoiceRoom(channelId, null, 0, 0, Map.of(), 0);
  }

  public Participant participant(String userId) {
    return participantsByUser.get(userId);
  }

  /** The call's conference and group: {@code v<channelId>.<call>}; null before the first call. */
  public String groupId() {
    return call == 0 ? null : callId(call);
  }

  /**
   * The call a join of {@code userId} now would be part of: this one, or the next if nobody else
   * is in the channel (a member alone who rejoins from another device starts afresh).
   */
  public long nextCall(String userId) {
    boolean alone = participantsByUser.keySet().stream().allMatch(u -> u.equals(userId));
    return alone ? call + 1 : call;
  }

  public String nextConferenceId(String userId) {
    return callId(nextCall(userId));
  }

  private String callId(long n) {
    return "v" + channelId + "." + n;
  }

  /** The roster of the call's group: each participant's device, {@code userId/deviceId}. */
  public List<String> devices() {
    return participantsByUser.values().stream().map(p -> p.userId() + "/" + p.deviceId())
        .sorted().toList();
  }

  public VoiceChannel.Participants participants() {
    return new VoiceChannel.Participants(guildId, channelId, userLimit, groupId(),
        participantsByUser.values().stream().map(Participant::state).toList(), version);
  }

  // ---- decisions ----

  /** Null when the member may join now (before an endpoint is asked for); else why not. */
  public Rejection checkJoin(String guild, String userId, long permissions) {
    if (guild == null || !ID.matcher(guild).matches() || !ID.matcher(userId).matches()) {
      return Rejection.invalid("guild and user ids are plain ids");
    }
    if (guildId != null && !guildId.equals(guild)) {
      return Rejection.notFound("unknown channel");
    }
    if (!Permission.CONNECT.in(permissions)) {
      return Rejection.forbidden("missing permission CONNECT");
    }
    boolean full = userLimit > 0 && participantsByUser.size() >= userLimit
        && !participantsByUser.containsKey(userId);
    if (full && !Permission.MOVE_MEMBERS.in(permissions)) {
      return Rejection.conflict("the voice channel is full (" + userLimit + " members)");
    }
    return null;
  }

  public Decision<Event> join(String guild, String userId, String deviceId, String sessionId,
      boolean selfMute, boolean selfDeaf, long permissions, String conferenceId,
      Endpoint endpoint, long now) {
    Rejection refused = checkJoin(guild, userId, permissions);
    if (refused == null && (deviceId == null || !ID.matcher(deviceId).matches()
        || sessionId == null || sessionId.isEmpty() || sessionId.length() > 128)) {
      refused = Rejection.invalid("a device id is a plain id and a session id 1 to 128 chars");
    }
    if (refused == null && !conferenceId.equals(nextConferenceId(userId))) {
      refused = Rejection.conflict("the call changed while you joined; join again");
    }
    if (refused != null) {
      return Decision.reject(refused);
    }
    List<Event> events = new ArrayList<>();
    Participant present = participantsByUser.get(userId);
    if (present != null) {
      events.add(new ParticipantLeft(userId, "replaced", present.conferenceId(),
          present.endpoint().endpointId()));
    }
    // Without SPEAK a member listens only: the SFU forwards nothing of theirs.
    boolean serverMute = !Permission.SPEAK.in(permissions)
        || (present != null && present.serverMute());
    events.add(new ParticipantJoined(guild, userId, deviceId, sessionId, selfMute, selfDeaf,
        serverMute, nextCall(userId), conferenceId, endpoint, now));
    return new Decision.Accept<>(events);
  }

  public Decision<Event> leave(String userId, String sessionId) {
    Participant p = participantsByUser.get(userId);
    if (p == null || !p.sessionId().equals(sessionId)) {
      return Decision.accept(); // already out, or a newer session holds the place
    }
    return Decision.accept(new ParticipantLeft(userId, "left", p.conferenceId(),
        p.endpoint().endpointId()));
  }

  public Decision<Event> disconnect(String userId, String reason) {
    Participant p = participantsByUser.get(userId);
    if (p == null) {
      return Decision.accept();
    }
    String why = reason == null || reason.isBlank() ? "disconnected"
        : reason.length() > 64 ? reason.substring(0, 64) : reason;
    return Decision.accept(new ParticipantLeft(userId, why, p.conferenceId(),
        p.endpoint().endpointId()));
  }

  public Decision<Event> updateSelf(String userId, String sessionId, boolean selfMute,
      boolean selfDeaf) {
    Participant p = participantsByUser.get(userId);
    if (p == null || !p.sessionId().equals(sessionId)) {
      return Decision.reject(Rejection.notFound("you are not in this voice channel"));
    }
    if (p.selfMute() == selfMute && p.selfDeaf() == selfDeaf) {
      return Decision.accept();
    }
    return Decision.accept(new SelfStateChanged(userId, selfMute, selfDeaf));
  }

  public Decision<Event> moderate(String moderatorId, long permissions, String userId,
      Boolean mute, Boolean deaf) {
    Participant p = participantsByUser.get(userId);
    if (p == null) {
      return Decision.reject(Rejection.notFound("the member is not in this voice channel"));
    }
    if (mute == null && deaf == null) {
      return Decision.reject(Rejection.invalid("say mute, deaf or both"));
    }
    if (mute != null && !Permission.MUTE_MEMBERS.in(permissions)) {
      return Decision.reject(Rejection.forbidden("missing permission MUTE_MEMBERS"));
    }
    if (deaf != null && !Permission.DEAFEN_MEMBERS.in(permissions)) {
      return Decision.reject(Rejection.forbidden("missing permission DEAFEN_MEMBERS"));
    }
    boolean newMute = mute == null ? p.serverMute() : mute;
    boolean newDeaf = deaf == null ? p.serverDeaf() : deaf;
    if (newMute == p.serverMute() && newDeaf == p.serverDeaf()) {
      return Decision.accept();
    }
    return Decision.accept(new ServerStateChanged(userId, newMute, newDeaf, moderatorId));
  }

  public Decision<Event> setUserLimit(String guild, int limit) {
    if (limit < 0 || limit > MAX_USER_LIMIT) {
      return Decision.reject(Rejection.invalid("a user limit is 0 (none) to " + MAX_USER_LIMIT));
    }
    if (guildId != null && !guildId.equals(guild)) {
      return Decision.reject(Rejection.notFound("unknown channel"));
    }
    return limit == userLimit && guildId != null ? Decision.accept()
        : Decision.accept(new UserLimitSet(guild, limit));
  }

  // ---- events ----

  public VoiceRoom apply(Event event) {
    long v = version + 1;
    Map<String, Participant> next = new LinkedHashMap<>(participantsByUser);
    if (event instanceof ParticipantJoined j) {
      next.put(j.userId(), new Participant(j.userId(), j.deviceId(), j.sessionId(), j.selfMute(),
          j.selfDeaf(), j.serverMute(), false, j.conferenceId(), j.endpoint(), j.atMillis()));
      return new VoiceRoom(channelId, j.guildId(), userLimit, j.call(), Map.copyOf(next), v);
    }
    if (event instanceof ParticipantLeft l) {
      next.remove(l.userId());
      return new VoiceRoom(channelId, guildId, userLimit, call, Map.copyOf(next), v);
    }
    if (event instanceof SelfStateChanged s) {
      Participant p = next.get(s.userId());
      next.put(s.userId(), new Participant(p.userId(), p.deviceId(), p.sessionId(), s.selfMute(),
          s.selfDeaf(), p.serverMute(), p.serverDeaf(), p.conferenceId(), p.endpoint(),
          p.joinedAtMillis()));
      return new VoiceRoom(channelId, guildId, userLimit, call, Map.copyOf(next), v);
    }
    if (event instanceof ServerStateChanged s) {
      Participant p = next.get(s.userId());
      next.put(s.userId(), new Participant(p.userId(), p.deviceId(), p.sessionId(), p.selfMute(),
          p.selfDeaf(), s.serverMute(), s.serverDeaf(), p.conferenceId(), p.endpoint(),
          p.joinedAtMillis()));
      return new VoiceRoom(channelId, guildId, userLimit, call, Map.copyOf(next), v);
    }
    if (event instanceof VoiceChannel.CallMoved m) {
      for (VoiceChannel.Moved moved : m.moved()) {
        Participant p = next.get(moved.userId());
        if (p != null) {
          next.put(p.userId(), new Participant(p.userId(), p.deviceId(), p.sessionId(),
              p.selfMute(), p.selfDeaf(), p.serverMute(), p.serverDeaf(), m.conferenceId(),
              moved.endpoint(), p.joinedAtMillis()));
        }
      }
      return new VoiceRoom(channelId, guildId, userLimit, call, Map.copyOf(next), v);
    }
    if (event instanceof UserLimitSet u) {
      return new VoiceRoom(channelId, u.guildId(), u.limit(), call, participantsByUser, v);
    }
    throw new IllegalStateException("unknown event " + event);
  }
}
