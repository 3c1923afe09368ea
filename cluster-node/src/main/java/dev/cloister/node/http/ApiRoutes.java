package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.ChannelType;
import dev.cloister.guild.Guild;
import dev.cloister.guild.Permission;
import dev.cloister.guild.Rejection;
import dev.cloister.guild.Snowflake;
import dev.cloister.guild.channel.MessageHistory;
import dev.cloister.guild.channel.TextChannel;
import dev.cloister.guild.user.Account;
import dev.cloister.guild.user.User;
import dev.cloister.node.auth.SessionTokens;
import dev.cloister.node.auth.SrpLogins;
import java.math.BigInteger;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.MalformedRequestContentRejection;
import org.apache.pekko.http.javadsl.server.MethodRejection;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST API under {@code /api/v1}. Each handler validates its input, asks the entities and
 * renders JSON; every failure becomes {@code {code, message}} with a fitting status.
 */
public final class ApiRoutes extends AllDirectives {

  private static final Logger log = LoggerFactory.getLogger(ApiRoutes.class);
  private static final int DEFAULT_PAGE = 50;
  private static final int MAX_CHANNEL_CACHE = 100_000;

  private final ClusterSharding sharding;
  private final SessionTokens tokens;
  private final SrpLogins logins;
  private final MessageHistory history;
  private final Snowflake ids;
  private final Executor blocking;
  private final Duration askTimeout;
  private final Duration readYourWritesWait;
  private final BooleanSupplier ready;
  /** channel id -> guild id; a channel never moves to another guild, so entries never go stale. */
  private final Map<String, String> channelGuilds = new ConcurrentHashMap<>();

  public ApiRoutes(
      ClusterSharding sharding, SessionTokens tokens, SrpLogins logins, MessageHistory history,
      Snowflake ids, Executor blocking, Duration askTimeout, Duration readYourWritesWait,
      BooleanSupplier ready) {
    this.sharding = sharding;
    this.tokens = tokens;
    this.logins = logins;
    this.history = history;
    this.ids = ids;
    this.blocking = blocking;
    this.askTimeout = askTimeout;
    this.readYourWritesWait = readYourWritesWait;
    this.ready = ready;
  }

  public Route route() {
    return handleExceptions(exceptionHandler(), () -> handleRejections(rejectionHandler(), () ->
        concat(
            path("health", () -> get(() -> ready.getAsBoolean()
                ? json(200, obj().put("status", "ok"))
                : json(503, error("starting", "the node is starting; try again shortly")))),
            pathPrefix(segment("api").slash("v1"), () -> concat(
                // Sealed, so that a wrong method or path under /auth is answered here rather
                // than falling through to the token check.
                pathPrefix("auth", () -> handleRejections(rejectionHandler(), () -> concat(
                    path("register", () -> post(() -> body(this::register))),
                    path(segment("login").slash("start"), () -> post(() -> body(this::loginStart))),
                    path(segment("login").slash("finish"),
                        () -> post(() -> body(this::loginFinish)))))),
                authenticated(this::userRoutes))))));
  }

  private Route userRoutes(String userId) {
    return concat(
        pathPrefix("guilds", () -> concat(
            pathEnd(() -> post(() -> body(b -> createGuild(userId, b)))),
            pathPrefix(segment(), guildId -> concat(
                pathEnd(() -> get(() -> reply(getGuild(userId, guildId)))),
                path("channels",
                    () -> post(() -> body(b -> createChannel(userId, guildId, b)))))))),
        path(segment("channels").slash(segment()).slash("messages"), channelId -> concat(
            post(() -> body(b -> postMessage(userId, channelId, b))),
            get(() -> parameterMap(q -> reply(readHistory(userId, channelId, q)))))));
  }

  // ---- auth ----

