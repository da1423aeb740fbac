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
    ["cbor-keys-unsorted"],
    rules: ["atproto.repos-frame-format", "atproto.repos-message-types", "atproto.repos-public"]
);
check!(
    ERROR_HEADER,
    Atproto,
    "atproto/wire/error-header",
    Must,
    "Error frames have op -1 and no t, and a body {error, message?}",
    "atproto event-stream spec, Framing: error header",
    [],
    ["error-frame-with-type"],
    rules: ["atproto.error-frame"]
);
check!(
    FUTURE_CURSOR,
    Atproto,
    "atproto/cursor/future-cursor",
    Must,
    "A cursor beyond the newest seq gets an error frame FutureCursor, then the connection closes",
    "atproto event-stream spec, Sequence numbers; PROTOCOLS.md, AT Protocol",
    [],
    ["future-cursor-ignored"],
    rules: ["atproto.repos-future-cursor"]
);
check!(
    REPLAY_AFTER,
    Atproto,
    "atproto/cursor/replay-after",
    Should,
    "A cursor replays every kept frame with seq > cursor, in seq order, then continues live (as the official PDS and relays read the seed's cursor)",
    "seed 002, subscribeRepos cursor: \"the last known event seq number to backfill from\" (either reading: replay-either-reading); the > cursor reading is the official PDS's and relays'",
    [Producer],
    ["replay-includes-cursor"],
    rules: ["atproto.repos-cursor-backfill"]
);
check!(
    CURSOR_ZERO,
    Atproto,
    "atproto/cursor/zero",
    Must,
    "cursor=0 replays everything kept, not live only",
    "atproto event-stream spec, Sequence numbers; PROTOCOLS.md, bugs real implementations shipped",
    [Producer],
    ["cursor-zero-live"],
    rules: ["atproto.repos-cursor-backfill"]
);
check!(
    SEQ_INCREASING,
    Atproto,
    "atproto/seq/increasing",
    Must,
    "seq is positive and strictly increasing on a connection: never repeated, never going back",
    "atproto event-stream spec, Sequence numbers",
    [Producer],
    ["repeat-frames"],
    rules: ["atproto.seq-sequence"]
);
check!(
    RELAY_COMMIT,
    Atproto,
    "atproto/commit/relay-verify",
    Must,
    "Every #commit verifies as a relay checks it: CAR, first root, block CIDs, signature with the DID's #atproto key, ops against the MST, inversion to prevData, since/rev chain",
    "atproto sync spec, Firehose commit validation; repository spec, MST and commits",
    [Producer],
    ["commit-without-proof", "commit-bad-signature"],
    rules: ["atproto.commit-car-root", "atproto.commit-blocks-limit", "atproto.commit-ops-limit", "atproto.commit-prev-data", "atproto.commit-since", "atproto.op-fields", "atproto.op-prev", "atproto.sync-car-root"]
);

