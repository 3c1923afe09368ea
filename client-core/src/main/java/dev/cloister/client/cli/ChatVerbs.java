package dev.cloister.client.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Message;
import dev.cloister.client.chat.Chat;
import dev.cloister.client.chat.StoredMessage;
import dev.cloister.client.device.Device;
import dev.cloister.client.http.RestClient;
import dev.cloister.mls.group.SafetyNumber;
import java.io.IOException;
import java.util.Base64;
import java.util.List;
import java.util.Set;

/** send, read, raw, open, group, safety-number: end-to-end encrypted chat. */
final class ChatVerbs {

  /** Exit code of {@code open} when this device cannot decrypt the message. */
  static final int CANNOT_OPEN = 3;
  static final int DEFAULT_READ = 50;

  private ChatVerbs() {}

  static List<Verb> all() {
    return List.of(
        new Verb("send", "CHANNEL_ID TEXT",
            "encrypt TEXT for the channel's group (syncing it first) and post it; prints the message id",
            ChatVerbs::send),
        new Verb("read", "CHANNEL_ID [--limit N]",
            "sync, then print the newest N messages oldest first: 'id author text' or "
                + "'id author [unreadable: reason]' (default 50)", ChatVerbs::read),
        new Verb("raw", "CHANNEL_ID MESSAGE_ID",
            "print a message's ciphertext in base64, as the server stores it", ChatVerbs::raw),
        new Verb("open", "CHANNEL_ID BASE64",
            "decrypt a ciphertext with this device's keys and print its text; exit 3 with the "
                + "reason if it cannot", ChatVerbs::open),
        new Verb("group", "CHANNEL_ID",
            "sync the channel's encryption group and print 'groupId epoch member...'",
            ChatVerbs::group),
        new Verb("safety-number", "USER_ID",
            "print the safety number of you and USER_ID, from both users' device keys; compare it"
                + " in person", ChatVerbs::safetyNumber));
  }

  static int send(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String channelId = in.arg(0, "CHANNEL_ID");
    String text = in.arg(1, "TEXT");
    in.noMoreThan(2);
    Chat chat = in.client().chat();
    try {
      Message m = chat.send(channelId, text);
      in.out().println(m.id());
      return 0;
    } finally {
      notes(in, chat);
    }
  }

  static int read(Invocation in) throws IOException {
    in.onlyOptions(Set.of("limit"));
    String channelId = in.arg(0, "CHANNEL_ID");
    in.noMoreThan(1);
    long limit = in.longOption("limit", DEFAULT_READ);
    if (limit < 1) {
      throw new UsageException("--limit must be at least 1");
    }
    Chat chat = in.client().chat();
    try {
      Chat.ReadResult r = chat.read(channelId, (int) Math.min(limit, Integer.MAX_VALUE));
      java.util.Map<String, String> names = new java.util.HashMap<>();
      dev.cloister.client.CloisterApi api = in.client().api();
      for (StoredMessage m : r.messages()) {
        String body = switch (m.state()) {
          case READ -> escape(m.text());
          case UNREADABLE -> "[unreadable: " + m.reason() + "]";
          case PENDING -> "[unreadable: " + Chat.pendingReason(m, r.group()) + "]";
        };
        String author = names.computeIfAbsent(m.authorId(), api::username);
        in.out().println(m.id() + " " + author + " " + body);
      }
      return 0;
    } finally {
      notes(in, chat);
    }
  }

  static int raw(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String channelId = in.arg(0, "CHANNEL_ID");
    String messageId = in.arg(1, "MESSAGE_ID");
    in.noMoreThan(2);
    long id;
    try {
      id = Long.parseLong(messageId);
    } catch (NumberFormatException e) {
      throw new UsageException("MESSAGE_ID must be a message id, not '" + messageId + "'");
    }
    // History has no single-message call: the one message just newer than id - 1.
    JsonNode page = in.client().rest().get("/api/v1/channels/" + RestClient.segment(channelId)
        + "/messages?limit=1&after=" + (id - 1));
    JsonNode m = page != null && page.size() == 1 ? page.get(0) : null;
    if (m == null || !m.path("id").asText().equals(messageId)) {
      in.err().println("cloister: error: channel " + channelId + " has no message " + messageId);
      return Cli.FAILED;
    }
    in.out().println(m.path("ciphertext").asText());
    return 0;
  }

  static int open(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String channelId = in.arg(0, "CHANNEL_ID");
    String b64 = in.arg(1, "BASE64");
    in.noMoreThan(2);
    byte[] ciphertext;
    try {
      ciphertext = Base64.getDecoder().decode(b64.strip());
    } catch (IllegalArgumentException e) {
      throw new UsageException("BASE64 is not base64: " + e.getMessage());
    }
    Chat chat = in.client().chat();
    Chat.Opened o;
    try {
      o = chat.open(channelId, ciphertext);
    } finally {
      notes(in, chat);
    }
    if (!o.ok()) {
      in.err().println("cloister: cannot open: " + o.reason());
      return CANNOT_OPEN;
    }
    if (o.fromStore()) {
      in.err().println("cloister: note: this device read the message before (its key is spent); "
          + "the text is from its message store");
    }
    in.out().println(escape(o.text()));
    return 0;
  }

  static int group(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String channelId = in.arg(0, "CHANNEL_ID");
    in.noMoreThan(1);
    Chat chat = in.client().chat();
    try {
      Chat.GroupState g = chat.group(channelId);
      if (!g.sync().member() && g.sync().detail() != null) {
        in.err().println("cloister: note: " + g.sync().detail());
      }
      StringBuilder line = new StringBuilder(g.groupId()).append(' ').append(g.epoch());
      g.members().forEach(m -> line.append(' ').append(m));
      in.out().println(line);
      return 0;
    } finally {
      notes(in, chat);
    }
  }

  static int safetyNumber(Invocation in) throws IOException {
    in.onlyOptions(Set.of());
    String userId = in.arg(0, "USER_ID");
    in.noMoreThan(1);
    CloisterClient client = in.client();
    String me = client.account().userId();
    List<byte[]> mine = keys(client.devices().devices(me));
    List<byte[]> theirs = keys(client.devices().devices(userId));
    if (theirs.isEmpty()) {
      in.err().println("cloister: error: user " + userId + " has no devices yet");
      return Cli.FAILED;
    }
    in.out().println(SafetyNumber.of(me, mine, userId, theirs));
    return 0;
  }

  private static List<byte[]> keys(List<Device> devices) {
    return devices.stream().map(Device::signatureKey).toList();
  }

  private static void notes(Invocation in, Chat chat) {
    chat.drainNotices().forEach(n -> in.err().println("cloister: note: " + n));
  }

  /** One message per line: line breaks and backslashes escaped. */
  static String escape(String text) {
    StringBuilder b = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        default -> b.append(c < 0x20 ? ' ' : c);
      }
    }
    return b.toString();
  }
}
