package dev.cloister.node.metrics;

import kamon.Kamon;
import kamon.metric.Counter;
import kamon.metric.Gauge;
import kamon.metric.MeasurementUnit;
import kamon.metric.Metric;
import kamon.metric.Timer;

/**
 * Cloister's own metrics. Kamon names use dots; the Prometheus reporter turns them into
 * {@code cloister_...} with the unit appended ({@code _seconds}, {@code _bytes}) and
 * {@code _total} on counters. Every tag takes its values from a fixed, small set (route
 * templates, status codes, reasons, entity types, projection names): never an id.
 */
public final class CloisterMetrics {

  private CloisterMetrics() {}

  /** 1, tagged with whether Kamon's agent attached. */
  static final Metric.Gauge BUILD_INFO = Kamon.gauge("cloister.node.info",
      "1 per node process; instrumented=true when Kamon's agent attached");

  // ---- gateway ----

  /** Open WebSocket connections on this node. */
  public static final Gauge GATEWAY_CONNECTIONS = Kamon.gauge("cloister.gateway.connections",
      "open gateway WebSocket connections").withoutTags();

  /** Gateway sessions (identified, resumable) hosted on this node. */
  public static final Gauge GATEWAY_SESSIONS = Kamon.gauge("cloister.gateway.sessions",
      "gateway sessions hosted on this node").withoutTags();

  /** Bytes the sessions on this node keep for resume (a payload shared by N sessions counts N times). */
  public static final Gauge GATEWAY_REPLAY_BYTES = Kamon.gauge("cloister.gateway.replay",
      "bytes of dispatches kept for resume by this node's sessions",
      MeasurementUnit.information().bytes()).withoutTags();

  /** Bytes queued for clients on this node's connections, not yet taken by the socket. */
  public static final Gauge GATEWAY_OUTBOUND_BYTES = Kamon.gauge("cloister.gateway.outbound",
      "bytes of frames waiting to be written to this node's gateway connections",
      MeasurementUnit.information().bytes()).withoutTags();

  /** Connections closed (4012) because their client read too slowly. */
  public static final Counter GATEWAY_SLOW_CLOSES = Kamon.counter("cloister.gateway.slow.closes",
      "gateway connections closed because the client read too slowly (4012)").withoutTags();

  /** From a message's acceptance (its createdAt) to its hand-off to the local sessions. */
  public static final Timer DISPATCH_DELAY = Kamon.timer("cloister.gateway.dispatch.delay",
      "post accepted to MESSAGE_CREATE handed to this node's sessions").withoutTags();

  /** Sessions one MESSAGE_CREATE went to on this node. */
  public static final kamon.metric.Histogram DISPATCH_RECIPIENTS = Kamon.histogram(
      "cloister.gateway.dispatch.recipients",
      "sessions on this node that one MESSAGE_CREATE was handed to").withoutTags();

  // ---- chat ----

  /** Messages this node accepted (201). */
  public static final Counter MESSAGES_POSTED = Kamon.counter("cloister.messages.posted",
      "messages accepted by this node").withoutTags();

  /** Size of each accepted message's MLS ciphertext. */
  public static final kamon.metric.Histogram MESSAGE_SIZE = Kamon.histogram(
      "cloister.message.ciphertext", "ciphertext size of accepted messages",
      MeasurementUnit.information().bytes()).withoutTags();

  // ---- HTTP ----

  /** REST and gateway-upgrade requests by route template, method and status. */
  public static final Metric.Timer HTTP_REQUESTS = Kamon.timer("cloister.http.server.requests",
      "HTTP requests by route template, method and status");

  /** Requests and connections refused by a rate limit, by limit. */
  public static final Metric.Counter RATE_LIMIT_REFUSALS = Kamon.counter(
      "cloister.rate.limit.refusals", "refusals by rate limit (rest, gateway_connect, gateway_frames)");

  // ---- MLS ----

  /** Commits submitted to the delivery service, by outcome and reason. */
  public static final Metric.Counter MLS_COMMITS = Kamon.counter("cloister.mls.commits",
      "MLS commits by outcome (accepted, rejected) and reason");

  // ---- persistence and projections ----

  /** One journal batch write (a transaction of events of several entities). */
  public static final Timer JOURNAL_WRITE = Kamon.timer("cloister.journal.write",
      "time to write one batch of events to the journal").withoutTags();

