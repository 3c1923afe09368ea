package dev.cloister.guild.group;

import dev.cloister.guild.Guild;
import dev.cloister.guild.channel.DataSourceSession;
import dev.cloister.guild.user.Devices;
import dev.cloister.guild.user.User;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import javax.sql.DataSource;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.sharding.typed.ShardedDaemonProcessSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.ShardedDaemonProcess;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.projection.ProjectionBehavior;
import org.apache.pekko.projection.ProjectionId;
import org.apache.pekko.projection.eventsourced.EventEnvelope;
import org.apache.pekko.projection.eventsourced.javadsl.EventSourcedProvider;
import org.apache.pekko.projection.javadsl.Handler;
import org.apache.pekko.projection.Projection;
import org.apache.pekko.projection.jdbc.javadsl.JdbcProjection;

/**
 * Drives every encryption group from the log: a projection over the Guild events (membership,
 * roles, overwrites, channels) and the User events (devices, key packages) recomputes each
 * affected guild's {@link Audience} and sends every group its whole roster of devices. A roster,
 * not a delta, so a repeat changes nothing and a node killed between any two steps converges
 * when the projection resumes from its offset (kept in PostgreSQL). The API also calls
 * {@link #syncGuild} right after a change, so that removals do not wait for the projection.
 */
public final class RosterDriver {

  public static final String NAME = "group-rosters";
  static final int GROUP_SIZE = 200;
  static final Duration GROUP_WITHIN = Duration.ofMillis(50);

  private final ActorSystem<?> system;
  private final ClusterSharding sharding;
  private final Duration timeout;
  /** Empty until the node runs voice channels; then guild changes also check their participants. */
  private final Optional<dev.cloister.guild.voice.VoiceAccess> voice;

  public RosterDriver(ActorSystem<?> system, Duration timeout) {
    this(system, timeout, Optional.empty());
  }

  public RosterDriver(ActorSystem<?> system, Duration timeout,
      Optional<dev.cloister.guild.voice.VoiceAccess> voice) {
    this.system = system;
    this.sharding = ClusterSharding.get(system);
    this.timeout = timeout;
    this.voice = voice;
  }

