//! Every Actyx check: id, level, title, spec reference, needs, and the defects that must fail it.
//!
//! Checks that publish need no `Producer`: the Events API has its own write
//! path (`events/publish`), so they run against a real node. The two that
//! need events "from another node" (equal lamports on several streams, an
//! event sorting before one already delivered) need the reference server's
//! control API, and say so with `Producer`, as the catalogue does for other
//! control-only writes.

use crate::check::{CheckMeta, check};

check!(
    AUTH_REQUIRED,
    Actyx,
    "actyx/auth/required",
    Must,
    "Events routes refuse a missing Authorization (401 ERR_MISSING_AUTH_HEADER) and a malformed token (400 ERR_TOKEN_INVALID); node/id needs no auth",
    "seed 003, Prerequisites; PROTOCOLS.md, Actyx (auth, errors)",
    [],
    ["actyx-auth-optional"]
);
check!(
    TOKEN_FLOW,
    Actyx,
    "actyx/auth/token-flow",
    Must,
    "POST /api/v2/auth answers {token}, which works as a Bearer header and as ?access_token=",
    "seed 003, Prerequisites; PROTOCOLS.md, Actyx (access_token)",
    [],
    ["access-token-ignored"]
);
check!(
    NEGOTIATION,
    Actyx,
    "actyx/wire/negotiation",
    Must,
    "A wrong Accept gets 406 ERR_NOT_ACCEPTABLE, a wrong Content-Type 415 ERR_UNSUPPORTED_MEDIA_TYPE, as {code, message}; feeds are application/x-ndjson",
    "seed 003, the HTTP headers of each request and response; PROTOCOLS.md, Actyx (errors)",
    [],
    ["accept-ignored", "content-type-ignored"]
);
check!(
    PUBLISH_RESPONSE,
    Actyx,
    "actyx/publish/response",
    Must,
    "Publish answers one {lamport, stream, offset, timestamp} per event, timestamps in microseconds, offsets and lamports increasing",
    "seed 003, Publish events (Response)",
    [],
    ["timestamp-millis"]
);
check!(
    OFFSETS_PRESENT,
    Actyx,
    "actyx/offsets/present",
    Must,
    "GET events/offsets: present covers every published offset of its stream; toReplicate counts are positive",
    "seed 003, Get information about known offsets",
    [],
    ["offsets-present-lags"]
);
check!(
    QUERY_BOUNDS,
    Actyx,
    "actyx/query/bounds",
    Must,
    "Query returns exactly the events with lowerBound < offset <= upperBound and ends with an offsets line",
    "seed 003, Query event streams (lowerBound exclusive, upperBound inclusive)",
    [],
    ["query-upper-exclusive"]
);
check!(
    QUERY_ORDERS,
    Actyx,
    "actyx/query/orders",
    Must,
    "Query orders asc, desc and stream-asc sort by lamport then stream id (stream-asc per stream) and return the same events",
    "seed 003, Query event streams (order)",
    [],
    ["desc-unsorted"]
);
check!(
    TIE_BREAK,
    Actyx,
    "actyx/query/tie-break",
    Must,
    "Events of several streams with equal lamports sort by stream id in asc and desc",
    "seed 003, Query event streams: stream ID as secondary sort criterion; PROTOCOLS.md, Actyx (Replication)",
    [Producer],
    ["tie-break-reversed"]
);
check!(
    TAG_EXPRESSIONS,
    Actyx,
    "actyx/query/tag-expressions",
    Must,
    "FROM with tags, &, |, parentheses and allEvents selects exactly what a brute-force filter of the published events selects",
    "seed 003, Query event streams (query); PROTOCOLS.md, Actyx (AQL: & binds tighter than |)",
    [],
    ["tag-precedence-flat"]
);
check!(
    SUBSCRIBE_SEAM,
    Actyx,
    "actyx/subscribe/catch-up-then-live",
    Must,
    "subscribe sends the past, then an offsets line, then live events, with nothing lost or repeated at the switch",
    "seed 003, Subscribe to event streams; PROTOCOLS.md, Actyx (offsets marks the end of catch-up)",
    [],
    ["subscribe-live-gap"]
);
check!(
    CAUGHT_UP,
    Actyx,
    "actyx/monotonic/caught-up",
    Must,
    "subscribe_monotonic events carry a boolean caughtUp, true on a live event once nothing else is known",
    "seed 003, Subscribe to event streams monotonically (caughtUp)",
    [],
    ["caught-up-never-true"]
);
check!(
    TIME_TRAVEL,
    Actyx,
    "actyx/monotonic/time-travel",
    Must,
    "When an event sorting before one already delivered becomes known, subscribe_monotonic sends timeTravel {newStart} and closes",
    "seed 003, Subscribe to event streams monotonically (timeTravel); PROTOCOLS.md, Actyx (Replication)",
    [Producer],
    ["no-time-travel", "time-travel-stays-open"]
);
check!(
    SESSION_RESUME,
    Actyx,
    "actyx/monotonic/session-resume",
    Must,
    "subscribe_monotonic resumed with a lowerBound from what was delivered continues without loss or duplicate",
    "seed 003, Subscribe to event streams monotonically (session, lowerBound)",
    [],
    ["monotonic-resume-skips"]
);
check!(
    KEEPALIVE,
    Actyx,
    "actyx/wire/keep-alive",
    Should,
    "An idle feed receives blank lines",
    "PROTOCOLS.md, Actyx: an empty line after 15 s of silence",
    [],
    ["actyx-no-keepalive"]
);

/// Every Actyx check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &AUTH_REQUIRED,
    &TOKEN_FLOW,
    &NEGOTIATION,
    &PUBLISH_RESPONSE,
    &OFFSETS_PRESENT,
    &QUERY_BOUNDS,
    &QUERY_ORDERS,
    &TIE_BREAK,
    &TAG_EXPRESSIONS,
    &SUBSCRIBE_SEAM,
    &CAUGHT_UP,
    &TIME_TRAVEL,
    &SESSION_RESUME,
    &KEEPALIVE,
];
