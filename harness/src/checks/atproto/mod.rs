//! The AT Protocol firehose's checks (seed 002) and their driver.
//!
//! The driver makes its own account through `com.atproto.server.createAccount`
//! (open on the reference server and on a PDS with invites off) and produces
//! commits through `com.atproto.repo.createRecord` and friends, so the checks
//! need no control API. Frames are read from `subscribeRepos` over a
//! WebSocket with a message-size limit and timeouts; each one is recorded in
//! the transcript as a note with its type, seq and size. Keys are resolved
//! from the PLC directory `--plc-url` (`{target}/_plc`, the reference
//! server's built-in one, when not given).
//!
//! # Layout
//!
//! - [`checks`]: frames, error headers, `FutureCursor`, relay verification.
//! - [`replay`]: the cursor rules of a replay: after the cursor, either reading, cursor 0.
//! - [`cuts`]: at-least-once across connections the client cuts, resumed by cursor.
//! - [`more`]: event shapes, `OutdatedCursor`, seq order.
//! - [`identity`]: `#account` on a status change, `#identity` on a handle change.
//! - [`labels`]: the label stream: signed labels, replay from a cursor.
//! - [`label_cursors`]: `FutureCursor` and `OutdatedCursor` on the label stream.
//! - [`formats`]: the lexicon's `did`, `tid` and `datetime` formats.
//! - [`relay`]: a relay's verification of a `#commit`.
//! - [`slow`]: `ConsumerTooSlow` for a consumer that falls behind.

mod checks;
mod cuts;
mod formats;
mod identity;
mod label_cursors;
mod labels;
mod more;
mod relay;
mod replay;
mod slow;

use std::time::Duration;

use futures_util::StreamExt;
use scenarios::transcript::Observed;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use wire::cbor::{DecodeLimits, Value as Cbor};
use wire::frame::{Frame, decode_frame};

use super::case::Case;
pub(crate) use super::fixed_property;
use crate::client::atproto;
use crate::property::PropertyCheck;
use crate::record::Recorder;
use crate::runner::{Check, CheckContext};
use crate::transport::ws;

/// Every AT Protocol check, in catalogue order.
pub fn checks() -> Vec<Box<dyn Check>> {
    vec![
        PropertyCheck::boxed(checks::StrictFrames),
        PropertyCheck::boxed(checks::ErrorHeader),
        PropertyCheck::boxed(more::EventShapes),
        PropertyCheck::boxed(checks::FutureCursor),
        PropertyCheck::boxed(replay::ReplayAfter),
        PropertyCheck::boxed(replay::ReplayEitherReading),
        PropertyCheck::boxed(replay::CursorZero),
        PropertyCheck::boxed(more::OutdatedCursor),
        PropertyCheck::boxed(more::SeqIncreasing),
        PropertyCheck::boxed(cuts::ResumeAfterCuts),
        PropertyCheck::boxed(slow::ConsumerTooSlow),
        PropertyCheck::boxed(checks::RelayCommit),
        PropertyCheck::boxed(identity::AccountStatus),
        PropertyCheck::boxed(identity::IdentityHandle),
        PropertyCheck::boxed(labels::LabelsSigned),
        PropertyCheck::boxed(labels::LabelsReplay),
        PropertyCheck::boxed(label_cursors::LabelsFutureCursor),
        PropertyCheck::boxed(label_cursors::LabelsOutdatedCursor),
    ]
}

pub use crate::client::atproto::{COLLECTION, Session};

pub use super::case::PROMPT;
/// The largest WebSocket message read: a 2,000,000-byte CAR and its fields.
const MAX_MESSAGE: usize = 3 << 20;

/// One case's view of the AT Protocol.
#[derive(Debug)]
pub struct Atproto {
    case: Case,
}

impl std::ops::Deref for Atproto {
    type Target = Case;

    fn deref(&self) -> &Case {
        &self.case
    }
}

/// One message read from a subscription.
#[derive(Debug)]
pub enum Received {
    /// A binary message and how it decoded.
    Frame(Result<Frame, String>),
    /// A text message (never valid on an event stream).
    Text(String),
    /// The connection ended, or nothing came in time.
    Closed(String),
    Silent,
}

/// A `subscribeRepos` connection.
#[derive(Debug)]
pub struct Subscription {
    ws: ws::Socket,
    conn: u32,
    recorder: Recorder,
}

