//! Every Fibric check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::{CheckMeta, check};

check!(
    AUTH_REQUIRED,
    Fibric,
    "fibric/auth/key-required",
    Must,
    "The list and the stream refuse a missing or wrong key with 401 and a JSON error",
    "seed 004, The stream endpoint: Bearer key like every other route",
    [],
    ["no-auth"]
);
check!(
    TENANCY,
    Fibric,
    "fibric/auth/tenant-isolation",
    Must,
    "A key sees its own tenant's envelopes and never another tenant's",
    "seed 004, The stream endpoint and Delivery semantics: tenant-scoped",
    [Producer, Auth],
    ["leak-other-tenant"]
);
check!(
    CONTENT_TYPE,
    Fibric,
    "fibric/wire/content-type",
    Must,
    "The stream answers 200 with Content-Type text/event-stream",
    "seed 004, The stream endpoint; WHATWG HTML 9.2",
    [],
    ["wrong-content-type"]
);
check!(
    NO_STORE,
    Fibric,
    "fibric/wire/no-store",
    Should,
    "The stream is not cacheable (Cache-Control: no-store)",
    "PROTOCOLS.md, Fibric; RFC 9111 section 5.2.2.5",
    [],
    ["cacheable-stream"]
);
check!(
    FRAME_SHAPE,
    Fibric,
    "fibric/wire/frame-shape",
    Must,
    "Each frame has id = event_id, event: envelope, and data holding the whole envelope with its cursor",
    "seed 004, The stream endpoint (frame example)",
    [Producer],
    ["frame-id-not-event-id", "envelope-field-renamed"]
);
check!(
    KEEPALIVE,
    Fibric,
    "fibric/wire/keep-alive",
    Should,
    "An idle stream receives comment frames, so intermediaries keep it open",
    "seed 004, The stream endpoint: a comment frame is written periodically",
    [],
    ["no-keepalive"]
);
check!(
    GLOB,
    Fibric,
    "fibric/filter/event-type-glob",
    Must,
    "event_type globs match exactly one dot-delimited segment per *",
    "seed 004, Filtering: event_type",
    [Producer],
    ["glob-spans-segments"]
);
check!(
    AND_FILTERS,
    Fibric,
    "fibric/filter/and",
    Must,
    "event_type, source, workspace_id and entity combine with AND",
    "seed 004, Filtering: filters combine with AND",
    [Producer],
    ["filters-or"]
);
check!(
    STARTS_AT_NOW,
    Fibric,
    "fibric/stream/starts-at-now",
    Must,
    "A stream opened without a cursor delivers only what is published after it opened",
    "seed 004, Filtering: cursor omitted, the stream starts at now",
    [Producer],
    ["stream-replays-from-start"]
);
check!(
    ORDER,
    Fibric,
    "fibric/stream/log-order",
    Must,
    "Frames arrive in log order, whatever the publishing pattern",
    "seed 004, Delivery semantics: ordered per log position",
    [Producer],
    ["reorder-live"]
);
check!(
    RESUME_CURSOR,
    Fibric,
    "fibric/resume/cursor",
    Must,
    "A stream opened with a cursor replays exactly what follows it, then continues live",
    "seed 004, Cursors and resume tokens: the cursor query parameter",
    [Producer],
    ["resume-off-by-one"]
);
check!(
    RESUME_LAST_EVENT_ID,
    Fibric,
    "fibric/resume/last-event-id",
    Must,
    "Reconnecting with Last-Event-ID resumes right after that envelope",
    "seed 004, Cursors and resume tokens: the Last-Event-ID header",
    [Producer],
    ["drop-on-reconnect"]
);
check!(
    CURSOR_BOUND,
    Fibric,
    "fibric/cursor/bound-to-filters",
    Must,
    "A cursor presented with other filters is refused with 400 invalid_cursor",
    "seed 004, Cursors and resume tokens: cursors are query-bound",
    [Producer],
    ["cursor-ignores-filters"]
);
check!(
    CURSOR_EXPIRED,
    Fibric,
    "fibric/cursor/expired",
    Must,
    "A cursor older than the retention window is refused, not silently resumed from later",
    "seed 004, Cursors and resume tokens: retention; README (410 cursor_expired)",
    [Producer],
    ["expired-cursor-resumes"]
);
check!(
    CUTS,
    Fibric,
    "fibric/delivery/at-least-once-across-cuts",
    Must,
    "Across connections cut at random frame and byte positions, a consumer resuming with Last-Event-ID loses nothing",
    "seed 004, Delivery semantics: at-least-once; Connection behavior",
    [Producer, FaultProxy],
    ["drop-on-reconnect"]
);
check!(
    SEAM,
    Fibric,
    "fibric/backfill/seam",
    Must,
    "Paging the list, then streaming from its last next_cursor, yields every later envelope exactly once",
    "seed 004, Cursors and resume tokens: backfill-then-tail",
    [Producer],
    ["replay-live-seam-gap"]
);
check!(
    PAGES,
    Fibric,
    "fibric/list/pages",
    Must,
    "Paging GET /v1/events with any limit walks the log in order, has_more false only at the end",
    "seed 004, Cursors and resume tokens: next_cursor and has_more",
    [Producer],
    ["list-has-more-wrong"]
);
check!(
    SLOW_CONSUMER,
    Fibric,
    "fibric/slow/isolation",
    Must,
    "A consumer that stops reading is disconnected, and another consumer keeps receiving meanwhile",
    "seed 004, Connection behavior and limits",
    [Producer],
    ["no-slow-consumer-cut"]
);

/// Every Fibric check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &AUTH_REQUIRED,
    &TENANCY,
    &CONTENT_TYPE,
    &NO_STORE,
    &FRAME_SHAPE,
    &KEEPALIVE,
    &GLOB,
    &AND_FILTERS,
    &STARTS_AT_NOW,
    &ORDER,
    &RESUME_CURSOR,
    &RESUME_LAST_EVENT_ID,
    &CURSOR_BOUND,
    &CURSOR_EXPIRED,
    &CUTS,
    &SEAM,
    &PAGES,
    &SLOW_CONSUMER,
];
