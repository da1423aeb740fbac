//! The driver kit every check driver is built on: a case's context, recorder, read limits and nonce, its recorded calls, and the one outcome type of a case body.
//!
//! A case body ends in one of three ways: the target kept the rules
//! (`Ok(vec![])`), it broke some (`Ok(findings)` or [`Stop::Found`]), or the
//! harness could not run the case ([`Stop::Broke`]: a refused setup call, a
//! control API that failed). Helpers that can meet either return
//! `Result<T, Stop>`, so a body passes both on with `?`; a `String` error
//! becomes `Broke` and a [`Finding`] becomes `Found`. [`Case::finish`] turns
//! the body's [`Found`] into the case's outcome, with everything recorded.

use std::time::Duration;

use scenarios::Finding;

use super::nonce;
use crate::property::CaseOutcome;
use crate::record::{self, HttpResponse, ReadLimits, Recorder};
use crate::runner::CheckContext;
use crate::transport::lines::{LineNotes, Lines};
use crate::transport::sse::{Sse, SseConn};
use crate::transport::{Observe, Stream};

/// How long a case waits for something that should arrive at once.
pub const PROMPT: Duration = Duration::from_secs(5);

/// Why a case body stopped early: what it found, or the harness broke.
#[derive(Debug)]
pub enum Stop {
    /// The target broke a rule.
    Found(Vec<Finding>),
    /// The harness could not run the case.
    Broke(String),
}

impl From<Finding> for Stop {
    fn from(finding: Finding) -> Self {
        Stop::Found(vec![finding])
    }
}

impl From<String> for Stop {
    fn from(error: String) -> Self {
        Stop::Broke(error)
    }
}

/// The value of a `Result<T, Stop>` inside a case function, or the end of
/// the case with what stopped it: `let conn = or_stop!(pulse, pulse.subscribe_ok(m, None).await);`.
macro_rules! or_stop {
    ($driver:expr, $result:expr) => {
        match $result {
            Ok(value) => value,
            Err(stop) => return $driver.finish(Err(stop)),
        }
    };
}
pub(crate) use or_stop;

impl Stop {
    /// The same stop, each message prefixed with `what` (`reconnect 2: …`).
    pub fn prefixed(self, what: &str) -> Stop {
        match self {
            Stop::Found(mut findings) => {
                for finding in &mut findings {
                    finding.message = format!("{what}: {}", finding.message);
                }
                Stop::Found(findings)
            }
            Stop::Broke(error) => Stop::Broke(format!("{what}: {error}")),
        }
    }
}

/// What a case body returns: its findings, or why it stopped.
pub type Found = Result<Vec<Finding>, Stop>;

/// One case: where it runs, what it has recorded, how much it reads, and
/// its nonce, which names everything the case makes so that cases sharing a
/// target never see each other's data.
#[derive(Debug)]
pub struct Case {
    pub ctx: CheckContext,
    pub recorder: Recorder,
    pub limits: ReadLimits,
    pub nonce: String,
}

impl Case {
    pub fn new(ctx: &CheckContext) -> Case {
        Case::named(ctx, nonce())
    }

    /// A case whose nonce is `nonce` (an API may need it to start with a letter).
    pub fn named(ctx: &CheckContext, nonce: String) -> Case {
        Case {
            ctx: ctx.clone(),
            recorder: Recorder::new(),
            limits: ReadLimits::default(),
            nonce,
        }
    }

    /// The target's base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        self.ctx.target.base_url()
    }

    /// Sends a request and reads its whole answer (within the limits and
    /// [`PROMPT`]), recording both; `Err` says why there is no answer.
    pub async fn call(&self, request: reqwest::RequestBuilder) -> Result<HttpResponse, String> {
        record::call(
            &self.recorder,
            &self.ctx.http,
            request,
            &self.limits,
            PROMPT,
        )
        .await
        .map_err(|e| e.0)
    }

    /// Opens an SSE stream, recorded; a non-2xx answer is read whole and
    /// returned as `Err(response)`.
    pub async fn open_sse(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Result<SseConn, HttpResponse>, String> {
        self.open_stream(request, Sse::new(self.limits.sse)).await
    }

    /// Opens a stream of lines of at most `max_line` bytes, recorded as `N`
    /// says; a non-2xx answer is read whole and returned as `Err(response)`.
    pub async fn open_lines<N: LineNotes>(
        &self,
        request: reqwest::RequestBuilder,
        max_line: usize,
    ) -> Result<Result<Stream<Lines<N>>, HttpResponse>, String> {
        self.open_stream(request, Lines::new(max_line)).await
    }

    /// Opens a stream read with `framing`, every item recorded.
    async fn open_stream<F: Observe>(
        &self,
        request: reqwest::RequestBuilder,
        framing: F,
    ) -> Result<Result<Stream<F>, HttpResponse>, String> {
        let opened = record::open_stream(
            &self.recorder,
            &self.ctx.http,
            request,
            &self.limits,
            PROMPT,
        )
        .await
        .map_err(|e| e.0)?;
        Ok(opened.map(|open| Stream::new(open, framing, &self.recorder)))
    }

    /// The case's outcome from its findings, with everything recorded.
    pub fn done(&self, findings: Vec<Finding>) -> Result<CaseOutcome, String> {
        self.finish(Ok(findings))
    }

    /// The case's outcome from what its body returned: a harness error
    /// fails the run, findings fail the check.
    pub fn finish(&self, found: Found) -> Result<CaseOutcome, String> {
        let findings = match found {
            Ok(findings) | Err(Stop::Found(findings)) => findings,
            Err(Stop::Broke(error)) => return Err(error),
        };
        Ok(CaseOutcome {
            findings,
            transcript: self.recorder.transcript(),
        })
    }
}