  /** Events written to the journal. */
  public static final Counter JOURNAL_EVENTS = Kamon.counter("cloister.journal.events.written",
      "events written to the journal").withoutTags();

  /** Failed journal writes (the entity stops and restarts). */
  public static final Counter JOURNAL_WRITE_FAILURES = Kamon.counter(
      "cloister.journal.write.failures", "journal batch writes that failed").withoutTags();

  /** Replay of one entity's events at recovery, by entity type. */
  public static final Metric.Timer ENTITY_RECOVERY = Kamon.timer("cloister.entity.recovery",
      "time to replay one entity's events from the journal at recovery");

  /** How far behind the journal each projection is, by projection name (worst of its tags). */
  public static final Metric.Gauge PROJECTION_LAG = Kamon.gauge("cloister.projection.lag",
      "age of the oldest event a projection has not processed yet",
      MeasurementUnit.time().seconds());

  /** Events each projection has still to process, by projection name (all its tags). */
  public static final Metric.Gauge PROJECTION_BACKLOG = Kamon.gauge("cloister.projection.backlog",
      "tagged events a projection has not processed yet");

  // ---- database ----

  /** 1 while the node's database takes writes. */
  public static final Gauge DATABASE_UP = Kamon.gauge("cloister.database.up",
      "1 while the database takes writes, else 0").withoutTags();

  public static final Gauge DATABASE_SIZE = Kamon.gauge("cloister.database.size",
      "size of the node's database", MeasurementUnit.information().bytes()).withoutTags();

  public static final Gauge DATABASE_CONNECTIONS = Kamon.gauge("cloister.database.connections",
      "server connections open to the node's database").withoutTags();

  public static final Counter DATABASE_COMMITS = Kamon.counter("cloister.database.commits",
      "transactions committed in the node's database").withoutTags();

  public static final Counter DATABASE_ROLLBACKS = Kamon.counter("cloister.database.rollbacks",
      "transactions rolled back in the node's database").withoutTags();

  // ---- event stream ----

  /** Events published to Kafka, by topic. */
  public static final Metric.Counter EVENTS_PUBLISHED = Kamon.counter(
      "cloister.events.published", "events published to the Kafka event stream, by topic");

  /** Publishing batches that failed (the projection retries them). */
  public static final Counter EVENTS_PUBLISH_FAILURES = Kamon.counter(
      "cloister.events.publish.failures", "event stream batches that failed to publish")
      .withoutTags();

  // ---- voice ----

  /** voice_state_update joins by outcome: joined, or the refusal's code. */
  public static final Metric.Counter VOICE_JOINS = Kamon.counter("cloister.voice.joins",
      "voice channel joins over the gateway, by outcome (joined or the refusal's code)");

  /** Endpoints (participants with media) on the node's own SFU. */
  public static final Gauge SFU_ENDPOINTS = Kamon.gauge("cloister.sfu.endpoints",
      "endpoints on the node's own SFU").withoutTags();

  /** Calls (conferences) on the node's own SFU. */
  public static final Gauge SFU_CONFERENCES = Kamon.gauge("cloister.sfu.conferences",
      "conferences (calls) on the node's own SFU").withoutTags();

  /** The node's own SFU's datagrams, by what happened to them (forwarded, dropped_*). */
  public static final Metric.Counter SFU_DATAGRAMS = Kamon.counter("cloister.sfu.datagrams",
      "datagrams of the node's own SFU: in, forwarded, or dropped and why");

  /** Interarrival jitter of each bound endpoint's RTP as the SFU measures it (RFC 3550 A.8). */
  public static final kamon.metric.Histogram SFU_ENDPOINT_JITTER = Kamon.histogram(
      "cloister.sfu.endpoint.jitter", "jitter of each endpoint's inbound RTP, sampled",
      MeasurementUnit.time().milliseconds()).withoutTags();

  /** Share of each bound endpoint's RTP lost on its way to the SFU, in percent. */
  public static final kamon.metric.Histogram SFU_ENDPOINT_LOSS = Kamon.histogram(
      "cloister.sfu.endpoint.loss.percent", "inbound RTP lost per endpoint, sampled")
      .withoutTags();
}
