package dev.cloister.load;

import dev.cloister.client.Channel;
import dev.cloister.client.CloisterApi;
import dev.cloister.client.CloisterClient;
import dev.cloister.client.Guild;
import dev.cloister.client.chat.Chat;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The accounts a simulation logs in with, made before it starts so that account creation and the
 * guild's encryption group are not what the run measures: each user registered (SRP verifier,
 * device key, key packages) in its own device home, listed with its password in a CSV file that
 * the simulation's Gatling feeder reads. Members are in one guild (owner: the first); with
 * {@code group}, every member's device is also in the guild's MLS group at one epoch. Newcomers
 * are accounts outside the guild, with its invite, for the runs that measure joining. With
 * {@code voice}, the guild also gets a voice channel ("Lounge"); its calls' MLS groups are made by
 * the participants as they join, so nothing of them is prepared.
 *
 * @param dir this run's directory (CSV files and homes)
 * @param members the members' CSV ({@code username,password,home,userId})
 * @param newcomers the newcomers' CSV, same columns
 * @param voiceChannelId the guild's voice channel, or null when none was asked for
 */
public record Population(Path dir, Path members, Path newcomers, String guildId,
    String channelId, String voiceChannelId, String inviteCode, int memberCount,
    int newcomerCount) {

  public static final String CSV_HEADER = "username,password,home,userId";

  private static final SecureRandom RANDOM = new SecureRandom();
  /** Members who join the guild between two of the owner's commits. */
  static final int JOIN_BATCH = 50;

  /** One prepared account. */
  record Account(String username, String password, Path home, String userId) {
    String csv() {
      return username + "," + password + "," + home + "," + userId;
    }
  }

  /**
   * Registers {@code memberCount} members in a new guild and {@code newcomerCount} accounts outside
   * it, against the node at {@code settings.url()}; prints what it does to stderr.
   */
  public static Population prepare(LoadSettings settings, String simulation, int memberCount,
      int newcomerCount, boolean group, boolean voice) throws Exception {
    String run = simulation + "-" + Long.toString(System.currentTimeMillis(), 36)
        + HexFormat.of().formatHex(bytes(2));
    Path dir = settings.workDir().resolve(run);
    Files.createDirectories(dir.resolve("homes"));
    long t0 = System.nanoTime();
    int workers = Math.max(1, Math.min(4, settings.threads()));
    ExecutorService pool = Executors.newFixedThreadPool(workers);
    try {
      List<Account> members = register(settings, dir, "m", memberCount, pool);
      List<Account> newcomers = register(settings, dir, "n", newcomerCount, pool);
      say("%d accounts registered with enrolled devices in %.1f s", memberCount + newcomerCount,
          seconds(t0));

      CloisterClient owner = CloisterClient.login(settings.url(), members.get(0).home(),
          members.get(0).username(), members.get(0).password());
      CloisterApi api = owner.api();
      Guild guild = api.createGuild("load " + run);
      String channelId = guild.channels().stream().filter(Channel::isText).findFirst()
          .orElseThrow(() -> new IllegalStateException("a new guild has no text channel"))
          .id();
      String voiceChannelId = voice
          ? api.createChannel(guild.id(), "Lounge", "voice", null).id() : null;
      String invite = api.createInvite(guild.id(), 0, 0).code();
      // Members arrive in batches and, with a group, the owner commits each batch's Adds before
      // the next arrives: one commit adding hundreds of devices makes a commit + Welcome +
      // GroupInfo body over the node's 1 MiB request limit, and communities grow that way anyway.
      for (int from = 1; from < members.size(); from += JOIN_BATCH) {
        List<Account> batch = members.subList(from, Math.min(members.size(), from + JOIN_BATCH));
        List<Future<?>> joined = new ArrayList<>();
        for (Account a : batch) {
          joined.add(pool.submit(() -> {
            CloisterClient c = CloisterClient.login(settings.url(), a.home(), a.username(),
                a.password());
            c.api().useInvite(invite);
            return null;
          }));
        }
        for (Future<?> f : joined) {
          f.get();
        }
        if (group) {
          ownerCommits(owner, members.subList(0, from + batch.size()), channelId);
        }
      }
      say("guild %s: %d members joined in %.1f s", guild.id(), memberCount, seconds(t0));
      if (group && memberCount > 0) {
        ownerCommits(owner, members, channelId);
        settleGroup(settings, owner, members, channelId, pool);
        say("encryption group of channel %s: all %d devices at one epoch after %.1f s",
            channelId, memberCount, seconds(t0));
      }
      Path membersCsv = writeCsv(dir.resolve("members.csv"), members);
      Path newcomersCsv = writeCsv(dir.resolve("newcomers.csv"), newcomers);
      return new Population(dir, membersCsv, newcomersCsv, guild.id(), channelId, voiceChannelId,
          invite, memberCount, newcomerCount);
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<Account> register(LoadSettings settings, Path dir, String kind, int count,
      ExecutorService pool) throws Exception {
    String stamp = Long.toString(System.currentTimeMillis(), 36) + HexFormat.of().formatHex(bytes(2));
    List<Future<Account>> futures = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      String username = ("lt" + stamp + kind + i).toLowerCase(Locale.ROOT);
      String password = HexFormat.of().formatHex(bytes(12));
      Path home = dir.resolve("homes").resolve(username);
      futures.add(pool.submit(() -> {
        CloisterClient c = CloisterClient.register(settings.url(), home, username, password);
        return new Account(username, password, home, c.account().userId());
      }));
    }
    List<Account> out = new ArrayList<>();
    for (Future<Account> f : futures) {
      out.add(f.get());
    }
    return out;
  }

  /**
   * The owner creates the guild's group if need be and commits the Adds the roster driver proposes
   * until every one of {@code members} has its device in it.
   */
  private static void ownerCommits(CloisterClient owner, List<Account> members, String channelId)
      throws Exception {
    Set<String> wanted = new HashSet<>();
    for (Account a : members) {
      wanted.add(a.userId());
    }
    long deadline = System.nanoTime() + deadlineFor(members.size()).toNanos();
    Chat chat = owner.chat();
    while (true) {
      Chat.GroupState g = chat.group(channelId);
      for (String notice : chat.drainNotices()) {
        say("%s: %s", members.get(0).username(), notice);
      }
      Set<String> in = new HashSet<>();
      for (String m : g.members()) {
        in.add(m.substring(0, m.indexOf('/')));
      }
      if (in.containsAll(wanted)) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the group of channel " + channelId + " holds "
            + in.size() + " of " + wanted.size() + " members after " + deadlineFor(members.size())
            + ": " + g.sync().detail());
      }
      Thread.sleep(200);
    }
  }

  /** Every member's device joins (from its Welcome) and follows the log to the owner's epoch. */
  private static void settleGroup(LoadSettings settings, CloisterClient owner,
      List<Account> members, String channelId, ExecutorService pool) throws Exception {
    long deadline = System.nanoTime() + deadlineFor(members.size()).toNanos();
    Chat chat = owner.chat();
    long epoch = chat.group(channelId).epoch();
    List<Future<?>> synced = new ArrayList<>();
    for (Account a : members.subList(1, members.size())) {
      synced.add(pool.submit(() -> {
        CloisterClient c = CloisterClient.open(a.home(), settings.url());
        Chat mine = c.chat();
        while (true) {
          Chat.GroupState s = mine.group(channelId);
          if (s.epoch() >= epoch) {
            return null;
          }
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException(a.username() + " is at epoch " + s.epoch()
                + " of channel " + channelId + "'s group, not " + epoch + ": " + s.sync().detail());
          }
          Thread.sleep(100);
        }
      }));
    }
    int done = 0;
    for (Future<?> f : synced) {
      f.get();
      if (++done % 100 == 0) {
        say("%d of %d devices at the group's epoch", done + 1, members.size());
      }
    }
  }

  /** Generous: every device's MLS work runs under one process-wide lock in the generator. */
  private static Duration deadlineFor(int members) {
    return Duration.ofSeconds(120 + 2L * members);
  }

  private static Path writeCsv(Path file, List<Account> accounts) throws IOException {
    StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
    for (Account a : accounts) {
      sb.append(a.csv()).append('\n');
    }
    Files.writeString(file, sb, StandardCharsets.UTF_8);
    return file;
  }

  /** Deletes this run's homes and CSV files. */
  public void delete() throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private static byte[] bytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  private static double seconds(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  static void say(String format, Object... args) {
    System.err.println("cloister load: " + String.format(Locale.ROOT, format, args));
  }

  static void awaitTermination(ExecutorService pool) throws InterruptedException {
    pool.shutdown();
    pool.awaitTermination(10, TimeUnit.SECONDS);
  }
}
