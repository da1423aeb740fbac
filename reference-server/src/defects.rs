//! Deliberate defects: each one breaks one rule on purpose, so that a check can be shown to fail.
//!
//! `harness selftest` runs the catalogue against the server with each defect
//! switched on and shows that every defect is caught by some check: a defect
//! listed here that the server did not really implement fails the selftest.

use std::collections::BTreeSet;
use std::fmt;

macro_rules! defects {
    ($($variant:ident => $name:literal, $description:literal;)+) => {
        /// One deliberate defect.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Defect {
            $($variant,)+
        }

        impl Defect {
            pub const ALL: &'static [Defect] = &[$(Defect::$variant,)+];

            pub fn name(self) -> &'static str {
                match self {
                    $(Defect::$variant => $name,)+
                }
            }

            pub fn description(self) -> &'static str {
                match self {
                    $(Defect::$variant => $description,)+
                }
            }
        }
    };
}

defects! {
    // The store and the transport, whatever the API.
    ReuseSeqAfterRestart => "reuse-seq-after-restart",
        "positions (seq, cursors) restart at 1 after a restart and overwrite old records (durable storage only)";
    NoSlowConsumerCut => "no-slow-consumer-cut",
        "a consumer that stops reading is never disconnected, and an AT Protocol subscriber that falls behind never gets ConsumerTooSlow";
    NoAuth => "no-auth",
        "Fibric and Pulse accept requests without a valid key (Fibric reads as the first tenant)";
    WrongContentType => "wrong-content-type",
        "SSE responses say Content-Type: text/plain";
    NoKeepalive => "no-keepalive",
        "idle SSE streams get no keep-alive comments";
    DropOnReconnect => "drop-on-reconnect",
        "a stream resumed with Last-Event-ID skips the first event after it (Fibric, Pulse named streams); an AT Protocol cursor skips the first frame after it";
    // Fibric.
    LeakOtherTenant => "leak-other-tenant",
        "Fibric: every key reads the first tenant's envelopes";
    CacheableStream => "cacheable-stream",
        "Fibric: the stream lacks Cache-Control: no-store";
    FrameIdNotEventId => "frame-id-not-event-id",
        "Fibric: the SSE id field carries the cursor instead of the event_id";
    EnvelopeFieldRenamed => "envelope-field-renamed",
        "Fibric: envelopes name their type `type` instead of `event_type`";
    GlobSpansSegments => "glob-spans-segments",
        "Fibric: * in event_type matches one or more segments (order.* matches order.refund.issued)";
    FiltersOr => "filters-or",
        "Fibric: several filters combine with OR instead of AND";
    StreamReplaysFromStart => "stream-replays-from-start",
        "Fibric: a stream without a cursor starts at the oldest envelope instead of now";
    ReorderLive => "reorder-live",
        "Fibric: envelopes read in one batch are sent in reverse order";
    ResumeOffByOne => "resume-off-by-one",
        "Fibric: the cursor parameter resumes one envelope too late";
    CursorIgnoresFilters => "cursor-ignores-filters",
        "Fibric: a cursor is accepted with any filters";
    ExpiredCursorResumes => "expired-cursor-resumes",
        "Fibric: a cursor older than retention silently resumes at the oldest envelope kept";
    ReplayLiveSeamGap => "replay-live-seam-gap",
        "Fibric: a stream that catches up with the log drops the first live envelope";
    ListHasMoreWrong => "list-has-more-wrong",
        "Fibric: a full page of GET /v1/events says has_more: false";
    ListLeaksOtherTenant => "list-leaks-other-tenant",
        "Fibric: GET /v1/events pages every tenant's envelopes (the stream stays tenant-scoped)";
    ListIgnoresFilters => "list-ignores-filters",
        "Fibric: GET /v1/events ignores the filters (the stream keeps them)";
    ReplayIgnoresFilters => "replay-ignores-filters",
        "Fibric: envelopes a stream replays after a cursor or Last-Event-ID skip the filters (live ones keep them)";
    StreamClaimsEnvelopes => "stream-claims-envelopes",
        "Fibric: streams with the same filters share their envelopes: each goes only to the first of them to read it";
    ListIgnoresLimit => "list-ignores-limit",
        "Fibric: GET /v1/events accepts limit but pages by its default size";
    ListDataRenamed => "list-data-renamed",
        "Fibric: GET /v1/events carries a page's envelopes in `items` instead of `data`";
    // Prisma Pulse.
    HealthNeedsAuth => "health-needs-auth",
        "Pulse: GET /health needs the API key";
    ErrorShapeWrapped => "error-shape-wrapped",
        "Pulse: error bodies are {\"error\": {code, message}} instead of {code, message}";
    DuplicateStreamCreated => "duplicate-stream-created",
        "Pulse: POST /streams with an existing name answers 201 and replaces the stream";
    DeleteKeepsConsumer => "delete-keeps-consumer",
        "Pulse: DELETE /streams/{name} leaves its consumer connected";
    AckOnSend => "ack-on-send",
        "Pulse: a named stream's cursor moves when an event is sent, not when it is acknowledged";
    AllowSecondConsumer => "allow-second-consumer",
        "Pulse: a second consumer of a named stream is let in beside the first, which stays connected";
    SubscribeReplays => "subscribe-replays",
        "Pulse: POST /subscribe replays the whole log before going live";
    SubscribeDuplicates => "subscribe-duplicates",
        "Pulse: a subscription sends every second event twice";
    FilterIgnoresAction => "filter-ignores-action",
        "Pulse: an action a present filter does not name is delivered anyway";
    UpdateWithoutBefore => "update-without-before",
        "Pulse: update events lack `before` even with full replica identity";
    UlidNotMonotonic => "ulid-not-monotonic",
        "Pulse: event ids within the same millisecond are random, not increasing";
    StreamMixesModels => "stream-mixes-models",
        "Pulse: a named stream delivers the events of every model, not only its own";
    ConsumeUnknownOpens => "consume-unknown-opens",
        "Pulse: consuming a stream name that does not exist (or was deleted) opens an empty event stream instead of 404";
    SubscribeModelOptional => "subscribe-model-optional",
        "Pulse: POST /subscribe without a model opens a subscription to every model instead of 400";
    StreamEndsCaughtUp => "stream-ends-caught-up",
        "Pulse: a named stream's response ends once it has sent the events committed before it was opened";
    CursorShowsPosition => "cursor-shows-position",
        "Pulse: StreamInfo.cursor is the log position of the last acknowledged event, not its ULID";
    HealthReplicationUnknown => "health-replication-unknown",
        "Pulse: GET /health says replicationStatus \"streaming\", which is not in the seed's enum";
    LookupMalformed400 => "lookup-malformed-400",
        "Pulse: GET /events/{id} answers 400 for a malformed id, a status the seed does not document for it (404 is)";
    UnknownModel404 => "unknown-model-404",
        "Pulse: POST /streams and POST /subscribe answer 404 for an unknown model, a status the seed does not document for them (400 is)";
    StreamsIgnoreEnvironment => "streams-ignore-environment",
        "Pulse: named streams ignore the API key's environment: every key lists, consumes and deletes every environment's streams";
    EventIdsCollide => "event-ids-collide",
        "Pulse: event ids are minted from the millisecond alone, so events published in the same millisecond share an id";
    ResumedAsText => "resumed-as-text",
        "Pulse: a named stream resumed with Last-Event-ID is served as text/plain, not text/event-stream";
    // The AT Protocol.
    CursorZeroLive => "cursor-zero-live",
        "AT Protocol: cursor=0 is taken as no cursor and starts live";
    FutureCursorIgnored => "future-cursor-ignored",
        "AT Protocol: a cursor beyond the newest seq starts live instead of FutureCursor and a close";
    ReplayIncludesCursor => "replay-includes-cursor",
        "AT Protocol: a cursor replays from seq >= cursor instead of > cursor";
    ErrorFrameWithType => "error-frame-with-type",
        "AT Protocol: error frame headers carry t: \"#error\"";
    CborKeysUnsorted => "cbor-keys-unsorted",
        "AT Protocol: #commit bodies are encoded with map keys in reverse order (not canonical DAG-CBOR)";
    CommitWithoutProof => "commit-without-proof",
        "AT Protocol: a #commit's CAR slice lacks the MST nodes a relay needs to invert its ops";
    CommitBadSignature => "commit-bad-signature",
        "AT Protocol: commits are signed with the account's label key, not its #atproto key";
    NoOutdatedCursor => "no-outdated-cursor",
        "AT Protocol: a cursor before the replay window replays the oldest kept without #info OutdatedCursor";
    FramesWithoutTime => "frames-without-time",
        "AT Protocol: #commit and #sync frames lack their time field";
    RepeatFrames => "repeat-frames",
        "AT Protocol: every frame whose seq is a multiple of 4 is sent twice";
    LabelBadSignature => "label-bad-signature",
        "AT Protocol: labels are signed with the #atproto key, not the #atproto_label key";
    NoAccountOnStatusChange => "no-account-on-status-change",
        "AT Protocol: deactivating or activating an account sends no #account frame";
    NoIdentityOnHandleChange => "no-identity-on-handle-change",
        "AT Protocol: a handle change (com.atproto.identity.updateHandle) sends no #identity frame";
    LabelsReplayFromStart => "labels-replay-from-start",
        "AT Protocol: subscribeLabels with a cursor replays every kept label from the start";
    LabelsFutureCursorLive => "labels-future-cursor-live",
        "AT Protocol: subscribeLabels with a cursor beyond the newest seq starts live instead of FutureCursor and a close";
    LabelsNoOutdatedCursor => "labels-no-outdated-cursor",
        "AT Protocol: subscribeLabels with a cursor before the replay window replays the oldest kept without #info OutdatedCursor";
    // Fauna (keep Fauna's defects between this line and the Actyx line).
    FaunaLfLines => "fauna-lf-lines",
        "Fauna: /stream/1 ends each JSON line with \\n instead of \\r\\n";
    FaunaNoInitialStatus => "fauna-no-initial-status",
        "Fauna: a stream starts with its first data event, not a status event";
    FaunaStatsIncomplete => "fauna-stats-incomplete",
        "Fauna: data events' stats lack processing_time_ms and rate_limits_hit";
    FaunaTxnTsBackwards => "fauna-txn-ts-backwards",
        "Fauna: events at even log positions report a txn_ts one second early";
    FaunaCursorInclusive => "fauna-cursor-inclusive",
        "Fauna: a cursor resumes at its own event instead of strictly after it";
    FaunaStartTsInclusive => "fauna-start-ts-inclusive",
        "Fauna: start_ts replays the events at that time too, not only those after it";
    FaunaStartTsWithCursor => "fauna-start-ts-with-cursor",
        "Fauna: start_ts together with cursor is accepted (the cursor wins) instead of 400";
    FaunaHistoryWindowIgnored => "fauna-history-window-ignored",
        "Fauna: a start before the collection's history window replays anyway";
    FaunaReplayUnlimited => "fauna-replay-unlimited",
        "Fauna: a replay of more than 128 events is sent whole, without stream_replay_volume_exceeded";
    FaunaLeaveAsUpdate => "fauna-leave-as-update",
        "Fauna: a document updated out of a set gets an update event instead of remove";
    FaunaErrorKeepsStream => "fauna-error-keeps-stream",
        "Fauna: after an invalid_stream_start_time error event the stream carries on";
    FaunaUnauthorized403 => "fauna-unauthorized-403",
        "Fauna: /stream/1 answers a missing or wrong secret with 403 forbidden instead of 401 unauthorized";
    FaunaStatusCursorStale => "fauna-status-cursor-stale",
        "Fauna: a status event's cursor points at the token's start, not at the stream's position, so resuming from it replays old events";
    FaunaDocumentSourceWholeCollection => "fauna-document-source-whole-collection",
        "Fauna: a single-document event source streams every document of its collection";
    FaunaTokenError500 => "fauna-token-error-500",
        "Fauna: /stream/1 answers a body without a token, or with a token no query made, with 500 internal_error instead of 400";
    FaunaTxnTsMillis => "fauna-txn-ts-millis",
        "Fauna: status events give txn_ts in milliseconds, not microseconds";
    FaunaNoStatusKeepalive => "fauna-no-status-keepalive",
        "Fauna: an idle stream gets no periodic status event after the first";
    FaunaErrorEventCursor => "fauna-error-event-cursor",
        "Fauna: the error event of a start before the history window carries a cursor and no stats";
    FaunaStartTimeCodeGeneric => "fauna-start-time-code-generic",
        "Fauna: a start before the history window ends with the error code invalid_request, not invalid_stream_start_time";
    // Actyx (keep Actyx's defects after this line).
    ActyxAuthOptional => "actyx-auth-optional",
        "Actyx: a request without an Authorization header is served as app com.example.anonymous";
    AccessTokenIgnored => "access-token-ignored",
        "Actyx: the access_token query parameter is ignored";
    AcceptIgnored => "accept-ignored",
        "Actyx: the Accept header is not checked";
    ContentTypeIgnored => "content-type-ignored",
        "Actyx: the Content-Type header is not checked";
    TimestampMillis => "timestamp-millis",
        "Actyx: publish answers timestamps in milliseconds";
    OffsetsPresentLags => "offsets-present-lags",
        "Actyx: events/offsets names one offset less than the newest in present";
    QueryUpperExclusive => "query-upper-exclusive",
        "Actyx: a query's upperBound is exclusive";
    DescUnsorted => "desc-unsorted",
        "Actyx: a query with order desc is answered in ascending order";
    TieBreakReversed => "tie-break-reversed",
        "Actyx: events with equal lamports sort by stream id descending";
    TagPrecedenceFlat => "tag-precedence-flat",
        "Actyx: & and | in FROM bind equally, left to right";
    SubscribeLiveGap => "subscribe-live-gap",
        "Actyx: subscribe drops the first live event after the offsets line";
    CaughtUpNeverTrue => "caught-up-never-true",
        "Actyx: subscribe_monotonic sends caughtUp: false on every event";
    NoTimeTravel => "no-time-travel",
        "Actyx: subscribe_monotonic delivers an event sorting before one already delivered instead of timeTravel";
    TimeTravelStaysOpen => "time-travel-stays-open",
        "Actyx: subscribe_monotonic stays open after a timeTravel line";
    MonotonicResumeSkips => "monotonic-resume-skips",
        "Actyx: subscribe_monotonic skips the first event after its lowerBound in each stream";
    ActyxNoKeepalive => "actyx-no-keepalive",
        "Actyx: idle feeds get no blank lines";
    SubscribeLowerInclusive => "subscribe-lower-inclusive",
        "Actyx: subscribe's lowerBound is inclusive, so a resumed subscriber gets the event at the bound again";
    CaughtUpAlwaysTrue => "caught-up-always-true",
        "Actyx: subscribe_monotonic sends caughtUp: true on every catch-up event, though more remain";
    ActyxAppIdWrong => "actyx-app-id-wrong",
        "Actyx: published events carry appId com.actyx, not the publishing app's";
    MonotonicLowerBoundRequired => "monotonic-lower-bound-required",
        "Actyx: subscribe_monotonic refuses a request without lowerBound (as the real node does; the seed makes it optional)";
    QueryOrderOptional => "query-order-optional",
        "Actyx: a query without order is answered in asc order instead of refused";
    OffsetsNoCache => "offsets-no-cache",
        "Actyx: events/offsets answers Cache-Control: no-cache (as the real node does) instead of no-store";
    ContentTypeRequired => "content-type-required",
        "Actyx: a request body without Content-Type is refused with 415 instead of read as JSON";
    UpperBoundAllStreams => "upper-bound-all-streams",
        "Actyx: a query's upperBound leaves the streams it does not name unbounded";
    ActyxPrettyJson => "actyx-pretty-json",
        "Actyx: publish and offsets answer pretty-printed JSON";
    QuerySizedBody => "query-sized-body",
        "Actyx: a query's answer is sent whole with Content-Length instead of chunked";
    ToReplicateKeepsReplicated => "to-replicate-keeps-replicated",
        "Actyx: toReplicate keeps naming a stream the swarm announced after all its events arrived";
    TokenInvalid401 => "token-invalid-401",
        "Actyx: a malformed token is refused with 401 ERR_TOKEN_UNAUTHORIZED (RFC 6750's status) instead of the node's 400 ERR_TOKEN_INVALID";
}

