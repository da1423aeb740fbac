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
    ["fauna-lf-lines"]
);
check!(
    STATUS_FIRST,
    Fauna,
    "fauna/wire/status-first",
    Must,
    "The first event of a stream is status, with txn_ts, cursor and stats, even with events to replay",
    "seed 000, StatusEvent; PROTOCOLS.md, Fauna (the first event is always status)",
    [Producer],
    ["fauna-no-initial-status"]
);
check!(
    EVENT_SHAPE,
    Fauna,
    "fauna/events/shape",
    Must,
    "add, update and remove events carry data, txn_ts, cursor and stats; error events error {code, message} and stats, no cursor; stats have every field",
    "seed 000, AddEvent, RemoveEvent, UpdateEvent, StreamStats; PROTOCOLS.md, Fauna",
    [Producer],
    ["fauna-stats-incomplete"]
);
check!(
    TXN_TS_ORDER,
    Fauna,
    "fauna/events/txn-ts-order",
    Must,
    "txn_ts never decreases along a stream, replayed or live",
    "seed 000, txn_ts (transaction timestamp of the change); PROTOCOLS.md, common ground (log order)",
    [Producer],
    ["fauna-txn-ts-backwards"]
);
check!(
    CURSOR_RESUME,
    Fauna,
    "fauna/resume/cursor",
    Must,
    "A stream opened with an event's cursor delivers every later event of the set, strictly after that one",
    "seed 000, StreamSubscriptionPayload.cursor; PROTOCOLS.md, Fauna (cursor resumes strictly after)",
    [Producer],
    ["fauna-cursor-inclusive"]
);
check!(
    START_TS_REPLAY,
    Fauna,
    "fauna/resume/start-ts",
    Must,
    "A stream opened with start_ts replays exactly the events after that time",
    "seed 000, StreamSubscriptionPayload.start_ts (events that occurred after this timestamp)",
    [Producer],
    ["fauna-start-ts-inclusive"]
);
check!(
    START_TS_WITH_CURSOR,
    Fauna,
    "fauna/resume/start-ts-with-cursor",
    Must,
    "start_ts together with cursor is refused with 400 invalid_request",
    "seed 000, start_ts and cursor are mutually exclusive; PROTOCOLS.md, Fauna",
    [Producer],
    ["fauna-start-ts-with-cursor"]
);
check!(
    START_TOO_OLD,
    Fauna,
    "fauna/resume/start-too-old",
    Must,
    "A start before the event source's token or before the collection's history window is refused (invalid_stream_start_time), with no event replayed",
    "seed 000, start_ts (cannot exceed history_days); PROTOCOLS.md, Fauna",
    [Producer],
    ["fauna-history-window-ignored"]
);
check!(
    REPLAY_LIMIT,
    Fauna,
    "fauna/replay/volume-limit",
    Must,
    "A replay of more than 128 events ends with the error event stream_replay_volume_exceeded, after at most 128 events",
    "PROTOCOLS.md, Fauna (stream_replay_volume_exceeded, replay over 128 events)",
    [Producer],
    ["fauna-replay-unlimited"]
);
check!(
    SET_MEMBERSHIP,
    Fauna,
    "fauna/set/membership",
    Must,
    "A where-set stream sends add when a document starts matching, update while it changes inside, remove when it stops or is deleted, and nothing else",
    "seed 000, AddEvent, RemoveEvent, UpdateEvent; PROTOCOLS.md, Fauna (set semantics)",
    [Producer],
    ["fauna-leave-as-update"]
);
check!(
    ERROR_ENDS_STREAM,
    Fauna,
    "fauna/errors/end-stream",
    Must,
    "After an error event the server ends the stream",
    "PROTOCOLS.md, Fauna (error events, after which the stream ends)",
    [Producer],
    ["fauna-error-keeps-stream"]
);
check!(
    UNAUTHORIZED,
    Fauna,
    "fauna/auth/unauthorized",
    Must,
    "A missing or wrong secret gets 401 with {\"error\": {\"code\": \"unauthorized\", \"message\"}} from /stream/1 and /query/1",
    "seed 000, securitySchemes bearerAuth; PROTOCOLS.md, Fauna (HTTP errors)",
    [],
    ["fauna-unauthorized-403"]
);

/// Every Fauna check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &LINE_FORMAT,
    &STATUS_FIRST,
    &EVENT_SHAPE,
    &TXN_TS_ORDER,
    &CURSOR_RESUME,
    &START_TS_REPLAY,
    &START_TS_WITH_CURSOR,
    &START_TOO_OLD,
    &REPLAY_LIMIT,
    &SET_MEMBERSHIP,
    &ERROR_ENDS_STREAM,
    &UNAUTHORIZED,
];