  /** Sends each group of the guild its roster as of the guild's current audience. */
  public CompletionStage<Done> syncGuild(String guildId) {
    var guild = sharding.entityRefFor(Guild.ENTITY_KEY, guildId);
    // The plan names every member: it comes in parts, as large as the guild is.
    return dev.cloister.guild.Parts.ask(system, r -> guild.tell(new Guild.GetAudience(r)),
            Audience.Plan.class, timeout)
        .thenCompose(plan -> devicesOf(users(plan)).thenCompose(devices -> {
          List<CompletableFuture<EncryptionGroup.Status>> sent = new ArrayList<>();
          for (Audience.GroupRoster g : plan.groups()) {
            List<String> roster = new ArrayList<>();
            for (String user : g.userIds()) {
              for (Devices.DeviceInfo d : devices.getOrDefault(user, List.of())) {
                roster.add(user + "/" + d.deviceId());
              }
            }
            sent.add(sharding.entityRefFor(EncryptionGroup.ENTITY_KEY, g.groupId())
                .<EncryptionGroup.Status>askWithStatus(r -> new EncryptionGroup.SetRoster(
                    g.guildId(), g.channelId(), roster, plan.audienceVersion(), r), timeout)
                .toCompletableFuture());
          }
          return CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new))
              .thenApply(x -> Done.getInstance());
        }));
  }

  /** Syncs every guild the user belongs to (their devices changed). */
  public CompletionStage<Done> syncUser(String userId) {
    return guildsOf(userId).thenCompose(guilds -> all(guilds.stream().map(this::syncGuild).toList()));
  }

  private CompletionStage<List<String>> guildsOf(String userId) {
    return sharding.entityRefFor(User.ENTITY_KEY, userId)
        .<User.Profile>askWithStatus(User.GetProfile::new, timeout)
        .thenApply(User.Profile::guildIds);
  }

  private static Set<String> users(Audience.Plan plan) {
    Set<String> out = new LinkedHashSet<>();
    plan.groups().forEach(g -> out.addAll(g.userIds()));
    return out;
  }

  private CompletionStage<Map<String, List<Devices.DeviceInfo>>> devicesOf(Set<String> users) {
    Map<String, CompletableFuture<List<Devices.DeviceInfo>>> asks = new LinkedHashMap<>();
    for (String u : users) {
      asks.put(u, sharding.entityRefFor(User.ENTITY_KEY, u)
          .<Devices.DeviceList>askWithStatus(User.GetDevices::new, timeout)
          .thenApply(Devices.DeviceList::devices).toCompletableFuture());
    }
    return CompletableFuture.allOf(asks.values().toArray(CompletableFuture[]::new))
        .thenApply(x -> {
          Map<String, List<Devices.DeviceInfo>> out = new LinkedHashMap<>();
          asks.forEach((u, f) -> out.put(u, f.join()));
          return out;
        });
  }

  private static CompletionStage<Done> all(List<CompletionStage<Done>> stages) {
    return CompletableFuture.allOf(stages.stream().map(CompletionStage::toCompletableFuture)
        .toArray(CompletableFuture[]::new)).thenApply(x -> Done.getInstance());
  }

  // ---- the projection ----

  /** One projection per tag of Guild ({@code guild-0..3}) and User ({@code user-0..3}) events. */
  public static void init(ActorSystem<?> system, DataSource dataSource, RosterDriver driver) {
    List<String> tags = new ArrayList<>();
    for (int i = 0; i < Guild.TAG_COUNT; i++) {
      tags.add("guild-" + i);
    }
    for (int i = 0; i < User.TAG_COUNT; i++) {
      tags.add("user-" + i);
    }
    ShardedDaemonProcess.get(system).init(
        ProjectionBehavior.Command.class, NAME, tags.size(),
        i -> ProjectionBehavior.create(projection(system, dataSource, driver, tags.get(i))),
        ShardedDaemonProcessSettings.create(system),
        Optional.of(ProjectionBehavior.stopMessage()));
  }

  static Projection<EventEnvelope<Object>> projection(ActorSystem<?> system,
      DataSource dataSource, RosterDriver driver, String tag) {
    return JdbcProjection.groupedWithinAsync(
            ProjectionId.of(NAME, tag),
            EventSourcedProvider.<Object>eventsByTag(system, JdbcReadJournal.Identifier(), tag),
            () -> new DataSourceSession(dataSource),
            () -> Handler.fromFunction(driver::process),
            system)
        .withGroup(GROUP_SIZE, GROUP_WITHIN);
  }

  /** A batch of events: each guild (or user) named in it is synced once. */
  CompletionStage<Done> process(List<EventEnvelope<Object>> envelopes) {
    Set<String> guilds = new LinkedHashSet<>();
    Set<String> users = new LinkedHashSet<>();
    for (EventEnvelope<Object> e : envelopes) {
      String pid = e.persistenceId();
      String id = pid.substring(pid.indexOf('|') + 1);
      if (pid.startsWith(Guild.ENTITY_KEY.name() + "|")) {
        guilds.add(id);
      } else if (e.event() instanceof User.DeviceAdded || e.event() instanceof User.DeviceRemoved
          || e.event() instanceof User.KeyPackagesStored) {
        users.add(id);
      }
    }
    // A guild is synced once per batch however many of its members' devices changed: each sync
    // reads every member's devices, so syncing per user would cost members x changes.
    List<CompletionStage<Set<String>>> reached = new ArrayList<>();
    for (String u : users) {
      reached.add(ignoringUnknown(guildsOf(u).thenApply(Set::copyOf), Set.of()));
    }
    return CompletableFuture.allOf(reached.stream().map(CompletionStage::toCompletableFuture)
            .toArray(CompletableFuture[]::new))
        .thenCompose(x -> {
          List<CompletionStage<Done>> work = new ArrayList<>();
          for (String g : guilds) {
            voice.ifPresent(v -> work.add(ignoringUnknown(v.enforce(g), Done.getInstance())));
          }
          for (CompletionStage<Set<String>> r : reached) {
            guilds.addAll(r.toCompletableFuture().join());
          }
          guilds.forEach(g -> work.add(ignoringUnknown(syncGuild(g), Done.getInstance())));
          return all(work);
        });
  }

  /** A guild or user that does not exist (any more) has nothing to sync; other failures retry. */
  private static <T> CompletionStage<T> ignoringUnknown(CompletionStage<T> sync, T nothing) {
    return sync.handle((done, failure) -> {
      if (failure == null) {
        return CompletableFuture.completedFuture(done);
      }
      Throwable t = failure instanceof java.util.concurrent.CompletionException c
          && c.getCause() != null ? c.getCause() : failure;
      if (t instanceof org.apache.pekko.pattern.StatusReply.ErrorMessage m
          && m.getMessage().startsWith(dev.cloister.guild.Rejection.Code.NOT_FOUND.wire)) {
        return CompletableFuture.completedFuture(nothing);
      }
      return CompletableFuture.<T>failedFuture(t);
    }).thenCompose(f -> f);
  }
}