impl Atproto {
    /// A case whose nonce starts with a letter, as a handle's first label must.
    pub fn new(ctx: &CheckContext) -> Self {
        Self {
            case: Case::named(ctx, format!("h{}", super::nonce())),
        }
    }

    /// `POST /xrpc/{method}`; the answer's status and JSON body.
    pub async fn post(
        &self,
        method: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<(u16, Value), String> {
        let mut request = self
            .ctx
            .http
            .post(format!("{}/xrpc/{method}", self.base()))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = self
            .call(request)
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        Ok((response.status, response.json().unwrap_or(Value::Null)))
    }

    /// `POST /xrpc/{method}` without a body (a procedure with no input), with `token`.
    pub async fn post_bare(&self, method: &str, token: &str) -> Result<(u16, Value), String> {
        let request = self
            .ctx
            .http
            .post(format!("{}/xrpc/{method}", self.base()))
            .bearer_auth(token);
        let response = self
            .call(request)
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        Ok((response.status, response.json().unwrap_or(Value::Null)))
    }

    /// A fresh account, `n` distinguishing several in one case.
    pub async fn account(&self, n: usize) -> Result<Session, String> {
        let name = format!("{}{n}", self.nonce);
        let body = atproto::account(&name, &format!("pw-{}", self.nonce));
        let (status, answer) = self.post(atproto::CREATE_ACCOUNT, None, &body).await?;
        Session::from_answer(status, &answer)
    }

    /// Calls a write method for `session` and insists on a 200.
    pub async fn write(
        &self,
        session: &Session,
        method: &str,
        body: Value,
    ) -> Result<Value, String> {
        let (status, answer) = self.post(method, Some(&session.access), &body).await?;
        if status == 200 {
            Ok(answer)
        } else {
            Err(format!("{method} answered {status} {answer}"))
        }
    }

    /// Creates a post in `session`'s repo under `rkey`.
    pub async fn post_record(&self, session: &Session, rkey: &str) -> Result<Value, String> {
        self.post_text(session, rkey, "").await
    }

    /// Creates a post in `session`'s repo under `rkey`, `filler` appended to its text.
    pub async fn post_text(
        &self,
        session: &Session,
        rkey: &str,
        filler: &str,
    ) -> Result<Value, String> {
        let record = atproto::record(&format!("{} {rkey}{filler}", self.nonce));
        let body = atproto::create_record(&session.did, Some(rkey), record);
        self.write(session, atproto::CREATE_RECORD, body).await
    }

    /// The `publicKeyMultibase` of `did`'s `#atproto` key, from the directory.
    pub async fn signing_key(&self, did: &str) -> Result<String, String> {
        self.key(did, "atproto").await
    }

    /// The `publicKeyMultibase` of `did`'s `#fragment` key, from the directory.
    pub async fn key(&self, did: &str, fragment: &str) -> Result<String, String> {
        let url = match &self.ctx.credentials.plc_url {
            Some(plc) => format!("{}/{did}", plc.trim_end_matches('/')),
            None => format!("{}/_plc/{did}", self.base()),
        };
        let response = self.call(self.ctx.http.get(url)).await?;
        let doc = response
            .json()
            .ok_or_else(|| format!("the DID document of {did} is not JSON"))?;
        let method = doc["verificationMethod"]
            .as_array()
            .and_then(|methods| {
                methods.iter().find(|m| {
                    m["id"] == format!("{did}#{fragment}") || m["id"] == format!("#{fragment}")
                })
            })
            .ok_or_else(|| format!("the DID document of {did} has no #{fragment} key"))?;
        let multibase = method["publicKeyMultibase"]
            .as_str()
            .ok_or_else(|| format!("the #{fragment} key of {did} has no publicKeyMultibase"))?;
        Ok(match method["type"].as_str() {
            Some(relay::LEGACY_K256) => relay::legacy_k256(multibase),
            _ => multibase.to_owned(),
        })
    }

    /// Opens `subscribeRepos`, with `cursor` when given.
    pub async fn subscribe(&self, cursor: Option<u64>) -> Result<Subscription, String> {
        self.subscribe_to(atproto::SUBSCRIBE_REPOS, cursor).await
    }

    /// Opens the subscription `method`, with `cursor` when given.
    pub async fn subscribe_to(
        &self,
        method: &str,
        cursor: Option<u64>,
    ) -> Result<Subscription, String> {
        self.subscribe_with(method, cursor, None).await
    }

    /// Opens the subscription `method` on a socket whose receive buffer is
    /// `recv_buffer` bytes when given (the kernel's default otherwise).
    pub async fn subscribe_with(
        &self,
        method: &str,
        cursor: Option<u64>,
        recv_buffer: Option<u32>,
    ) -> Result<Subscription, String> {
        let url = atproto::subscription_url(self.base(), method, cursor);
        let conn = self.recorder.new_conn();
        self.recorder.record(
            conn,
            Observed::Request {
                method: "GET".to_owned(),
                url: url.clone(),
                headers: vec![("upgrade".to_owned(), "websocket".to_owned())],
            },
        );
        match ws::open_with_buffer(&url, MAX_MESSAGE, PROMPT, recv_buffer).await {
            Ok((ws, response)) => {
                self.recorder.record(
                    conn,
                    Observed::Response {
                        status: response.status().as_u16(),
                        headers: Vec::new(),
                        body: None,
                    },
                );
                Ok(Subscription {
                    ws,
                    conn,
                    recorder: self.recorder.clone(),
                })
            }
            Err(e) => Err(format!("{method}: {e}")),
        }
    }
}

impl Subscription {
    /// The next message within `wait`; pings and pongs are skipped, and do
    /// not extend `wait`: a server that only pings is silent.
    pub async fn next(&mut self, wait: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Received::Silent,
                Ok(None) => return self.closed("the server closed the connection".to_owned()),
                Ok(Some(Err(e))) => return self.closed(format!("the connection failed: {e}")),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Binary(bytes) => {
                    let frame =
                        decode_frame(&bytes, &DecodeLimits::default()).map_err(|e| e.to_string());
                    let text = match &frame {
                        Ok(frame) => format!(
                            "frame {} seq {} ({} bytes)",
                            frame.header.t.as_deref().unwrap_or("error"),
                            seq(frame).map_or("-".to_owned(), |s| s.to_string()),
                            bytes.len()
                        ),
                        Err(e) => format!("undecodable frame ({} bytes): {e}", bytes.len()),
                    };
                    self.recorder.record(self.conn, Observed::Note { text });
                    return Received::Frame(frame);
                }
                Message::Text(text) => return Received::Text(text.to_string()),
                Message::Close(frame) => {
                    return self.closed(format!("close frame {frame:?}"));
                }
                _ => {}
            }
        }
    }

    fn closed(&self, reason: String) -> Received {
        self.recorder.record(
            self.conn,
            Observed::Closed {
                reason: reason.clone(),
            },
        );
        Received::Closed(reason)
    }

    /// Frames until one satisfies `stop`, at most `max` frames, each within [`PROMPT`].
    pub async fn frames_until(
        &mut self,
        max: usize,
        mut stop: impl FnMut(&Frame) -> bool,
    ) -> Result<Vec<Frame>, String> {
        let mut frames = Vec::new();
        while frames.len() < max {
            match self.next(PROMPT).await {
                Received::Frame(Ok(frame)) => {
                    let last = stop(&frame);
                    frames.push(frame);
                    if last {
                        return Ok(frames);
                    }
                }
                Received::Frame(Err(e)) => return Err(format!("an undecodable frame: {e}")),
                Received::Text(_) => return Err("a text message on the event stream".to_owned()),
                Received::Closed(reason) => return Err(reason),
                Received::Silent => return Err(format!("no frame within {PROMPT:?}")),
            }
        }
        Err(format!("{max} frames without the one awaited"))
    }
}

impl Subscription {
    /// Frames until the `n`th `#commit` of `did` (at most `max` frames).
    pub async fn until_commits(
        &mut self,
        did: &str,
        n: usize,
        max: usize,
    ) -> Result<Vec<Frame>, String> {
        let mut commits = 0;
        self.frames_until(max, |frame| {
            if about(frame, did) && frame.header.t.as_deref() == Some("#commit") {
                commits += 1;
            }
            commits == n
        })
        .await
    }
}

/// The `seq` of a frame, when it has one.
pub fn seq(frame: &Frame) -> Option<u64> {
    frame
        .body
        .get("seq")
        .and_then(Cbor::as_i64)
        .and_then(|s| u64::try_from(s).ok())
}

/// The DID a frame is about (`repo` of a commit, `did` of the others).
pub fn did_of(frame: &Frame) -> Option<&str> {
    frame
        .body
        .get("repo")
        .or_else(|| frame.body.get("did"))
        .and_then(Cbor::as_str)
}

/// Whether a frame is about `did`.
pub fn about(frame: &Frame, did: &str) -> bool {
    did_of(frame) == Some(did)
}
