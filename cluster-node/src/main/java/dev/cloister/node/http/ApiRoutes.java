package dev.cloister.node.http;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import dev.cloister.guild.Rejection;
import dev.cloister.guild.user.Account;
import dev.cloister.guild.user.User;
import dev.cloister.node.auth.SessionTokens;
import dev.cloister.node.auth.SrpLogins;
import java.math.BigInteger;
import java.util.HexFormat;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;
import dev.cloister.node.gateway.GatewayRoute;
import dev.cloister.node.limits.ClientAddress;
import dev.cloister.node.limits.TokenBuckets;
import dev.cloister.node.metrics.CloisterMetrics;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.RemoteAddress;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * The REST API under {@code /api/v1}: health, the SRP login, then every authenticated route
 * (guilds in {@link GuildRoutes}, channels and messages in {@link ChannelRoutes}).
 */
public final class ApiRoutes extends JsonRoutes {

  private final ApiContext ctx;
  private final SessionTokens tokens;
  private final SrpLogins logins;
  private final BooleanSupplier ready;
  private final BooleanSupplier databaseUp;
  private final GuildRoutes guilds;
  private final ChannelRoutes channels;
  private final DeviceRoutes devices;
  private final GroupRoutes groups;
  private final VoiceRoutes voice;
  private final TokenBuckets restPerIp;
  private final TokenBuckets connectsPerIp;
  private final GatewayRoute gateway;

  public ApiRoutes(ApiContext ctx, SessionTokens tokens, SrpLogins logins, BooleanSupplier ready,
      BooleanSupplier databaseUp, TokenBuckets restPerIp, TokenBuckets connectsPerIp, GatewayRoute gateway,
      org.apache.pekko.actor.typed.ActorSystem<?> system, byte[] deliveryServiceKey) {
    this.ctx = ctx;
    this.restPerIp = restPerIp;
    this.connectsPerIp = connectsPerIp;
    this.gateway = gateway;
    this.tokens = tokens;
    this.logins = logins;
    this.ready = ready;
    this.databaseUp = databaseUp;
    this.guilds = new GuildRoutes(ctx);
    this.channels = new ChannelRoutes(ctx);
    this.devices = new DeviceRoutes(ctx);
    this.groups = new GroupRoutes(ctx, system, deliveryServiceKey);
    this.voice = new VoiceRoutes(ctx);
  }

  public Route route() {
    return handleExceptions(exceptionHandler(), () -> handleRejections(rejectionHandler(), () ->
        concat(
            path("health", () -> get(this::health)),
            path("gateway", () -> get(() -> limited(connectsPerIp, "gateway_connect",
                "too many gateway connections from your address",
                () -> extractWebSocketUpgrade(upgrade -> complete(gateway.accept(upgrade)))))),
            pathPrefix(segment("api").slash("v1"), () -> limited(restPerIp, "rest",
                "too many requests from your address", () -> databaseUp(() -> concat(
                // Sealed, so that a wrong method or path under /auth is answered here rather
                // than falling through to the token check.
                pathPrefix("auth", () -> handleRejections(rejectionHandler(), () -> concat(
                    path("register", () -> post(() -> body(this::register))),
                    path(segment("login").slash("start"), () -> post(() -> clientKey(client ->
                        body(b -> loginStart(client, b))))),
                    path(segment("login").slash("finish"),
                        () -> post(() -> body(this::loginFinish)))))),
                authenticated(me -> concat(guilds.route(me), voice.route(me), channels.route(me),
                    devices.route(me), groups.route(me))))))))));
  }

  private Route health() {
    if (!ready.getAsBoolean()) {
      return json(503, error("starting", "the node is starting or stopping; try again shortly"));
    }
    if (!databaseUp.getAsBoolean()) {
      return complete(toResponse(DATABASE_DOWN));
    }
    return json(200, obj().put("status", "ok"));
  }

  private static final ApiError DATABASE_DOWN = ApiError.unavailable(
      "the node's database is unreachable; it is retrying, try again shortly", 5);

  /** While the database is known to be down, answers at once rather than after every timeout. */
  private Route databaseUp(Supplier<Route> inner) {
    return databaseUp.getAsBoolean() ? inner.get() : complete(toResponse(DATABASE_DOWN));
  }

  /**
   * Applies a per-IP limit (by the TCP peer address): over it, a 429 with {@code Retry-After} in
   * whole seconds.
   */
  private Route limited(TokenBuckets limit, String name, String message, Supplier<Route> inner) {
    return optionalAttribute(AttributeKeys.remoteAddress, remote -> {
      String ip = remote.flatMap(RemoteAddress::getAddress).map(ClientAddress::limitKey)
          .orElse("unknown");
      long waitMillis = limit.take(ip);
      if (waitMillis == 0) {
        return inner.get();
      }
      CloisterMetrics.RATE_LIMIT_REFUSALS.withTag("limit", name).increment();
      long seconds = Math.max(1, (waitMillis + 999) / 1000);
      return complete(toResponse(ApiError.tooManyRequests(message + "; retry in " + seconds + " s"))
          .addHeader(RetryAfter.create(seconds)));
    });
  }

