package dev.cloister.client.mls;

import static dev.cloister.client.http.RestClient.segment;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.http.ApiException;
import dev.cloister.client.http.RestClient;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The delivery service's group calls (root README, "End-to-end encryption"): a group's status
 * and handshake log as one device sees them, creating the group, committing, uploading the new
 * epoch's GroupInfo, fetching a Welcome, asking to be reset. Every call names this device.
 */
public final class GroupApi {

  /** Group ids are {@code g<guildId>}, {@code c<channelId>} or {@code v<channelId>.<call>}; anything else is refused before it reaches a path. */
  private static final Pattern GROUP_ID = Pattern.compile("[gc][0-9]{1,20}|v[0-9]{1,20}\\.[0-9]{1,20}");
  private static final TypeReference<List<LogEntry>> LOG = new TypeReference<>() {};
  private static final Base64.Encoder B64 = Base64.getEncoder();

  /** The only external sender a group may name. */
  public record DeliveryServiceKey(String name, byte[] signatureKey) {}

  /** A member device by leaf index, as the server's public view has it. */
  public record Member(int leaf, String userId, String deviceId) {}

  /**
   * A group as this device sees it: {@code seq} is the last event of its journal, {@code
   * welcomeSeq} the commit that added this device (0 if none waits), {@code onRoster} whether the
   * driver wants this device in it.
   */
  public record GroupStatus(String groupId, String guildId, String channelId, boolean created,
      long epoch, List<Member> members, List<byte[]> pendingProposals, byte[] groupInfo,
      long welcomeSeq, boolean onRoster, long seq) {

    public GroupStatus {
      members = members == null ? List.of() : List.copyOf(members);
      pendingProposals = pendingProposals == null ? List.of() : List.copyOf(pendingProposals);
    }

    public boolean hasMember(String userId, String deviceId) {
      return members.stream().anyMatch(m -> m.userId().equals(userId) && m.deviceId().equals(deviceId));
    }
  }

  /**
   * One handshake log entry: {@code created}, {@code proposal} (message), {@code revoked} (refs),
   * {@code commit} (message, the epoch it leaves, joiners and removed devices).
   */
  public record LogEntry(long seq, String type, byte[] message, Long epoch, List<byte[]> refs,
      String committer, String device, String kind) {

    public LogEntry {
      refs = refs == null ? List.of() : List.copyOf(refs);
    }
  }

  /** The Welcome of the commit at {@code seq}, which leads to {@code epoch}. */
  public record Welcome(String groupId, long epoch, long seq, byte[] welcome) {}

  private final RestClient rest;

  public GroupApi(RestClient rest) {
    this.rest = rest;
  }

  /** Whether {@code groupId} has the form the server gives; the SDK uses ids as file names too. */
  public static boolean validGroupId(String groupId) {
    return groupId != null && GROUP_ID.matcher(groupId).matches();
  }

  /** The group a text channel's new messages use. */
  public String channelGroup(String channelId) {
    JsonNode r = rest.get("/api/v1/channels/" + segment(channelId) + "/group");
    String groupId = r == null ? null : r.path("groupId").asText(null);
    if (!validGroupId(groupId)) {
      throw new ApiException(200, "malformed_answer", "the server named no valid group for channel "
          + channelId + ": " + groupId);
    }
    return groupId;
  }

  public DeliveryServiceKey deliveryService() {
    return rest.get("/api/v1/mls/delivery-service", DeliveryServiceKey.class);
  }

  public GroupStatus status(String groupId, String deviceId) {
    return rest.get(group(groupId) + "?deviceId=" + segment(deviceId), GroupStatus.class);
  }

  public GroupStatus create(String groupId, String deviceId, byte[] groupInfo) {
    return rest.post(group(groupId) + "/create", Map.of("deviceId", deviceId,
        "groupInfo", B64.encodeToString(groupInfo)), GroupStatus.class);
  }

  /** Submits a commit (and the Welcome for its joiners); 409 {@code stale_epoch} when it lost the race. */
  public GroupStatus commit(String groupId, String deviceId, byte[] commit, byte[] welcome) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("deviceId", deviceId);
    body.put("commit", B64.encodeToString(commit));
    if (welcome != null) {
      body.put("welcome", B64.encodeToString(welcome));
    }
    return rest.post(group(groupId) + "/commits", body, GroupStatus.class);
  }

  public GroupStatus uploadGroupInfo(String groupId, String deviceId, byte[] groupInfo) {
    return rest.post(group(groupId) + "/group-info", Map.of("deviceId", deviceId,
        "groupInfo", B64.encodeToString(groupInfo)), GroupStatus.class);
  }

  public Welcome welcome(String groupId, String deviceId) {
    return rest.get(group(groupId) + "/welcome?deviceId=" + segment(deviceId), Welcome.class);
  }

  /** Up to {@code limit} journal events after {@code after}, the handshake ones only (so seqs may skip). */
  public List<LogEntry> log(String groupId, String deviceId, long after, int limit) {
    return rest.get(group(groupId) + "/log?deviceId=" + segment(deviceId) + "&after=" + after
        + "&limit=" + limit, LOG);
  }

  /** Asks the server to remove this device (then the roster driver adds it again). */
  public GroupStatus reset(String groupId, String deviceId) {
    return rest.post(group(groupId) + "/reset", Map.of("deviceId", deviceId), GroupStatus.class);
  }

  private static String group(String groupId) {
    if (!validGroupId(groupId)) {
      throw new IllegalArgumentException("not a group id: " + groupId);
    }
    return "/api/v1/groups/" + groupId;
  }
}