impl Defect {
    pub fn from_name(name: &str) -> Option<Defect> {
        Defect::ALL.iter().copied().find(|d| d.name() == name)
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The defects switched on for one server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeSet<Defect>);

#[derive(Debug, thiserror::Error)]
#[error("unknown defect {name:?}; known defects: {known}")]
pub struct UnknownDefect {
    pub name: String,
    pub known: String,
}

impl Defects {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, UnknownDefect> {
        let mut set = BTreeSet::new();
        for name in names {
            let name = name.as_ref();
            let defect = Defect::from_name(name).ok_or_else(|| UnknownDefect {
                name: name.to_owned(),
                known: Defect::ALL
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            set.insert(defect);
        }
        Ok(Self(set))
    }

    pub fn contains(&self, defect: Defect) -> bool {
        self.0.contains(&defect)
    }

    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The text of `--list-defects`: one defect per line, the name first.
pub fn listing() -> String {
    let width = Defect::ALL
        .iter()
        .map(|d| d.name().len())
        .max()
        .unwrap_or(0);
    Defect::ALL
        .iter()
        .map(|d| format!("{:width$}  {}\n", d.name(), d.description()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = BTreeSet::new();
        for defect in Defect::ALL {
            assert_eq!(Defect::from_name(defect.name()), Some(*defect));
            assert!(seen.insert(defect.name()), "duplicate {defect}");
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let error = Defects::parse(&["reuse-seq-after-restart", "nope"]).unwrap_err();
        assert_eq!(error.name, "nope");
        assert!(error.to_string().contains("reuse-seq-after-restart"));
    }
}