  private CompletionStage<HttpResponse> register(JsonBody body) {
    String username = body.string("username");
    byte[] salt = body.hex("salt", Account.MAX_SALT_BYTES);
    byte[] verifier = body.hex("verifier", Account.MAX_VERIFIER_BYTES);
    if (!Account.USERNAME.matcher(username).matches()) {
      throw ApiError.badRequest("username must be 2 to 32 lower-case letters, digits, '_' or '.'");
    }
    if (!SrpLogins.isValidVerifier(new BigInteger(1, verifier))) {
      throw ApiError.badRequest("verifier must be g^x mod N, within 1..N-1 of the RFC 5054 "
          + "2048-bit group");
    }
    String userId = Long.toString(ids.next());
    return sharding.entityRefFor(Account.ENTITY_KEY, username)
        .<Account.Credentials>askWithStatus(
            r -> new Account.Register(userId, username, salt, verifier, r), askTimeout)
        .thenCompose(creds -> ensureUser(creds.userId(), creds.username()))
        .thenApply(profile -> response(201, obj().put("userId", profile.userId())));
  }

  private CompletionStage<User.Profile> ensureUser(String userId, String username) {
    return sharding.entityRefFor(User.ENTITY_KEY, userId)
        .askWithStatus(r -> new User.Create(username, r), askTimeout);
  }

  private CompletionStage<HttpResponse> loginStart(JsonBody body) {
    String username = body.string("username");
    BigInteger a = body.bigInteger("A", 512);
    if (!Account.USERNAME.matcher(username).matches()) {
      throw ApiError.badRequest("username must be 2 to 32 lower-case letters, digits, '_' or '.'");
    }
    return sharding.entityRefFor(Account.ENTITY_KEY, username)
        .<Account.Credentials>askWithStatus(Account.GetCredentials::new, askTimeout)
        .handle((creds, failure) -> {
          if (failure != null && !isRejection(failure, Rejection.Code.NOT_FOUND)) {
            throw new CompletionException(failure);
          }
          try {
            SrpLogins.Started s = creds == null
                ? logins.start(username, a, null, null, null)
                : logins.start(username, a, creds.userId(), creds.salt(),
                    new BigInteger(1, creds.verifier()));
            return response(200, obj().put("loginId", s.loginId())
                .put("salt", HexFormat.of().formatHex(s.salt()))
                .put("B", s.b().toString(16)));
          } catch (SrpLogins.LoginRefused e) {
            throw ApiError.badRequest(e.getMessage());
          } catch (IllegalStateException e) {
            throw new ApiError(503, "busy", "too many logins in progress; try again shortly");
          }
        });
  }

  private CompletionStage<HttpResponse> loginFinish(JsonBody body) {
    String loginId = body.string("loginId");
    BigInteger m1 = body.bigInteger("M1", 64);
    var finished = logins.finish(loginId, m1).orElseThrow(() -> ApiError.unauthorized(
        "login failed: wrong username or password, or the login expired; start again"));
    SessionTokens.Issued token = tokens.issue(finished.userId());
    return sharding.entityRefFor(User.ENTITY_KEY, finished.userId())
        .<User.Profile>askWithStatus(User.GetProfile::new, askTimeout)
        .thenApply(profile -> response(200, obj()
            .put("token", token.token())
            .put("M2", finished.m2().toString(16))
            .put("userId", finished.userId())
            .put("expiresAt", token.expiresAt().toString())));
  }

  private Route authenticated(Function<String, Route> inner) {
    return optionalHeaderValueByName("Authorization", header -> {
      String value = header.orElse("");
      if (value.regionMatches(true, 0, "Bearer ", 0, 7)) {
        var session = tokens.verify(value.substring(7).strip());
        if (session.isPresent()) {
          return inner.apply(session.get().userId());
        }
      }
      return complete(toResponse(ApiError.unauthorized(value.isEmpty()
              ? "this call needs 'Authorization: Bearer <token>'; log in at /api/v1/auth/login/start"
              : "the bearer token is invalid or expired; log in again"))
          .addHeader(WWWAuthenticate.create(HttpChallenge.create("Bearer", "cloister"))));
    });
  }

  // ---- guilds and channels ----

