//! Every Prisma Pulse check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::{CheckMeta, check};

check!(
    HEALTH,
    Pulse,
    "pulse/health/no-auth",
    Must,
    "GET /health answers without a key, with status and timestamp",
    "seed 001, /health (security: []) and HealthStatus",
    [],
    ["health-needs-auth"]
);
check!(
    AUTH_REQUIRED,
    Pulse,
    "pulse/auth/key-required",
    Must,
    "Every route but /health refuses a missing or wrong key with 401",
    "seed 001, securitySchemes apiKeyAuth and the 401 responses",
    [],
    ["no-auth"]
);
check!(
    ERROR_SHAPE,
    Pulse,
    "pulse/errors/shape",
    Must,
    "Error bodies are {code, message, meta?} JSON",
    "seed 001, PulseError",
    [],
    ["error-shape-wrapped"]
);
check!(
    LIFECYCLE,
    Pulse,
    "pulse/streams/lifecycle",
    Must,
    "POST /streams answers 201 StreamInfo, 409 for an existing name and 400 for a bad body; GET /streams lists it",
    "seed 001, /streams post and get, StreamInfo",
    [Producer],
    ["duplicate-stream-created"]
);
check!(
    DELETE,
    Pulse,
    "pulse/streams/delete",
    Must,
    "DELETE /streams/{name} answers 204 then 404, disconnects the active consumer, and frees the name",
    "seed 001, /streams/{streamName} delete",
    [Producer],
    ["delete-keeps-consumer"]
);
check!(
    RESUME,
    Pulse,
    "pulse/streams/resume",
    Must,
    "A named stream resumes from its saved cursor: acknowledged events never again, unacknowledged ones again, nothing lost",
    "seed 001, consumeStreamEvents; PROTOCOLS.md, Pulse (acknowledgement by Last-Event-ID)",
    [Producer],
    ["ack-on-send"]
);
check!(
    CUTS,
    Pulse,
    "pulse/streams/at-least-once-across-cuts",
    Must,
    "Across connections cut at random frame and byte positions, a named stream resumed with Last-Event-ID loses nothing and keeps order",
    "seed 001, consumeStreamEvents: at-least-once, ordered",
    [Producer, FaultProxy],
    ["drop-on-reconnect"]
);
check!(
    SINGLE_CONSUMER,
    Pulse,
    "pulse/streams/single-consumer",
    Should,
    "A second concurrent consumer of a named stream is refused (409), so acknowledgements cannot cross",
    "PROTOCOLS.md, Pulse: one consumer per named stream; README",
    [Producer],
    ["allow-second-consumer"]
);
check!(
    SUBSCRIBE_LIVE,
    Pulse,
    "pulse/subscribe/live-only",
    Must,
    "A subscription delivers only what happens after it starts",
    "seed 001, createSubscription: transient, missed events are not recovered",
    [Producer],
    ["subscribe-replays"]
);
check!(
    SUBSCRIBE_AT_MOST_ONCE,
    Pulse,
    "pulse/subscribe/at-most-once",
    Must,
    "A subscription never delivers an event twice",
    "seed 001, createSubscription: at-most-once delivery",
    [Producer],
    ["subscribe-duplicates"]
);
check!(
    FILTERS,
    Pulse,
    "pulse/filter/per-action",
    Must,
    "Filters select by action and field values; an action a present filter does not name is not delivered",
    "seed 001, EventFilter; PROTOCOLS.md, Pulse filters",
    [Producer],
    ["filter-ignores-action"]
);
check!(
    EVENT_SHAPE,
    Pulse,
    "pulse/events/shape",
    Must,
    "Events carry created / after (+ before with full replica identity) / deleted (key only by default)",
    "seed 001, PulseCreateEvent, PulseUpdateEvent, PulseDeleteEvent",
    [Producer],
    ["update-without-before"]
);
check!(
    ULID_ORDER,
    Pulse,
    "pulse/events/ulid-order",
    Must,
    "Event ids are ULIDs that increase with log order",
    "seed 001, PulseEvent.id pattern; PROTOCOLS.md (monotonic)",
    [Producer],
    ["ulid-not-monotonic"]
);
check!(
    LOOKUP,
    Pulse,
    "pulse/events/lookup",
    Must,
    "GET /events/{id} answers 200 with the event, 404 for an unknown id, 400 for a malformed one",
    "seed 001, getEvent",
    [Producer],
    ["lookup-malformed-404"]
);
check!(
    CONTENT_TYPE,
    Pulse,
    "pulse/wire/content-type",
    Must,
    "Stream and subscription answer 200 with Content-Type text/event-stream",
    "seed 001, consumeStreamEvents and createSubscription (text/event-stream)",
    [Producer],
    ["wrong-content-type"]
);
check!(
    KEEPALIVE,
    Pulse,
    "pulse/wire/keep-alive",
    Should,
    "An idle stream receives comment frames",
    "PROTOCOLS.md, bugs shipped: idle connections dropped for lack of keep-alive",
    [Producer],
    ["no-keepalive"]
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
    &LOOKUP,
    &CONTENT_TYPE,
    &KEEPALIVE,
];
