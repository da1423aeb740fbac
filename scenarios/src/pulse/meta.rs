//! Every Prisma Pulse check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::{CheckMeta, check};

check!(
    HEALTH,
    Pulse,
    "pulse/health/no-auth",
    Must,
    "GET /health answers without a key, with status and timestamp (and replicationStatus, if present, from its enum)",
    "seed 001, /health (security: []) and HealthStatus",
    [],
    ["health-needs-auth", "health-replication-unknown"],
    rules: ["pulse.health-replication-enum", "pulse.health-no-auth", "pulse.health-200", "pulse.health-required", "pulse.health-status-enum", "pulse.health-timestamp-format"]
);
check!(
    AUTH_REQUIRED,
    Pulse,
    "pulse/auth/key-required",
    Must,
    "Every route but /health refuses a missing or wrong key with 401",
    "seed 001, securitySchemes apiKeyAuth and the 401 responses",
    [],
    ["no-auth"],
    rules: ["pulse.auth-required", "pulse.auth-unauthorized-401", "pulse.error-body", "pulse.error-meta-object"]
);
check!(
    ERROR_SHAPE,
    Pulse,
    "pulse/errors/shape",
    Must,
    "Error bodies are {code, message, meta?} JSON",
    "seed 001, PulseError",
    [],
    ["error-shape-wrapped"],
    rules: ["pulse.error-body", "pulse.error-meta-object"]
);
check!(
    LIFECYCLE,
    Pulse,
    "pulse/streams/lifecycle",
    Must,
    "POST /streams answers 201 StreamInfo, 409 for an existing name and 400 for a bad body; GET /streams lists it",
    "seed 001, /streams post and get, StreamInfo",
    [Producer],
    ["duplicate-stream-created"],
    rules: ["pulse.create-stream-201", "pulse.create-stream-409", "pulse.create-stream-400", "pulse.streaminfo-required", "pulse.streaminfo-status-enum", "pulse.streaminfo-created-at", "pulse.list-streams-200", "pulse.list-streams-active"]
);
check!(
    DELETE,
    Pulse,
    "pulse/streams/delete",
    Must,
    "DELETE /streams/{name} answers 204 then 404, disconnects the active consumer, unlists the stream (consume: 404), and frees the name",
    "seed 001, /streams/{streamName} delete",
    [Producer],
    ["delete-keeps-consumer", "consume-unknown-opens"],
    rules: ["pulse.delete-removes-stream", "pulse.delete-stream-204", "pulse.delete-stream-404", "pulse.delete-disconnects", "pulse.delete-name-reusable"]
);
check!(
    RESUME,
    Pulse,
    "pulse/streams/resume",
    Must,
    "A named stream resumes from its saved cursor: acknowledged events never again, unacknowledged ones again, nothing lost; GET /streams shows the cursor as an event's ULID",
    "seed 001, consumeStreamEvents; PROTOCOLS.md, Pulse (acknowledgement by Last-Event-ID)",
    [Producer],
    ["ack-on-send", "cursor-shows-position"],
    rules: ["pulse.streaminfo-cursor", "pulse.stream-resumable", "pulse.consume-resume-saved-cursor", "pulse.resume-last-acknowledged", "pulse.consume-at-least-once", "pulse.consume-ordered"]
);
check!(
    CUTS,
    Pulse,
    "pulse/streams/at-least-once-across-cuts",
    Must,
    "Across connections cut at random frame and byte positions, a named stream resumed with Last-Event-ID loses nothing and keeps order",
    "seed 001, consumeStreamEvents: at-least-once, ordered",
    [Producer, FaultProxy],
    ["drop-on-reconnect"],
    rules: ["pulse.stream-resumable", "pulse.consume-at-least-once", "pulse.consume-ordered"]
);
check!(
    SINGLE_CONSUMER,
    Pulse,
    "pulse/streams/single-consumer",
    Should,
    "A second consumer of a named stream takes it over (200) and the first one's response ends, so acknowledgements cannot cross (our decision: the seed documents no status to refuse it)",
    "PROTOCOLS.md, Pulse: one consumer per named stream; README; seed 001, consumeStreamEvents (200, 401, 404, 500 only)",
    [Producer],
    ["allow-second-consumer"],
    rules: []
);
check!(
    SUBSCRIBE_LIVE,
    Pulse,
    "pulse/subscribe/live-only",
    Must,
    "A subscription delivers only what happens after it starts",
    "seed 001, createSubscription: transient, missed events are not recovered",
    [Producer],
    ["subscribe-replays"],
    rules: ["pulse.subscribe-200", "pulse.subscribe-not-recovered"]
);
check!(
    SUBSCRIBE_AT_MOST_ONCE,
    Pulse,
    "pulse/subscribe/at-most-once",
    Must,
    "A subscription never delivers an event twice",
    "seed 001, createSubscription: at-most-once delivery",
    [Producer],
    ["subscribe-duplicates"],
    rules: ["pulse.subscribe-at-most-once"]
);
check!(
    FILTERS,
    Pulse,
    "pulse/filter/per-action",
    Must,
    "Filters select by action and field values; an action a present filter does not name is not delivered",
    "seed 001, EventFilter; PROTOCOLS.md, Pulse filters",
    [Producer],
    ["filter-ignores-action"],
    rules: ["pulse.filter-event-types", "pulse.filter-create", "pulse.filter-update-after", "pulse.filter-delete", "pulse.stream-filter", "pulse.subscribe-filter"]
);
check!(
    EVENT_SHAPE,
    Pulse,
    "pulse/events/shape",
    Must,
    "Events carry created / after (+ before with full replica identity) / deleted (key only by default)",
    "seed 001, PulseCreateEvent, PulseUpdateEvent, PulseDeleteEvent",
    [Producer],
    ["update-without-before"],
    rules: ["pulse.event-required", "pulse.event-id-ulid", "pulse.event-action", "pulse.event-model-name", "pulse.create-event-created", "pulse.update-event-after", "pulse.update-event-before-full", "pulse.update-event-before-only-full", "pulse.delete-event-key-only", "pulse.delete-event-full", "pulse.subscribe-event-schema", "pulse.consume-event-schema"]
);
check!(
    ULID_ORDER,
    Pulse,
    "pulse/events/ulid-order",
    Should,
    "Event ids are ULIDs that increase strictly with delivery order, even within one millisecond (PROTOCOLS.md's monotonic ULIDs, not the seed's)",
    "PROTOCOLS.md, Pulse (id: monotonic); ULID spec, monotonicity. Seed 001 says ids are unique ULIDs and delivery is in order, but a ULID sorts only by its millisecond, so the seed does not make ids increase; no client compares them (@prisma/extension-pulse 1.2.2 only acks by id)",
    [Producer],
    ["ulid-not-monotonic"],
    rules: ["pulse.event-id-ulid"]
);
check!(
    UNIQUE_IDS,
    Pulse,
    "pulse/events/unique-ids",
    Must,
    "No two events share an id, even when many are published in one millisecond",
    "seed 001, PulseEvent.id (\"Unique ULID identifier for the event\") and getEvent (\"by its unique ULID identifier\")",
    [Producer],
    ["event-ids-collide"],
    rules: ["pulse.event-id-unique", "pulse.event-id-ulid"]
);
check!(
    LOOKUP,
    Pulse,
    "pulse/events/lookup",
    Must,
    "GET /events/{id} answers 200 with the event, and 404 for an unknown or malformed id (the seed documents no 400 for it)",
    "seed 001, getEvent (200, 401, 404, 500)",
    [Producer],
    ["lookup-malformed-400"],
    rules: ["pulse.get-event-200", "pulse.get-event-404", "pulse.get-event-id-pattern"]
);
check!(
    CONTENT_TYPE,
    Pulse,
    "pulse/wire/content-type",
    Must,
    "Stream and subscription answer 200 with Content-Type text/event-stream",
    "seed 001, consumeStreamEvents and createSubscription (text/event-stream)",
    [Producer],
    ["wrong-content-type"],
    rules: ["pulse.consume-sse", "pulse.subscribe-sse"]
);
check!(
    KEEPALIVE,
    Pulse,
    "pulse/wire/keep-alive",
    Should,
    "An idle subscription receives comment frames (PROTOCOLS.md: idle connections dropped in shipped bugs; the seed does not say)",
    "PROTOCOLS.md, bugs shipped: idle connections dropped for lack of keep-alive",
    [Producer, Idle],
    ["no-keepalive"],
    rules: []
);
check!(
    OPENAPI,
    Pulse,
    "pulse/openapi/responses",
    Must,
    "Every answer and event the run's Pulse checks record (this one drives every operation with good and bad requests) has a status the seed documents for its operation, its content type, and a body (each SSE event's data) matching its schema",
    "seed 001, the OpenAPI paths, responses and components/schemas",
    [Producer, Transcripts],
    ["unknown-model-404", "lookup-malformed-400", "resumed-as-text"],
    rules: [
        "pulse.json-content-type",
        "pulse.create-stream-statuses",
        "pulse.list-streams-statuses",
        "pulse.consume-statuses",
        "pulse.delete-stream-statuses",
        "pulse.subscribe-statuses",
        "pulse.get-event-statuses",
        "pulse.get-event-id-pattern",
        "pulse.health-200",
        "pulse.health-required",
        "pulse.health-status-enum",
        "pulse.health-timestamp-format",
        "pulse.health-replication-enum",
        "pulse.error-body",
        "pulse.error-meta-object",
        "pulse.create-stream-201",
        "pulse.stream-request-required",
        "pulse.subscription-request-required",
        "pulse.streaminfo-required",
        "pulse.streaminfo-status-enum",
        "pulse.streaminfo-created-at",
        "pulse.streaminfo-cursor",
        "pulse.list-streams-200",
        "pulse.consume-sse",
        "pulse.subscribe-sse",
        "pulse.consume-event-schema",
        "pulse.subscribe-event-schema",
        "pulse.event-required",
        "pulse.event-id-ulid",
        "pulse.event-action",
        "pulse.event-model-name",
        "pulse.create-event-created",
        "pulse.update-event-after",
        "pulse.get-event-200",
    ]
);