  private CompletionStage<HttpResponse> createGuild(String userId, JsonBody body) {
    String name = body.string("name").strip();
    if (name.isEmpty() || name.length() > Guild.MAX_NAME_LENGTH) {
      throw ApiError.badRequest("name must be 1 to " + Guild.MAX_NAME_LENGTH + " characters");
    }
    String guildId = Long.toString(ids.next());
    String textId = Long.toString(ids.next());
    String voiceId = Long.toString(ids.next());
    // The channel entity first: if the node dies before the guild lists it, it is an unreachable
    // orphan, never a listed channel that does not exist.
    return createTextChannel(guildId, textId, "general")
        .thenCompose(c -> sharding.entityRefFor(Guild.ENTITY_KEY, guildId)
            .<Guild.GuildView>askWithStatus(
                r -> new Guild.Create(name, userId, textId, voiceId, r), askTimeout))
        .thenCompose(view -> sharding.entityRefFor(User.ENTITY_KEY, userId)
            .<User.Profile>askWithStatus(r -> new User.JoinGuild(guildId, r), askTimeout)
            .thenApply(p -> response(201, guildJson(view))));
  }

  private CompletionStage<TextChannel.Info> createTextChannel(String guildId, String id, String name) {
    return sharding.entityRefFor(TextChannel.ENTITY_KEY, id)
        .askWithStatus(r -> new TextChannel.Create(guildId, name, r), askTimeout);
  }

  private CompletionStage<HttpResponse> getGuild(String userId, String guildId) {
    requireId(guildId, "guild");
    return sharding.entityRefFor(Guild.ENTITY_KEY, guildId)
        .<Guild.GuildView>askWithStatus(r -> new Guild.Get(userId, r), askTimeout)
        .thenApply(view -> response(200, guildJson(view)));
  }

  private CompletionStage<HttpResponse> createChannel(String userId, String guildId, JsonBody body) {
    requireId(guildId, "guild");
    String name = body.string("name").strip();
    String typeName = body.string("type");
    ChannelType type = ChannelType.fromWire(typeName).orElseThrow(
        () -> ApiError.badRequest("type must be \"text\" or \"voice\""));
    if (name.isEmpty() || name.length() > Guild.MAX_NAME_LENGTH) {
      throw ApiError.badRequest("name must be 1 to " + Guild.MAX_NAME_LENGTH + " characters");
    }
    String channelId = Long.toString(ids.next());
    var guild = sharding.entityRefFor(Guild.ENTITY_KEY, guildId);
    return guild
        .<Guild.GuildView>askWithStatus(
            r -> new Guild.CheckGuildPermission(userId, Permission.MANAGE_CHANNELS, r), askTimeout)
        .thenCompose(ok -> type == ChannelType.TEXT
            ? createTextChannel(guildId, channelId, name).thenApply(i -> ok)
            : CompletableFuture.completedFuture(ok))
        .thenCompose(ok -> guild.<Guild.ChannelInfo>askWithStatus(
            r -> new Guild.AddChannel(userId, channelId, name, type, r), askTimeout))
        .thenApply(c -> response(201, channelJson(c)));
  }

  // ---- messages ----

  private CompletionStage<HttpResponse> postMessage(String userId, String channelId, JsonBody body) {
    requireId(channelId, "channel");
    byte[] ciphertext = body.base64("ciphertext");
    if (ciphertext.length == 0) {
      throw ApiError.badRequest("ciphertext must not be empty");
    }
    if (ciphertext.length > TextChannel.MAX_CIPHERTEXT_BYTES) {
      throw ApiError.tooLarge("ciphertext is " + ciphertext.length + " bytes; the limit is "
          + TextChannel.MAX_CIPHERTEXT_BYTES + " bytes (256 KiB) before base64");
    }
    var channel = sharding.entityRefFor(TextChannel.ENTITY_KEY, channelId);
    return guildOf(channelId)
        .thenCompose(guildId -> checkAccess(guildId, userId, channelId, Permission.SEND_MESSAGES))
        .thenCompose(ok -> channel.<TextChannel.Message>askWithStatus(
            r -> new TextChannel.Post(userId, ciphertext, r), askTimeout))
        .thenApply(m -> response(201, messageJson(
            m.id(), m.channelId(), m.authorId(), m.ciphertext(), m.createdAtMillis())));
  }

