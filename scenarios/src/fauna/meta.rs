//! Every Fauna check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::{CheckMeta, check};

check!(
    LINE_FORMAT,
    Fauna,
    "fauna/wire/line-format",
    Must,
    "POST /stream/1 answers a JSON content type and one compact JSON object per line, each ended by \\r\\n, no blank lines",
    "seed 000, /stream/1; PROTOCOLS.md, Fauna (the drivers JSON-parse every line)",
    [Producer],
    ["fauna-lf-lines"],
    rules: ["fauna.stream-post", "fauna.subscription-json", "fauna.event-json", "fauna.start-optional"]
);
check!(
    STATUS_FIRST,
    Fauna,
    "fauna/wire/status-first",
    Must,
    "The first event of a stream is status, with txn_ts (µs), cursor and stats, even with events to replay",
    "seed 000, StatusEvent; PROTOCOLS.md, Fauna (the first event is always status)",
    [Producer],
    ["fauna-no-initial-status", "fauna-txn-ts-millis"],
    rules: ["fauna.status-on-open", "fauna.status-type", "fauna.txn-ts-and-cursor", "fauna.field-types", "fauna.txn-ts-micros", "fauna.stats-fields", "fauna.start-optional", "fauna.token-from-fql"]
);
check!(
    STATUS_KEEPALIVE,
    Fauna,
    "fauna/wire/status-keepalive",
    Must,
    "An idle stream receives another status event after the first (within --patience; the real service sends one every 5 minutes)",
    "seed 000, StatusEvent (sent when the stream is opened or periodically to keep the connection alive)",
    [Idle],
    ["fauna-no-status-keepalive"],
    rules: ["fauna.status-periodic", "fauna.status-type"]
);
check!(
    EVENT_SHAPE,
    Fauna,
    "fauna/events/shape",
    Must,
    "add, update and remove events carry data, txn_ts (µs, that of the write), cursor and stats, stats with the seed's four integer fields; error events error {code, message}",
    "seed 000, AddEvent, RemoveEvent, UpdateEvent, StreamStats (read_ops, storage_bytes_read, compute_ops, processing_time_ms; the real service's extra rate_limits_hit is not required). Error events are not in the seed; their error {code, message} is what both drivers read: PyPI fauna 2.4.0 (FaunaError.parse_error_and_throw takes event[\"error\"][\"code\"] and [\"message\"], a KeyError without them) and npm fauna 2.5.0 (getServiceError reads failure.error.code, a TypeError without error). Their stats and missing cursor are fauna/errors/event-shape",
    [Producer],
    ["fauna-stats-incomplete"],
    rules: ["fauna.txn-ts-and-cursor", "fauna.field-types", "fauna.txn-ts-micros", "fauna.txn-ts-of-change", "fauna.stats-fields", "fauna.data-event-types", "fauna.add-on-enter", "fauna.update-on-change", "fauna.remove-on-leave", "fauna.push-live"]
);
check!(
    TXN_TS_ORDER,
    Fauna,
    "fauna/events/txn-ts-order",
    Must,
    "A data event's txn_ts is that of its write, and never decreases along a stream, replayed or live",
    "seed 000, txn_ts (transaction timestamp of the change); PROTOCOLS.md, common ground (log order)",
    [Producer],
    ["fauna-txn-ts-backwards"],
    rules: ["fauna.txn-ts-of-change", "fauna.push-live"]
);
check!(
    CURSOR_RESUME,
    Fauna,
    "fauna/resume/cursor",
    Must,
    "A stream opened with an event's cursor delivers every later event of the set, strictly after that one",
    "seed 000, StreamSubscriptionPayload.cursor; PROTOCOLS.md, Fauna (cursor resumes strictly after)",
    [Producer],
    ["fauna-cursor-inclusive"],
    rules: ["fauna.cursor-resume", "fauna.reconnect-no-gap"]
);
check!(
    STATUS_CURSOR_RESUME,
    Fauna,
    "fauna/resume/status-cursor",
    Must,
    "A stream reopened with the cursor of a status event (the newest cursor an idle consumer holds) delivers every later event, strictly after it",
    "seed 000, StatusEventPayload.cursor (used for reconnection), StreamSubscriptionPayload.cursor",
    [Producer],
    ["fauna-status-cursor-stale"],
    rules: ["fauna.status-cursor-resume", "fauna.cursor-resume", "fauna.reconnect-no-gap"]
);
check!(
    START_TS_REPLAY,
    Fauna,
    "fauna/resume/start-ts",
    Must,
    "A stream opened with start_ts replays exactly the events after that time",
    "seed 000, StreamSubscriptionPayload.start_ts (events that occurred after this timestamp)",
    [Producer],
    ["fauna-start-ts-inclusive"],
    rules: ["fauna.start-ts-replay", "fauna.start-ts-micros", "fauna.reconnect-no-gap"]
);
check!(
    START_TS_WITH_CURSOR,
    Fauna,
    "fauna/resume/start-ts-with-cursor",
    Must,
    "start_ts together with cursor is refused with a 4xx (Fauna's service: 400 invalid_request, noted when different)",
    "seed 000, start_ts and cursor are mutually exclusive (no status given); PROTOCOLS.md, Fauna (400 invalid_request)",
    [Producer],
    ["fauna-start-ts-with-cursor"],
    rules: ["fauna.start-ts-cursor-exclusive"]
);
check!(
    START_TOO_OLD,
    Fauna,
    "fauna/resume/start-too-old",
    Must,
    "A start before the event source's token or before the collection's history window is refused (a 4xx, or an error event), with no event replayed",
    "seed 000, start_ts (cannot exceed history_days; the seed names no code, and neither driver maps one: fauna/resume/start-too-old-code holds the service's)",
    [Producer],
    ["fauna-history-window-ignored"],
    rules: ["fauna.history-days"]
);
check!(
    START_TOO_OLD_CODE,
    Fauna,
    "fauna/resume/start-too-old-code",
    Should,
    "A start before the collection's history window is refused with invalid_stream_start_time, one before the token with it or invalid_request (Fauna's service, not the seed)",
    "PROTOCOLS.md, Fauna (invalid_stream_start_time); seed 000 names no error code, and neither PyPI fauna 2.4.0 nor npm fauna 2.5.0 maps this one to its own exception",
    [Producer],
    ["fauna-start-time-code-generic"],
    rules: []
);
check!(
    REPLAY_LIMIT,
    Fauna,
    "fauna/replay/volume-limit",
    Should,
    "Fauna's service (PROTOCOLS.md): a replay of more than 128 events ends with the error event stream_replay_volume_exceeded, after at most 128 events",
    "PROTOCOLS.md, Fauna (stream_replay_volume_exceeded, replay over 128 events); the seed sets no limit, so SHOULD",
    [Producer],
    ["fauna-replay-unlimited"],
    rules: ["fauna.start-optional"]
);
check!(
    SET_MEMBERSHIP,
    Fauna,
    "fauna/set/membership",
    Must,
    "A where-set stream sends add when a document starts matching, update while it changes inside, remove when it stops or is deleted, and nothing else",
    "seed 000, AddEvent, RemoveEvent, UpdateEvent; PROTOCOLS.md, Fauna (set semantics)",
    [Producer],
    ["fauna-leave-as-update"],
    rules: ["fauna.add-on-enter", "fauna.update-on-change", "fauna.remove-on-leave", "fauna.change-emits-event", "fauna.token-names-source", "fauna.data-event-types", "fauna.add-data", "fauna.update-data", "fauna.remove-data", "fauna.push-live"]
);
check!(
    DOCUMENT_SOURCE,
    Fauna,
    "fauna/source/single-document",
    Must,
    "A stream of a single-document event source (Set.single(C.byId(id))) delivers that document's updates and no other document's changes",
    "seed 000, info (subscribe to document or set changes), StreamSubscriptionPayload.token (identifies the document or set), UpdateEvent",
    [Producer],
    ["fauna-document-source-whole-collection"],
    rules: ["fauna.document-source", "fauna.token-names-source", "fauna.update-on-change", "fauna.update-data", "fauna.change-emits-event"]
);
check!(
    TOKEN_REFUSED,
    Fauna,
    "fauna/request/token",
    Must,
    "POST /stream/1 without a token, or with a token no FQL query made, is refused with a 4xx and opens no stream",
    "seed 000, StreamSubscriptionPayload (required: token; a token obtained from an FQL query)",
    [],
    ["fauna-token-error-500"],
    rules: ["fauna.token-required", "fauna.token-from-fql"]
);
check!(
    ERROR_ENDS_STREAM,
    Fauna,
    "fauna/errors/end-stream",
    Should,
    "After an error event the server ends the stream (Fauna's service, not the seed)",
    "PROTOCOLS.md, Fauna (error events, after which the stream ends). Seed 000 has no error event, and neither driver breaks on a stream that carries on: npm fauna 2.5.0 closes the stream itself on an error event, PyPI fauna 2.4.0 raises it",
    [Producer],
    ["fauna-error-keeps-stream"],
    rules: ["fauna.history-days"]
);
check!(
    ERROR_EVENT_SHAPE,
    Fauna,
    "fauna/errors/event-shape",
    Should,
    "An error event carries stats with the seed's four fields and no cursor (Fauna's service, not the seed)",
    "PROTOCOLS.md, Fauna (error events); the seed has no error event, and neither driver reads an error event's stats or cursor (PyPI fauna 2.4.0 raises before reading the cursor; npm fauna 2.5.0 throws on it)",
    [Producer],
    ["fauna-error-event-cursor"],
    rules: []
);
check!(
    UNAUTHORIZED,
    Fauna,
    "fauna/auth/unauthorized",
    Must,
    "A missing or wrong secret gets 401 with {\"error\": {\"code\": \"unauthorized\", \"message\"}} from /stream/1 and /query/1",
    "seed 000, securitySchemes bearerAuth (HTTP bearer: 401, RFC 6750 section 3.1). The body and its code are not in the seed; both drivers need them: PyPI fauna 2.4.0 (FaunaError.parse_error_and_throw: a KeyError without error.code or error.message, and AuthenticationError only for code unauthorized) and npm fauna 2.5.0 (getServiceError: AuthenticationError only for code unauthorized), so an application that catches AuthenticationError misses any other answer",
    [],
    ["fauna-unauthorized-403"],
    rules: ["fauna.bearer-auth"]
);

/// Every Fauna check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &LINE_FORMAT,
    &STATUS_FIRST,
    &STATUS_KEEPALIVE,
    &EVENT_SHAPE,
    &TXN_TS_ORDER,
    &CURSOR_RESUME,
    &STATUS_CURSOR_RESUME,
    &START_TS_REPLAY,
    &START_TS_WITH_CURSOR,
    &START_TOO_OLD,
    &START_TOO_OLD_CODE,
    &REPLAY_LIMIT,
    &SET_MEMBERSHIP,
    &DOCUMENT_SOURCE,
    &TOKEN_REFUSED,
    &ERROR_ENDS_STREAM,
    &ERROR_EVENT_SHAPE,
    &UNAUTHORIZED,
];