  /** The client's rate-limit key (its address; an IPv6 client's /64). */
  private Route clientKey(Function<String, Route> inner) {
    return optionalAttribute(AttributeKeys.remoteAddress, remote -> inner.apply(
        remote.flatMap(RemoteAddress::getAddress).map(ClientAddress::limitKey).orElse("unknown")));
  }

  // ---- auth ----

  private CompletionStage<HttpResponse> register(JsonBody body) {
    String username = body.string("username");
    byte[] salt = body.hex("salt", Account.MAX_SALT_BYTES);
    byte[] verifier = body.hex("verifier", Account.MAX_VERIFIER_BYTES);
    checkUsername(username);
    if (!SrpLogins.isValidVerifier(new BigInteger(1, verifier))) {
      throw ApiError.badRequest("verifier must be g^x mod N, within 1..N-1 of the RFC 5054 "
          + "2048-bit group");
    }
    String userId = ctx.newId();
    return ctx.sharding().entityRefFor(Account.ENTITY_KEY, username)
        .<Account.Credentials>askWithStatus(
            r -> new Account.Register(userId, username, salt, verifier, r), ctx.askTimeout())
        .thenCompose(creds -> ctx.<User.Profile>user(creds.userId(),
            r -> new User.Create(creds.username(), r)))
        .thenApply(profile -> response(201, obj().put("userId", profile.userId())));
  }

  private static void checkUsername(String username) {
    if (!Account.USERNAME.matcher(username).matches()) {
      throw ApiError.badRequest("username must be 2 to 32 lower-case letters, digits, '_' or '.'");
    }
  }

  private CompletionStage<HttpResponse> loginStart(String client, JsonBody body) {
    String username = body.string("username");
    BigInteger a = body.bigInteger("A", 512);
    checkUsername(username);
    try {
      logins.admit(client); // before any work: a refused login costs nothing
    } catch (SrpLogins.LoginThrottled e) {
      throw ApiError.tooManyRequests(e.getMessage(), e.retryAfterSeconds());
    } catch (SrpLogins.LoginsBusy e) {
      throw ApiError.unavailable(e.getMessage(), 1);
    }
    return ctx.sharding().entityRefFor(Account.ENTITY_KEY, username)
        .<Account.Credentials>askWithStatus(Account.GetCredentials::new, ctx.askTimeout())
        .handle((creds, failure) -> {
          if (failure != null && !isRejection(failure, Rejection.Code.NOT_FOUND)) {
            throw new CompletionException(failure);
          }
          return java.util.Optional.ofNullable(creds);
        })
        .thenCompose(creds -> creds.isEmpty()
            ? logins.start(client, username, a, null, null, null)
            : logins.start(client, username, a, creds.get().userId(), creds.get().salt(),
                new BigInteger(1, creds.get().verifier())))
        .handle((s, failure) -> {
          if (failure == null) {
            return response(200, obj().put("loginId", s.loginId())
                .put("salt", HexFormat.of().formatHex(s.salt()))
                .put("B", s.b().toString(16)));
          }
          Throwable f = JsonRoutes.unwrap(failure);
          if (f instanceof SrpLogins.LoginRefused e) {
            throw ApiError.badRequest(e.getMessage());
          } else if (f instanceof SrpLogins.LoginThrottled e) {
            throw ApiError.tooManyRequests(e.getMessage(), e.retryAfterSeconds());
          } else if (f instanceof SrpLogins.LoginsBusy e) {
            throw ApiError.unavailable(e.getMessage(), 1);
          }
          throw failure instanceof CompletionException c ? c : new CompletionException(failure);
        });
  }

  private CompletionStage<HttpResponse> loginFinish(JsonBody body) {
    String loginId = body.string("loginId");
    BigInteger m1 = body.bigInteger("M1", 64);
    // The login may have started on another node: its desk answers from wherever it lives.
    return logins.finish(loginId, m1).thenCompose(done -> {
      var finished = done.orElseThrow(() -> ApiError.unauthorized(
          "login failed: wrong username or password, or the login expired; start again"));
      SessionTokens.Issued token = tokens.issue(finished.userId());
      return ctx.<User.Profile>user(finished.userId(), User.GetProfile::new)
          .thenApply(profile -> response(200, obj()
              .put("token", token.token())
              .put("M2", finished.m2().toString(16))
              .put("userId", finished.userId())
              .put("expiresAt", token.expiresAt().toString())));
    });
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
}