  private CompletionStage<HttpResponse> readHistory(
      String userId, String channelId, Map<String, String> query) {
    requireId(channelId, "channel");
    int limit = DEFAULT_PAGE;
    if (query.containsKey("limit")) {
      try {
        limit = Integer.parseInt(query.get("limit"));
      } catch (NumberFormatException e) {
        throw ApiError.badRequest("limit must be a whole number from 1 to 100");
      }
      if (limit < 1) {
        throw ApiError.badRequest("limit must be a whole number from 1 to 100");
      }
    }
    OptionalLong before = cursor(query, "before");
    OptionalLong after = cursor(query, "after");
    int pageSize = Math.min(limit, MessageHistory.MAX_PAGE);
    var channel = sharding.entityRefFor(TextChannel.ENTITY_KEY, channelId);
    return channel.<TextChannel.Info>askWithStatus(TextChannel.GetInfo::new, askTimeout)
        .thenCompose(info -> checkAccess(info.guildId(), userId, channelId,
                Permission.READ_MESSAGE_HISTORY).thenApply(ok -> info))
        .thenCompose(info -> CompletableFuture.supplyAsync(
            () -> page(channelId, info.lastMessageId(), before, after, pageSize), blocking))
        .thenApply(messages -> {
          ArrayNode array = JsonBody.MAPPER.createArrayNode();
          for (MessageHistory.StoredMessage m : messages) {
            array.add(messageJson(m.id(), m.channelId(), m.authorId(), m.ciphertext(),
                m.createdAtMillis()));
          }
          return response(200, array);
        });
  }

