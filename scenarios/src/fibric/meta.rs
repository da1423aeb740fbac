//! Every Fibric check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::{CheckMeta, check};

check!(
    AUTH_REQUIRED,
    Fibric,
    "fibric/auth/key-required",
    Must,
    "The list and the stream refuse a missing or wrong key with 401 and a JSON error",
    "seed 004, The stream endpoint: Bearer key like every other route; RFC 6750 section 3.1 (401)",
    [],
    ["no-auth"],
    rules: ["fibric.auth-bearer"]
);
check!(
    TENANCY,
    Fibric,
    "fibric/auth/tenant-isolation",
    Must,
    "A key sees its own tenant's envelopes and never another tenant's",
    "seed 004, The stream endpoint and Delivery semantics: tenant-scoped",
    [Producer, Auth],
    ["leak-other-tenant"],
    rules: ["fibric.stream-tenant-scoped"]
);
check!(
    LIST_TENANCY,
    Fibric,
    "fibric/auth/list-tenant-isolation",
    Must,
    "GET /v1/events pages a key's own tenant's envelopes and never another tenant's",
    "seed 004, Delivery semantics: tenant-scoped, the same wall as every read",
    [Producer, Auth],
    ["list-leaks-other-tenant"],
    rules: [
        "fibric.list-tenant-scoped",
        "fibric.cursors-same-log",
        "fibric.list-has-more",
        "fibric.list-next-cursor"
    ]
);
check!(
    CONTENT_TYPE,
    Fibric,
    "fibric/wire/content-type",
    Must,
    "The stream answers 200 with Content-Type text/event-stream",
    "seed 004, The stream endpoint; WHATWG HTML 9.2",
    [],
    ["wrong-content-type"],
    rules: ["fibric.stream-sse"]
);
check!(
    NO_STORE,
    Fibric,
    "fibric/wire/no-store",
    Should,
    "The stream is not cacheable (Cache-Control: no-store; PROTOCOLS.md and RFC 9111, the seed does not say)",
    "PROTOCOLS.md, Fibric; RFC 9111 section 5.2.2.5",
    [],
    ["cacheable-stream"],
    rules: []
);
check!(
    FRAME_SHAPE,
    Fibric,
    "fibric/wire/frame-shape",
    Must,
    "Each frame has id = event_id, event: envelope, and data holding the whole envelope (the example's fields and types, the key's tenant) with its cursor",
    "seed 004, The stream endpoint (frame example)",
    [Producer],
    ["frame-id-not-event-id", "envelope-field-renamed"],
    rules: ["fibric.stream-sse", "fibric.frame-data-envelope", "fibric.frame-id-event-id", "fibric.frame-cursor", "fibric.frame-event-envelope", "fibric.envelope-fields"]
);
check!(
    KEEPALIVE,
    Fibric,
    "fibric/wire/keep-alive",
    Must,
    "An idle stream receives comment frames (within --patience), so intermediaries keep it open",
    "seed 004, The stream endpoint: a comment frame is written periodically",
    [Idle],
    ["no-keepalive"],
    rules: ["fibric.keep-alive"]
);
check!(
    GLOB,
    Fibric,
    "fibric/filter/event-type-glob",
    Must,
    "event_type globs match exactly one dot-delimited segment per *",
    "seed 004, Filtering: event_type",
    [Producer],
    ["glob-spans-segments"],
    rules: ["fibric.filter-glob-one-segment", "fibric.filter-event-type-exact"]
);
check!(
    AND_FILTERS,
    Fibric,
    "fibric/filter/and",
    Must,
    "event_type, source, workspace_id and entity combine with AND",
    "seed 004, Filtering: filters combine with AND",
    [Producer],
    ["filters-or"],
    rules: ["fibric.filters-and", "fibric.filter-event-type-exact", "fibric.filter-source", "fibric.filter-workspace", "fibric.filter-entity"]
);
check!(
    LIST_FILTERS,
    Fibric,
    "fibric/filter/list",
    Must,
    "GET /v1/events takes the stream's filters with the same meaning: globs, source, workspace_id and entity, combined with AND",
    "seed 004, Filtering: the same filter vocabulary as GET /v1/events",
    [Producer],
    ["list-ignores-filters"],
    rules: [
        "fibric.filters-list-vocabulary",
        "fibric.list-filters",
        "fibric.cursors-same-log"
    ]
);
check!(
    REPLAYED,
    Fibric,
    "fibric/filter/replayed",
    Must,
    "Envelopes replayed after a cursor or a Last-Event-ID match the filters and the key's tenant, like live ones",
    "seed 004, Cursors and resume tokens: the stream replays every matching envelope; Delivery semantics: tenant-scoped",
    [Producer, Auth],
    ["replay-ignores-filters"],
    rules: [
        "fibric.replay-matches-filters",
        "fibric.replay-tenant-scoped",
        "fibric.cursor-replays-forward",
        "fibric.last-event-id",
        "fibric.resume-ways-equivalent"
    ]
);
check!(
    STARTS_AT_NOW,
    Fibric,
    "fibric/stream/starts-at-now",
    Must,
    "A stream opened without a cursor delivers only what is published after it opened",
    "seed 004, Filtering: cursor omitted, the stream starts at now",
    [Producer],
    ["stream-replays-from-start"],
    rules: ["fibric.starts-at-now", "fibric.stream-follows-live"]
);
check!(
    ORDER,
    Fibric,
    "fibric/stream/log-order",
    Must,
    "Frames arrive in log order, whatever the publishing pattern",
    "seed 004, Delivery semantics: ordered per log position",
    [Producer],
    ["reorder-live"],
    rules: ["fibric.log-order"]
);
check!(
    READ_ONLY,
    Fibric,
    "fibric/stream/read-only",
    Must,
    "Two consumers with the same filters both receive every envelope: consuming one claims nothing",
    "seed 004, Delivery semantics: read-only",
    [Producer],
    ["stream-claims-envelopes"],
    rules: ["fibric.read-only"]
);
check!(
    RESUME_CURSOR,
    Fibric,
    "fibric/resume/cursor",
    Must,
    "A stream opened with a cursor replays exactly what follows it, then continues live",
    "seed 004, Cursors and resume tokens: the cursor query parameter",
    [Producer],
    ["resume-off-by-one"],
    rules: ["fibric.cursor-replays-forward", "fibric.cursor-valid-same-filters", "fibric.resume-ways-equivalent"]
);
check!(
    RESUME_LAST_EVENT_ID,
    Fibric,
    "fibric/resume/last-event-id",
    Must,
    "Reconnecting with Last-Event-ID resumes right after that envelope",
    "seed 004, Cursors and resume tokens: the Last-Event-ID header",
    [Producer],
    ["drop-on-reconnect"],
    rules: ["fibric.last-event-id", "fibric.event-source-resumes", "fibric.resume-ways-equivalent"]
);
check!(
    CURSOR_BOUND,
    Fibric,
    "fibric/cursor/bound-to-filters",
    Must,
    "A cursor presented with other filters is refused with 400 invalid_cursor",
    "seed 004, Cursors and resume tokens: cursors are query-bound",
    [Producer],
    ["cursor-ignores-filters"],
    rules: ["fibric.cursor-query-bound"]
);
check!(
    CURSOR_EXPIRED,
    Fibric,
    "fibric/cursor/expired",
    Must,
    "A cursor older than the retention window is refused, not silently resumed from later",
    "seed 004, Cursors and resume tokens: retention; README (410 cursor_expired); the producer's trim action ages the log",
    [Producer],
    ["expired-cursor-resumes"],
    rules: ["fibric.cursor-retention"]
);
check!(
    CUTS,
    Fibric,
    "fibric/delivery/at-least-once-across-cuts",
    Must,
    "Across connections cut at random frame and byte positions, a consumer resuming with Last-Event-ID loses nothing",
    "seed 004, Delivery semantics: at-least-once; Connection behavior",
    [Producer, FaultProxy],
    ["drop-on-reconnect"],
    rules: ["fibric.at-least-once", "fibric.redelivery-same-event-id", "fibric.close-then-resume", "fibric.last-event-id"]
);
check!(
    SEAM,
    Fibric,
    "fibric/backfill/seam",
    Must,
    "Paging the list, then streaming from its last next_cursor, yields every later envelope exactly once",
    "seed 004, Cursors and resume tokens: backfill-then-tail (the list read as fibric/list/pages reads it, not relying on data or limit)",
    [Producer],
    ["replay-live-seam-gap"],
    rules: ["fibric.backfill-then-tail", "fibric.cursors-same-log", "fibric.list-next-cursor"]
);
check!(
    PAGES,
    Fibric,
    "fibric/list/pages",
    Must,
    "Paging GET /v1/events walks the log in order, has_more false only at the end (the page size asked with limit, the envelopes read from data or the page's one array)",
    "seed 004, Cursors and resume tokens: next_cursor and has_more. The seed names neither the page's item field nor a page size, so a page without data is read from its one array and a refused limit is dropped; fibric/list/limit holds a target to both",
    [Producer],
    ["list-has-more-wrong"],
    rules: ["fibric.list-has-more", "fibric.list-next-cursor"]
);
check!(
    LIMIT,
    Fibric,
    "fibric/list/limit",
    Should,
    "GET /v1/events takes limit and answers pages of at most that many envelopes in a data array (the reference server's README, not the seed)",
    "README, Fibric envelope stream (limit, data); seed 004 names only has_more and next_cursor of the list, and links no page of its own",
    [Producer],
    ["list-ignores-limit", "list-data-renamed"],
    rules: []
);
check!(
    SLOW_CONSUMER,
    Fibric,
    "fibric/slow/isolation",
    Must,
    "A consumer that stops reading is disconnected, and another consumer keeps receiving meanwhile",
    "seed 004, Connection behavior and limits",
    [Producer],
    ["no-slow-consumer-cut"],
    rules: ["fibric.slow-consumer-closed"]
);

/// Every Fibric check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &AUTH_REQUIRED,
    &TENANCY,
    &LIST_TENANCY,
    &CONTENT_TYPE,
    &NO_STORE,
    &FRAME_SHAPE,
    &KEEPALIVE,
    &GLOB,
    &AND_FILTERS,
    &LIST_FILTERS,
    &REPLAYED,
    &STARTS_AT_NOW,
    &ORDER,
    &READ_ONLY,
    &RESUME_CURSOR,
    &RESUME_LAST_EVENT_ID,
    &CURSOR_BOUND,
    &CURSOR_EXPIRED,
    &CUTS,
    &SEAM,
    &PAGES,
    &LIMIT,
    &SLOW_CONSUMER,
];
