//! Every AT Protocol check: id, level, title, spec reference, needs, and the defects that must fail it.

use crate::check::{CheckMeta, check};

check!(
    STRICT_FRAMES,
    Atproto,
    "atproto/wire/strict-frames",
    Must,
    "Every message is exactly two strict DAG-CBOR objects: a header {op, t} and a map body",
    "atproto event-stream spec, Framing; data-model spec, DAG-CBOR strictness",
    [Producer],
    ["cbor-keys-unsorted"]
);
check!(
    ERROR_HEADER,
    Atproto,
    "atproto/wire/error-header",
    Must,
    "Error frames have op -1 and no t, and a body {error, message?}",
    "atproto event-stream spec, Framing: error header",
    [],
    ["error-frame-with-type"]
);
check!(
    FUTURE_CURSOR,
    Atproto,
    "atproto/cursor/future-cursor",
    Must,
    "A cursor beyond the newest seq gets an error frame FutureCursor, then the connection closes",
    "atproto event-stream spec, Sequence numbers; PROTOCOLS.md, AT Protocol",
    [],
    ["future-cursor-ignored"]
);
check!(
    REPLAY_AFTER,
    Atproto,
    "atproto/cursor/replay-after",
    Must,
    "A cursor replays every kept frame with seq > cursor, in seq order, then continues live",
    "PROTOCOLS.md, AT Protocol: every real implementation replays > cursor",
    [Producer],
    ["replay-includes-cursor"]
);
check!(
    CURSOR_ZERO,
    Atproto,
    "atproto/cursor/zero",
    Must,
    "cursor=0 replays everything kept, not live only",
    "atproto event-stream spec, Sequence numbers; PROTOCOLS.md, bugs real implementations shipped",
    [Producer],
    ["cursor-zero-live"]
);
check!(
    SEQ_INCREASING,
    Atproto,
    "atproto/seq/increasing",
    Must,
    "seq is positive and strictly increasing on a connection: never repeated, never going back",
    "atproto event-stream spec, Sequence numbers",
    [Producer],
    ["repeat-frames"]
);
check!(
    RELAY_COMMIT,
    Atproto,
    "atproto/commit/relay-verify",
    Must,
    "Every #commit verifies as a relay checks it: CAR, first root, block CIDs, signature with the DID's #atproto key, ops against the MST, inversion to prevData, since/rev chain",
    "atproto sync spec, Firehose commit validation; repository spec, MST and commits",
    [Producer],
    ["commit-without-proof", "commit-bad-signature"]
);

check!(
    EVENT_SHAPES,
    Atproto,
    "atproto/wire/event-shapes",
    Must,
    "#identity, #account, #sync and #commit carry their required fields with the lexicon's types",
    "com.atproto.sync.subscribeRepos lexicon; PROTOCOLS.md, AT Protocol",
    [Producer],
    ["frames-without-time"]
);
check!(
    OUTDATED_CURSOR,
    Atproto,
    "atproto/cursor/outdated-cursor",
    Must,
    "A cursor before the replay window gets #info OutdatedCursor, then the oldest frame kept",
    "atproto event-stream spec, Sequence numbers: OutdatedCursor",
    [Producer],
    ["no-outdated-cursor"]
);
check!(
    LABELS_SIGNED,
    Atproto,
    "atproto/labels/signed",
    Must,
    "#labels frames carry increasing seqs and labels signed with the source's #atproto_label key; negations have neg: true",
    "atproto label spec, Signing; com.atproto.label.subscribeLabels lexicon",
    [Producer],
    ["label-bad-signature"]
);
check!(
    RESUME_AFTER_CUTS,
    Atproto,
    "atproto/delivery/resume-after-cuts",
    Must,
    "Connections cut at any frame (close or reset) and resumed from the last seq seen lose no commit and repeat none out of order",
    "atproto event-stream spec, Sequence numbers: resuming with a cursor; PROTOCOLS.md, Common ground",
    [Producer],
    ["drop-on-reconnect"]
);
check!(
    REPLAY_EITHER_READING,
    Atproto,
    "atproto/cursor/replay-either-reading",
    Should,
    "A cursor replays from seq >= cursor (the spec's text) or > cursor (every implementation's reading): never from earlier, never with a gap; the report says which",
    "atproto event-stream spec, Sequence numbers; PROTOCOLS.md, AT Protocol: the two readings",
    [Producer],
    ["drop-on-reconnect"]
);
check!(
    CONSUMER_TOO_SLOW,
    Atproto,
    "atproto/slow/consumer-too-slow",
    Must,
    "A consumer that falls far behind gets the error frame ConsumerTooSlow and a close, while another consumer keeps receiving every commit",
    "seed 002, subscribeRepos: ConsumerTooSlow; PROTOCOLS.md, AT Protocol",
    [Producer],
    ["no-slow-consumer-cut"]
);

/// Every AT Protocol check, in catalogue order.
pub static ALL: &[&CheckMeta] = &[
    &STRICT_FRAMES,
    &ERROR_HEADER,
    &EVENT_SHAPES,
    &FUTURE_CURSOR,
    &REPLAY_AFTER,
    &REPLAY_EITHER_READING,
    &CURSOR_ZERO,
    &OUTDATED_CURSOR,
    &SEQ_INCREASING,
    &RESUME_AFTER_CUTS,
    &CONSUMER_TOO_SLOW,
    &RELAY_COMMIT,
    &LABELS_SIGNED,
];