check!(
    OWN_MODEL,
    Pulse,
    "pulse/streams/own-model",
    Must,
    "A named stream and a subscription deliver only the events of the model they name, with two models changing at once",
    "seed 001, createStream and createSubscription: for a specific (database) model; PulseEvent.modelName",
    [Producer],
    ["stream-mixes-models"],
    rules: ["pulse.stream-for-model", "pulse.subscribe-for-model", "pulse.event-model-name"]
);
check!(
    REQUIRED_FIELDS,
    Pulse,
    "pulse/requests/required-fields",
    Must,
    "POST /streams without name or model and POST /subscribe without model answer 400 PulseError",
    "seed 001, StreamCreateRequest and SubscriptionRequest (required), BadRequest",
    [],
    ["subscribe-model-optional"],
    rules: ["pulse.stream-request-required", "pulse.subscription-request-required", "pulse.create-stream-400", "pulse.subscribe-400", "pulse.error-body"]
);
check!(
    UNKNOWN_STREAM,
    Pulse,
    "pulse/streams/unknown",
    Must,
    "Consuming or deleting a stream name that was never created answers 404 PulseError",
    "seed 001, consumeStreamEvents and deleteStream: 404 NotFound",
    [],
    ["consume-unknown-opens"],
    rules: ["pulse.consume-404", "pulse.delete-stream-404", "pulse.error-body"]
);
check!(
    LONG_LIVED,
    Pulse,
    "pulse/streams/long-lived",
    Must,
    "A consumed named stream stays open while idle after catching up, and delivers a later event on the same connection",
    "seed 001, consumeStreamEvents: opens a long-lived connection",
    [Producer],
    ["stream-ends-caught-up"],
    rules: ["pulse.consume-long-lived", "pulse.consume-200"]
);
check!(
    ENVIRONMENT,
    Pulse,
    "pulse/streams/environment",
    Must,
    "A named stream is its API key's environment's own: another environment's key neither lists it nor consumes nor deletes it (404), and its own still lists it",
    "seed 001, listStreams: all active named streams for the current environment; apiKeyAuth: generated for each environment; consumeStreamEvents and deleteStream: 404 NotFound",
    [Producer, Auth],
    ["streams-ignore-environment"],
    rules: ["pulse.list-streams-environment", "pulse.consume-404", "pulse.delete-stream-404"]
);

/// Every Pulse check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &HEALTH,
    &AUTH_REQUIRED,
    &ERROR_SHAPE,
    &LIFECYCLE,
    &DELETE,
    &RESUME,
    &CUTS,
    &SINGLE_CONSUMER,
    &SUBSCRIBE_LIVE,
    &SUBSCRIBE_AT_MOST_ONCE,
    &FILTERS,
    &EVENT_SHAPE,
    &ULID_ORDER,
    &UNIQUE_IDS,
    &LOOKUP,
    &CONTENT_TYPE,
    &KEEPALIVE,
    &OWN_MODEL,
    &REQUIRED_FIELDS,
    &UNKNOWN_STREAM,
    &LONG_LIVED,
    &ENVIRONMENT,
    &OPENAPI,
];