  /**
   * Reads a page once the read model holds the channel's last acknowledged post, so a client
   * reads its own writes; waits at most {@code readYourWritesWait} for the projection.
   */
  private List<MessageHistory.StoredMessage> page(
      String channelId, long lastPosted, OptionalLong before, OptionalLong after, int limit) {
    try {
      long deadline = System.nanoTime() + readYourWritesWait.toNanos();
      while (lastPosted > 0 && history.latestId(channelId) < lastPosted
          && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      return history.page(channelId, before, after, limit);
    } catch (SQLException e) {
      throw new CompletionException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CompletionException(e);
    }
  }

  private CompletionStage<String> guildOf(String channelId) {
    String cached = channelGuilds.get(channelId);
    if (cached != null) {
      return CompletableFuture.completedFuture(cached);
    }
    return sharding.entityRefFor(TextChannel.ENTITY_KEY, channelId)
        .<TextChannel.Info>askWithStatus(TextChannel.GetInfo::new, askTimeout)
        .thenApply(info -> {
          if (channelGuilds.size() >= MAX_CHANNEL_CACHE) {
            channelGuilds.clear();
          }
          channelGuilds.put(channelId, info.guildId());
          return info.guildId();
        });
  }

  private CompletionStage<Guild.ChannelInfo> checkAccess(
      String guildId, String userId, String channelId, Permission permission) {
    return sharding.entityRefFor(Guild.ENTITY_KEY, guildId).askWithStatus(
        r -> new Guild.CheckChannelAccess(userId, channelId, permission, r), askTimeout);
  }

  private static OptionalLong cursor(Map<String, String> query, String name) {
    if (!query.containsKey(name)) {
      return OptionalLong.empty();
    }
    OptionalLong id = Snowflake.parse(query.get(name));
    if (id.isEmpty()) {
      throw ApiError.badRequest(name + " must be a message id (a positive decimal number)");
    }
    return id;
  }

  private static void requireId(String id, String what) {
    if (Snowflake.parse(id).isEmpty()) {
      throw new ApiError(404, "not_found", "unknown " + what + " '" + id + "'");
    }
  }

  // ---- JSON ----

  private static ObjectNode obj() {
    return JsonBody.MAPPER.createObjectNode();
  }

  private static ObjectNode guildJson(Guild.GuildView g) {
    ObjectNode o = obj().put("id", g.id()).put("name", g.name()).put("ownerId", g.ownerId());
    ArrayNode channels = o.putArray("channels");
    g.channels().forEach(c -> channels.add(channelJson(c)));
    ArrayNode members = o.putArray("memberIds");
    g.memberIds().forEach(members::add);
    return o;
  }

  private static ObjectNode channelJson(Guild.ChannelInfo c) {
    return obj().put("id", c.id()).put("guildId", c.guildId()).put("name", c.name())
        .put("type", c.type().wireName());
  }

  private static ObjectNode messageJson(
      long id, String channelId, String authorId, byte[] ciphertext, long createdAtMillis) {
    return obj().put("id", Long.toString(id)).put("channelId", channelId).put("authorId", authorId)
        .put("ciphertext", Base64.getEncoder().encodeToString(ciphertext))
        .put("createdAt", Instant.ofEpochMilli(createdAtMillis).toString());
  }

  private static ObjectNode error(String code, String message) {
    return obj().put("code", code).put("message", message);
  }

  static HttpResponse response(int status, com.fasterxml.jackson.databind.JsonNode json) {
    try {
      return HttpResponse.create().withStatus(status).withEntity(
          HttpEntities.create(ContentTypes.APPLICATION_JSON, JsonBody.MAPPER.writeValueAsBytes(json)));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private Route json(int status, com.fasterxml.jackson.databind.JsonNode json) {
    return complete(response(status, json));
  }

  // ---- plumbing ----

  private Route body(Function<JsonBody, CompletionStage<HttpResponse>> handler) {
    return entity(Unmarshaller.entityToByteArray(), bytes -> reply(
        CompletableFuture.completedFuture(bytes).thenCompose(b -> handler.apply(JsonBody.parse(b)))));
  }

  private Route reply(CompletionStage<HttpResponse> response) {
    return completeWithFuture(response.handle((ok, failure) -> failure == null ? ok : toResponse(failure)));
  }

  private static boolean isRejection(Throwable failure, Rejection.Code code) {
    Throwable t = unwrap(failure);
    return t instanceof StatusReply.ErrorMessage && Rejection.parse(t.getMessage()).code() == code;
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static HttpResponse toResponse(Throwable failure) {
    Throwable t = unwrap(failure);
    if (t instanceof ApiError e) {
      return response(e.status, error(e.code, e.getMessage()));
    }
    if (t instanceof StatusReply.ErrorMessage) {
      Rejection r = Rejection.parse(t.getMessage());
      int status = switch (r.code()) {
        case INVALID -> 400;
        case FORBIDDEN -> 403;
        case NOT_FOUND -> 404;
        case CONFLICT -> 409;
      };
      return response(status, error(r.code().wire, r.message()));
    }
    if (t instanceof TimeoutException) {
      return response(503, error("unavailable", "the server did not answer in time; try again"));
    }
    if (t instanceof EntityStreamSizeException) {
      return response(413, error("payload_too_large", "the request body is too large"));
    }
    log.error("Unexpected failure serving a request", t);
    return response(500, error("internal", "an internal error occurred; it has been logged"));
  }

  private ExceptionHandler exceptionHandler() {
    return ExceptionHandler.newBuilder()
        .match(Throwable.class, t -> complete(toResponse(t)))
        .build();
  }

  private RejectionHandler rejectionHandler() {
    return RejectionHandler.newBuilder()
        .handle(MalformedRequestContentRejection.class, r -> complete(
            r.getCause() instanceof EntityStreamSizeException
                ? response(413, error("payload_too_large", "the request body is too large"))
                : response(400, error("malformed_json", "the request body could not be read"))))
        .handleAll(MethodRejection.class, rs -> complete(response(405, error(
            "method_not_allowed", "this path does not accept that method; it accepts "
                + rs.stream().map(r -> r.supported().name()).distinct().toList()))))
        .handleNotFound(complete(response(404, error("not_found", "no such API path"))))
        .handle(org.apache.pekko.http.javadsl.server.Rejection.class, r -> complete(response(400,
            error("invalid", "the request was rejected: " + r))))
        .build();
  }
}
