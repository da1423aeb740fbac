//! Every Actyx check: id, level, title, spec reference, needs, and the defects that must fail it.
//!
//! Checks that publish need no `Producer`: the Events API has its own write
//! path (`events/publish`), so they run against a real node. The two that
//! need events "from another node" (equal lamports on several streams, an
//! event sorting before one already delivered) need `Producer`: the
//! reference server's control API, or a `--producer` that carries out the
//! `actyx` `replicate` action; elsewhere they skip naming that action (a real
//! node has no such write method either).

use crate::check::{CheckMeta, check};

check!(
    AUTH_REQUIRED,
    Actyx,
    "actyx/auth/required",
    Must,
    "Events routes refuse a missing Authorization with 401 and a malformed token with a 4xx, and serve the token of POST /api/v2/auth as a Bearer header; node/id needs no auth",
    "seed 003, Prerequisites (the token in the Authorization header with every request); RFC 9110 section 15.5.2 (401). node/id without auth: ax_sdk 0.2.0 (Ax::new) and @actyx/sdk 0.5.11 (v2getNodeId) fetch it without a token and fail to connect otherwise. The node's codes are actyx/errors/node-codes",
    [],
    ["actyx-auth-optional"],
    rules: ["actyx.auth-required", "actyx.auth-token-from-auth-api", "actyx.auth-bearer-header"]
);
check!(
    TOKEN_FLOW,
    Actyx,
    "actyx/auth/token-flow",
    Should,
    "The token of POST /api/v2/auth also works as ?access_token= (the real Actyx node, ax_core; the seed names only the Authorization header)",
    "seed 003, Prerequisites (header only); the real Actyx node (ax_core) also reads ?access_token=, PROTOCOLS.md, Actyx",
    [],
    ["access-token-ignored"],
    rules: ["actyx.auth-token-from-auth-api", "actyx.auth-bearer-header"]
);
check!(
    NEGOTIATION,
    Actyx,
    "actyx/wire/negotiation",
    Must,
    "A wrong Accept gets 406, a wrong Content-Type 415; offsets are application/json, feeds application/x-ndjson",
    "seed 003, the HTTP headers of each request (Accept and Content-Type: must be) and response; RFC 9110 sections 15.5.7 (406) and 15.5.16 (415). The node's codes are actyx/errors/node-codes",
    [],
    ["accept-ignored", "content-type-ignored"],
    rules: ["actyx.offsets-content-type", "actyx.feed-content-type"]
);
check!(
    NODE_CODES,
    Actyx,
    "actyx/errors/node-codes",
    Should,
    "Refusals carry the node's {code, message} bodies: 401 ERR_MISSING_AUTH_HEADER, 400 ERR_TOKEN_INVALID, 406 ERR_NOT_ACCEPTABLE, 415 ERR_UNSUPPORTED_MEDIA_TYPE (the Actyx node's codes, not the seed's)",
    "the real Actyx node (ax_core; reports/actyx-node/); PROTOCOLS.md, Actyx (errors). Seed 003 gives no status or body for these refusals, and neither ax_sdk 0.2.0 nor @actyx/sdk 0.5.11 reads these codes",
    [],
    ["token-invalid-401"],
    rules: []
);
check!(
    PUBLISH_RESPONSE,
    Actyx,
    "actyx/publish/response",
    Must,
    "Publish answers one {lamport, stream, offset, timestamp} per event, timestamps in microseconds, offsets and lamports increasing",
    "seed 003, Publish events (Response)",
    [],
    ["timestamp-millis"],
    rules: ["actyx.base-path", "actyx.publish-endpoint", "actyx.publish-response", "actyx.timestamp-micros", "actyx.publish-lamport-offset-grow"]
);
check!(
    OFFSETS_PRESENT,
    Actyx,
    "actyx/offsets/present",
    Must,
    "GET events/offsets: present covers every published offset of its stream; toReplicate counts are positive",
    "seed 003, Get information about known offsets",
    [],
    ["offsets-present-lags"],
    rules: ["actyx.offsets-endpoint", "actyx.offsets-present", "actyx.offsets-to-replicate-positive"]
);
check!(
    QUERY_BOUNDS,
    Actyx,
    "actyx/query/bounds",
    Must,
    "Query returns exactly the events with lowerBound < offset <= upperBound and ends with an offsets line",
    "seed 003, Query event streams (lowerBound exclusive, upperBound inclusive)",
    [],
    ["query-upper-exclusive"],
    rules: ["actyx.query-endpoint", "actyx.query-lower-bound-exclusive", "actyx.query-lower-bound-optional", "actyx.query-upper-bound-inclusive", "actyx.query-no-upper-bound", "actyx.offsets-line"]
);
check!(
    QUERY_ORDERS,
    Actyx,
    "actyx/query/orders",
    Must,
    "Query orders asc, desc and stream-asc sort by lamport then stream id (stream-asc per stream) and return the same events",
    "seed 003, Query event streams (order)",
    [],
    ["desc-unsorted"],
    rules: ["actyx.query-order-asc-desc", "actyx.query-order-stream-asc"]
);
check!(
    TIE_BREAK,
    Actyx,
    "actyx/query/tie-break",
    Must,
    "Events of several streams with equal lamports sort by stream id in asc and desc, and an upperBound naming one stream returns that stream's events only",
    "seed 003, Query event streams: stream ID as secondary sort criterion; upperBound (only streams that are specified). Needs the producer action replicate",
    [Producer],
    ["tie-break-reversed", "upper-bound-all-streams"],
    rules: ["actyx.query-tie-break", "actyx.query-upper-bound-named-streams"]
);
check!(
    TAG_EXPRESSIONS,
    Actyx,
    "actyx/query/tag-expressions",
    Must,
    "FROM with tags, &, |, parentheses and allEvents selects exactly what a brute-force filter of the published events selects",
    "seed 003, Query event streams (query); PROTOCOLS.md, Actyx (AQL: & binds tighter than |)",
    [],
    ["tag-precedence-flat"],
    rules: ["actyx.aql-filter"]
);
check!(
    SUBSCRIBE_SEAM,
    Actyx,
    "actyx/subscribe/catch-up-then-live",
    Must,
    "subscribe sends the past, then an offsets line, then live events, with nothing lost or repeated at the switch",
    "seed 003, Subscribe to event streams; PROTOCOLS.md, Actyx (offsets marks the end of catch-up)",
    [],
    ["subscribe-live-gap"],
    rules: ["actyx.subscribe-past-then-live", "actyx.subscribe-lower-bound-default", "actyx.offsets-line"]
);
check!(
    CAUGHT_UP,
    Actyx,
    "actyx/monotonic/caught-up",
    Must,
    "subscribe_monotonic events carry a boolean caughtUp: false while known events remain, true on a live event once nothing else is known",
    "seed 003, Subscribe to event streams monotonically (caughtUp: known events delivery exhausted?)",
    [],
    ["caught-up-never-true", "caught-up-always-true"],
    rules: ["actyx.monotonic-caught-up"]
);
check!(
    TIME_TRAVEL,
    Actyx,
    "actyx/monotonic/time-travel",
    Must,
    "When an event sorting before one already delivered becomes known, subscribe_monotonic sends timeTravel {newStart} and closes",
    "seed 003, Subscribe to event streams monotonically (timeTravel). Needs the producer action replicate",
    [Producer],
    ["no-time-travel", "time-travel-stays-open"],
    rules: ["actyx.monotonic-time-travel", "actyx.monotonic-time-travel-line"]
);
check!(
    SESSION_RESUME,
    Actyx,
    "actyx/monotonic/session-resume",
    Must,
    "subscribe_monotonic resumed with a lowerBound from what was delivered continues without loss or duplicate",
    "seed 003, Subscribe to event streams monotonically (session, lowerBound)",
    [],
    ["monotonic-resume-skips"],
    rules: ["actyx.monotonic-lower-bound-exclusive"]
);
check!(
    KEEPALIVE,
    Actyx,
    "actyx/wire/keep-alive",
    Should,
    "An idle subscribe feed stays open and receives blank lines (the real Actyx node: an empty line after 15 s of silence)",
    "seed 003, Subscribe (live events continue); the blank line: the real Actyx node, PROTOCOLS.md, Actyx",
    [Idle],
    ["actyx-no-keepalive"],
    rules: ["actyx.subscribe-past-then-live"]
);
check!(
    SUBSCRIBE_LOWER_BOUND,
    Actyx,
    "actyx/subscribe/lower-bound",
    Must,
    "subscribe with a lowerBound (how a subscriber resumes) sends exactly the events after it, then the offsets line, then live events",
    "seed 003, Subscribe to event streams (lowerBound: exclusive)",
    [],
    ["subscribe-lower-inclusive"],
    rules: ["actyx.subscribe-lower-bound-exclusive", "actyx.subscribe-past-then-live"]
);
check!(
    EVENT_FIELDS,
    Actyx,
    "actyx/feeds/event-fields",
    Must,
    "query, subscribe and subscribe_monotonic deliver each event with the lamport, stream, offset, timestamp, tags and payload it was published with and the publishing app's appId, as application/x-ndjson",
    "seed 003, Response type event (query, subscribe, subscribe_monotonic); Prerequisites (a token is associated with the requesting app)",
    [],
    ["actyx-app-id-wrong"],
    rules: [
        "actyx.event-line",
        "actyx.event-as-published",
        "actyx.auth-token-app",
        "actyx.timestamp-micros",
        "actyx.feed-content-type",
        "actyx.subscribe-lower-bound-default"
    ]
);
check!(
    MONOTONIC_LOWER_OPTIONAL,
    Actyx,
    "actyx/monotonic/lower-bound-optional",
    Must,
    "subscribe_monotonic without lowerBound starts at the beginning, also with a session id used before for another query",
    "seed 003, Subscribe to event streams monotonically (lowerBound optional; a changed query makes a new session). The real node refuses a request without lowerBound",
    [],
    ["monotonic-lower-bound-required"],
    rules: [
        "actyx.monotonic-lower-bound-optional",
        "actyx.monotonic-new-session-on-query-change"
    ]
);
check!(
    REQUIRED_FIELDS,
    Actyx,
    "actyx/wire/required-fields",
    Must,
    "A query without query or order, and subscribe_monotonic without session, are refused with a 4xx {code, message}",
    "seed 003, Query event streams (Required: query, order); Subscribe monotonically (Required: session)",
    [],
    ["query-order-optional"],
    rules: ["actyx.query-required-fields", "actyx.monotonic-session-required"]
);
check!(
    OFFSETS_CACHE_CONTROL,
    Actyx,
    "actyx/offsets/cache-control",
    Must,
    "GET events/offsets answers Cache-Control: no-store",
    "seed 003, Get information about known offsets (Response: Cache-Control is no-store); the real node says no-cache",
    [],
    ["offsets-no-cache"],
    rules: ["actyx.offsets-cache-control"]
);
check!(
    DEFAULT_HEADERS,
    Actyx,
    "actyx/wire/default-headers",
    Must,
    "Requests without Accept or Content-Type get the defaults: offsets application/json, publish read as JSON, feeds application/x-ndjson",
    "seed 003, the HTTP headers of each request ((optional) Accept / Content-Type, default: ...)",
    [],
    ["content-type-required"],
    rules: [
        "actyx.offsets-accept-default",
        "actyx.content-type-default",
        "actyx.feed-accept-default"
    ]
);
check!(
    JSON_ANSWERS,
    Actyx,
    "actyx/publish/json-answers",
    Must,
    "publish and offsets answer application/json, compact (not pretty-printed); a query answers chunked, in single compact lines",
    "seed 003, Events API (the usual compact JSON, not pretty-printed); Publish events and offsets (Response: Content-Type is application/json); Query (Response: Transfer-Encoding is chunked)",
    [],
    ["actyx-pretty-json", "query-sized-body"],
    rules: [
        "actyx.compact-json",
        "actyx.publish-content-type",
        "actyx.offsets-content-type",
        "actyx.feed-chunked"
    ]
);
check!(
    TO_REPLICATE,
    Actyx,
    "actyx/offsets/to-replicate",
    Must,
    "toReplicate counts a stream's announced events until they arrive, then omits it; the local stream never appears",
    "seed 003, Get information about known offsets (toReplicate; fully replicated streams are omitted). Needs the producer action replicate with announce",
    [Producer],
    ["to-replicate-keeps-replicated"],
    rules: [
        "actyx.offsets-to-replicate-omits-replicated",
        "actyx.offsets-to-replicate-positive"
    ]
);

/// Every Actyx check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &AUTH_REQUIRED,
    &TOKEN_FLOW,
    &NEGOTIATION,
    &NODE_CODES,
    &PUBLISH_RESPONSE,
    &JSON_ANSWERS,
    &OFFSETS_PRESENT,
    &TO_REPLICATE,
    &QUERY_BOUNDS,
    &QUERY_ORDERS,
    &TIE_BREAK,
    &TAG_EXPRESSIONS,
    &SUBSCRIBE_SEAM,
    &SUBSCRIBE_LOWER_BOUND,
    &EVENT_FIELDS,
    &CAUGHT_UP,
    &TIME_TRAVEL,
    &SESSION_RESUME,
    &MONOTONIC_LOWER_OPTIONAL,
    &REQUIRED_FIELDS,
    &OFFSETS_CACHE_CONTROL,
    &DEFAULT_HEADERS,
    &KEEPALIVE,
];
