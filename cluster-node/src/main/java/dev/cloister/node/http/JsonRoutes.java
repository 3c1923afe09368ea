package dev.cloister.node.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cloister.guild.Rejection;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RetryAfter;
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
 * What every API route shares: reading JSON bodies, answering with JSON, and turning every
 * failure into {@code {code, message}} with a fitting status.
 */
public abstract class JsonRoutes extends AllDirectives {

  private static final Logger log = LoggerFactory.getLogger(JsonRoutes.class);

  public static ObjectNode obj() {
    return JsonBody.MAPPER.createObjectNode();
  }

  static ObjectNode error(String code, String message) {
    return obj().put("code", code).put("message", message);
  }

  static HttpResponse response(int status, JsonNode json) {
    try {
      return HttpResponse.create().withStatus(status).withEntity(HttpEntities.create(
          ContentTypes.APPLICATION_JSON, JsonBody.MAPPER.writeValueAsBytes(json)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static HttpResponse noContent() {
    return HttpResponse.create().withStatus(204);
  }

  Route json(int status, JsonNode json) {
    return complete(response(status, json));
  }

  /** Reads the body as a JSON object, then answers with what {@code handler} completes with. */
  Route body(Function<JsonBody, CompletionStage<HttpResponse>> handler) {
    return entity(Unmarshaller.entityToByteArray(), bytes -> reply(
        CompletableFuture.completedFuture(bytes).thenCompose(b -> handler.apply(JsonBody.parse(b)))));
  }

  /** For calls that take no body: reads and drops whatever was sent, then answers. */
  Route discardingBody(java.util.function.Supplier<CompletionStage<HttpResponse>> handler) {
    return entity(Unmarshaller.entityToByteArray(), ignored -> reply(handler));
  }

  Route reply(CompletionStage<HttpResponse> response) {
    return completeWithFuture(
        response.handle((ok, failure) -> failure == null ? ok : toResponse(failure)));
  }

  /** Runs {@code handler} so that a synchronous ApiError becomes an answer like an async one. */
  Route reply(java.util.function.Supplier<CompletionStage<HttpResponse>> handler) {
    return reply(CompletableFuture.completedFuture(null).thenCompose(x -> handler.get()));
  }

  public static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  static boolean isRejection(Throwable failure, Rejection.Code code) {
    Throwable t = unwrap(failure);
    return t instanceof StatusReply.ErrorMessage && Rejection.parse(t.getMessage()).code() == code;
  }

  static HttpResponse toResponse(Throwable failure) {
    ApiError e = ApiError.of(failure);
    if (e != null) {
      HttpResponse r = response(e.status, error(e.code, e.getMessage()));
      return e.retryAfterSeconds > 0
          ? r.addHeader(RetryAfter.create(e.retryAfterSeconds)) : r;
    }
    log.error("Unexpected failure serving a request", unwrap(failure));
    return response(500, error("internal", "an internal error occurred; it has been logged"));
  }

  ExceptionHandler exceptionHandler() {
    return ExceptionHandler.newBuilder().match(Throwable.class, t -> complete(toResponse(t))).build();
  }

  RejectionHandler rejectionHandler() {
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