check!(
    EVENT_SHAPES,
    Atproto,
    "atproto/wire/event-shapes",
    Must,
    "#identity, #account, #sync and #commit carry their required fields with the lexicon's types",
    "com.atproto.sync.subscribeRepos lexicon; PROTOCOLS.md, AT Protocol",
    [Producer],
    ["frames-without-time"],
    rules: ["atproto.commit-fields", "atproto.commit-deprecated-flags", "atproto.commit-repo-did", "atproto.commit-rev-tid", "atproto.time-datetime", "atproto.sync-fields", "atproto.sync-blocks-limit", "atproto.identity-fields", "atproto.account-fields", "atproto.repos-all-repositories"]
);
check!(
    OUTDATED_CURSOR,
    Atproto,
    "atproto/cursor/outdated-cursor",
    Must,
    "A cursor before the replay window gets #info OutdatedCursor, then the oldest frame kept",
    "atproto event-stream spec, Sequence numbers: OutdatedCursor",
    [Producer],
    ["no-outdated-cursor"],
    rules: ["atproto.info-outdated-cursor"]
);
check!(
    LABELS_SIGNED,
    Atproto,
    "atproto/labels/signed",
    Must,
    "#labels frames carry increasing seqs and labels {src, uri, val, cts, ver?} signed with the source's #atproto_label key; negations have neg: true",
    "seed 002, Label (ver optional) and LabelsPayload; atproto label spec, Signing; needs the producer's atproto label action",
    [Producer],
    ["label-bad-signature"],
    rules: ["atproto.labels-public", "atproto.labels-sequencing", "atproto.labels-fields", "atproto.label-fields", "atproto.label-val-limit", "atproto.label-neg", "atproto.label-sig", "atproto.label-formats"]
);
check!(
    RESUME_AFTER_CUTS,
    Atproto,
    "atproto/delivery/resume-after-cuts",
    Must,
    "Connections cut at any frame (close or reset) and resumed from the last seq seen lose no commit and repeat none out of order",
    "atproto event-stream spec, Sequence numbers: resuming with a cursor; PROTOCOLS.md, Common ground",
    [Producer],
    ["drop-on-reconnect"],
    rules: ["atproto.repos-cursor-resume"]
);
check!(
    REPLAY_EITHER_READING,
    Atproto,
    "atproto/cursor/replay-either-reading",
    Must,
    "A cursor replays from seq >= cursor (the spec's text) or > cursor (every implementation's reading): never from earlier, never with a gap; the report says which",
    "atproto event-stream spec, Sequence numbers; PROTOCOLS.md, AT Protocol: the two readings",
    [Producer],
    ["drop-on-reconnect"],
    rules: ["atproto.repos-cursor-backfill"]
);
check!(
    CONSUMER_TOO_SLOW,
    Atproto,
    "atproto/slow/consumer-too-slow",
    Must,
    "A consumer that falls far behind gets the error frame ConsumerTooSlow and a close, while another consumer keeps receiving every commit",
    "seed 002, subscribeRepos: ConsumerTooSlow; PROTOCOLS.md, AT Protocol",
    [Producer],
    ["no-slow-consumer-cut"],
    rules: ["atproto.repos-consumer-too-slow"]
);
check!(
    LABELS_REPLAY,
    Atproto,
    "atproto/labels/replay",
    Must,
    "subscribeLabels with a cursor replays the labels from the cursor on (seq > cursor, or >= under the spec's text), never earlier, never with a gap, in seq order",
    "seed 002, subscribeLabels: \"reconnect with ?cursor=<seq>\", \"the same sequencing scheme as the repo firehose\"; needs the producer's atproto label action",
    [Producer],
    ["labels-replay-from-start"],
    rules: ["atproto.labels-cursor-resume", "atproto.labels-cursor-backfill", "atproto.labels-frame-format"]
);
check!(
    LABELS_FUTURE_CURSOR,
    Atproto,
    "atproto/labels/future-cursor",
    Must,
    "subscribeLabels with a cursor beyond the newest seq gets an error frame FutureCursor, then the connection closes",
    "seed 002, subscribeLabels: \"Requesting a cursor in the future yields FutureCursor\"; runs where the producer has the atproto label action (a labeler)",
    [Producer],
    ["labels-future-cursor-live"],
    rules: ["atproto.labels-future-cursor"]
);
check!(
    ACCOUNT_STATUS,
    Atproto,
    "atproto/events/account-status",
    Must,
    "deactivateAccount and activateAccount each send #account for the DID: active false with a known status, then active true",
    "seed 002, RepoAccount and Account; com.atproto.server.deactivateAccount / activateAccount",
    [],
    ["no-account-on-status-change"],
    rules: ["atproto.account-on-change", "atproto.account-active", "atproto.account-status", "atproto.account-fields"]
);
check!(
    IDENTITY_HANDLE,
    Atproto,
    "atproto/events/identity-on-handle-change",
    Must,
    "com.atproto.identity.updateHandle sends #identity for the DID, whose handle (when present) is the new one or handle.invalid",
    "seed 002, RepoIdentity and Identity",
    [],
    ["no-identity-on-handle-change"],
    rules: ["atproto.identity-on-change", "atproto.identity-handle", "atproto.identity-fields"]
);
check!(
    LABELS_OUTDATED_CURSOR,
    Atproto,
    "atproto/labels/outdated-cursor",
    Must,
    "subscribeLabels with a cursor before the replay window gets #info OutdatedCursor, then the oldest label kept",
    "seed 002, LabelInfo: \"Known name value: OutdatedCursor\"; provoked by 300 labels on a reference server, taken as it comes elsewhere",
    [Producer],
    ["labels-no-outdated-cursor"],
    rules: ["atproto.labels-outdated-cursor"]
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
    &ACCOUNT_STATUS,
    &IDENTITY_HANDLE,
    &LABELS_SIGNED,
    &LABELS_REPLAY,
    &LABELS_FUTURE_CURSOR,
    &LABELS_OUTDATED_CURSOR,
];
