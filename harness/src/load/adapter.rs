//! How the load engine publishes to and subscribes on each API, with a marker in every payload.
//!
//! The marker is the run id and the event's number `k`: in the payload
//! (`{"load": RUN, "k": K}`) where the API carries one, in the record key
//! (`ld-K`, in an account made for the run) on the AT Protocol. Readers take
//! messages and lines up to a size limit and read, besides the marker, the
//! time an event carries and the position to resume from after a drop. The
//! Actyx and AT Protocol readers read only those fields (`actyx_line.rs`,
//! `firehose_frame.rs`): at a hundred subscribers the harness shares the
//! cores with the server it measures. A
//! passive run (nothing published) creates nothing on the target and reads
//! what `--stream` names. Fibric and Pulse publish through the reference
//! server's control API, or through `--producer` on any other server
//! (`produced.rs`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use scenarios::Api;

use crate::client::atproto::{self, COLLECTION, Session};
use crate::client::{actyx, fauna, fibric, pulse};
use crate::producer::Producers;
use crate::target::Credentials;
use crate::transport::{Body, http1, ws};

mod actyx_line;
mod endpoints;
mod firehose_frame;
mod frames;
mod json_events;
mod produced;
pub use endpoints::Endpoint;
pub use frames::{Event, Frame, Frames, Position, Step};
use frames::{MAX_FRAME, line_frames, sse_frames};
use json_events::{fauna_line, fibric_event, pulse_event};

/// The most firehose messages a subscriber takes in one read.
const FIREHOSE_READ: usize = 256;

/// How long a publish or a connect may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What an adapter needs to reach the target.
#[derive(Debug, Clone)]
pub struct Access {
    pub base: String,
    /// Where subscribers connect: `base`, or a proxy in front of it.
    pub subscribe_base: String,
    pub control_token: String,
    /// The same credentials `check` uses; load's Fibric subscribers use the first key.
    pub credentials: Credentials,
    /// `Some` for a passive run (nothing published): what subscribers read
    /// (`--stream`), or `None` inside for the API's default.
    pub passive: Option<Option<String>>,
    /// `--producer`: Fibric and Pulse publish through it instead of the control API.
    pub producer: Option<ProducerCommand>,
}

/// A `--producer` command, and how many processes of it to run: one per
/// publisher worker, so the workers publish side by side.
#[derive(Debug, Clone)]
pub struct ProducerCommand {
    pub command: String,
    pub processes: u32,
}

/// A target's API as the load engine drives it.
#[derive(Debug)]
pub struct Adapter {
    http: reqwest::Client,
    access: Access,
    run: String,
    api: ApiState,
    /// The running `--producer` processes, if the run publishes through them.
    producers: Option<Arc<Producers>>,
}

#[derive(Debug, Clone)]
enum ApiState {
    Fibric,
    /// The model the rows are written to, and one event of it for
    /// `GET /events/{id}` (none in a passive run).
    Pulse {
        model: String,
        lookup: Option<String>,
    },
    /// The collection the documents are created in, and its event source.
    Fauna {
        collection: String,
        token: String,
    },
    Actyx {
        token: String,
    },
    /// The account made for the run (empty in a passive run).
    Atproto(Session),
}

impl Adapter {
    /// Logs in or makes an account where the API needs one; a passive run
    /// makes nothing and only finds what to read.
    pub async fn prepare(api: Api, access: Access, run: String) -> Result<Adapter, String> {
        let http = http_client()?;
        let base = access.base.clone();
        if let Some(stream) = access.passive.clone() {
            let state = passive_state(&http, api, &access, stream).await?;
            return Ok(Adapter {
                http,
                access,
                run,
                api: state,
                producers: None,
            });
        }
        let producers = match &access.producer {
            Some(producer) if matches!(api, Api::Fibric | Api::Pulse) => {
                let processes = producer.processes as usize;
                let started = Producers::spawn(&producer.command, processes).map_err(|e| {
                    format!("the producer {:?} did not start: {e}", producer.command)
                })?;
                Some(Arc::new(started))
            }
            Some(_) => {
                return Err(format!(
                    "{api} publishes through its own API, not a --producer"
                ));
            }
            None => None,
        };
        let state = match api {
            Api::Fibric => ApiState::Fibric,
            Api::Pulse => pulse_state(&http, &access, &run, producers.as_deref()).await?,
            Api::Fauna => {
                let collection = format!("HarnessLoad{run}");
                fql(
                    &http,
                    &access,
                    format!("Collection.create({{ name: {} }})", json!(collection)),
                )
                .await?;
                let token = event_source(&http, &access, &format!("{collection}.all()")).await?;
                ApiState::Fauna { collection, token }
            }
            Api::Actyx => ApiState::Actyx {
                token: actyx_token(&http, &access).await?,
            },
            Api::Atproto => {
                // The official PDS refuses a service handle's first label
                // beyond 18 characters: the run id's last (random) ten suffice.
                let tail = &run[run.len().saturating_sub(10)..];
                let name = format!("ld{}", tail.to_lowercase());
                let body = atproto::account(&name, &format!("pw-{run}"));
                let answer = json_call(
                    http.post(format!("{base}{}", atproto::xrpc(atproto::CREATE_ACCOUNT)))
                        .json(&body),
                )
                .await?;
                ApiState::Atproto(Session::from_answer(200, &answer)?)
            }
        };
        Ok(Adapter {
            http,
            access,
            run,
            api: state,
            producers,
        })
    }

    /// The same adapter (account, collection, event source) for the target
    /// restarted at `base`. It has a client of its own, so no pooled
    /// connection to the old process is reused, and logs in to Actyx again:
    /// a node's tokens expire when it restarts.
    pub async fn rebased(&self, base: &str) -> Result<Adapter, String> {
        let http = http_client()?;
        let mut access = self.access.clone();
        access.base = base.to_owned();
        access.subscribe_base = base.to_owned();
        let mut api = self.api.clone();
        if let ApiState::Actyx { token } = &mut api {
            *token = actyx_token(&http, &access).await?;
        }
        Ok(Adapter {
            http,
            access,
            run: self.run.clone(),
            api,
            producers: self.producers.clone(),
        })
    }

    /// Publishes event `k` and waits for the target's acknowledgement.
    pub async fn publish(&self, k: u64) -> Result<(), String> {
        self.publish_batch(&[k]).await
    }

    /// Publishes events `ks` in one request (see [`takes_batches`]) and waits
    /// for the acknowledgement, read to the end so the connection is reused.
    pub async fn publish_batch(&self, ks: &[u64]) -> Result<(), String> {
        if let Some(producers) = &self.producers {
            return self.produce(producers, ks).await.map(drop);
        }
        let response = self.send_publish(ks).await?;
        response.bytes().await.map(drop).map_err(|e| e.to_string())
    }

    /// Publishes event `k` and returns the target's acknowledgement: the
    /// JSON answer with the position the API gave the event (Actyx `offset`
    /// and `lamport`, the AT Protocol's `commit.rev`, Fauna's `txn_ts`).
    pub async fn publish_answer(&self, k: u64) -> Result<Value, String> {
        if let Some(producers) = &self.producers {
            return self.produce(producers, &[k]).await;
        }
        let response = self.send_publish(&[k]).await?;
        response
            .json()
            .await
            .map_err(|e| format!("the acknowledgement is not JSON: {e}"))
    }

    /// Sends events `ks` (one, but for the APIs that take batches) and
    /// insists on a 2xx answer, whose body is left unread.
    async fn send_publish(&self, ks: &[u64]) -> Result<reqwest::Response, String> {
        let base = &self.access.base;
        let &[k, ..] = ks else {
            return Err("nothing to publish".to_owned());
        };
        if ks.len() > 1 && !matches!(self.api, ApiState::Fibric | ApiState::Actyx { .. }) {
            return Err("only Actyx and Fibric take several events in one publish".to_owned());
        }
        let request = match &self.api {
            ApiState::Fibric => {
                let envelopes: Vec<Value> = ks.iter().map(|&k| self.envelope(k)).collect();
                self.http
                    .post(format!("{base}{}", fibric::ENVELOPES))
                    .bearer_auth(&self.access.control_token)
                    .json(&fibric::envelopes(&envelopes))
            }
            ApiState::Pulse { model, .. } => self
                .http
                .post(format!("{base}{}", pulse::rows(model)))
                .bearer_auth(&self.access.control_token)
                .json(&pulse::change("create", self.row(k))),
            ApiState::Fauna { collection, .. } => self
                .http
                .post(format!("{base}{}", fauna::QUERY))
                .bearer_auth(&self.access.credentials.fauna_secret)
                .json(&fauna::query(&format!(
                    "{collection}.create({{ load: {}, k: {k} }})",
                    json!(self.run)
                ))),
            ApiState::Actyx { token } => {
                let tag = json!([self.tag()]);
                let events = ks
                    .iter()
                    .map(|k| (tag.clone(), json!({"load": self.run, "k": k})));
                self.http
                    .post(format!("{base}{}", actyx::events("publish")))
                    .bearer_auth(token)
                    .json(&actyx::publish(events))
            }
            ApiState::Atproto(session) => {
                let rkey = format!("ld-{k}");
                let body =
                    atproto::create_record(&session.did, Some(&rkey), atproto::record("load"));
                self.http
                    .post(format!("{base}{}", atproto::xrpc(atproto::CREATE_RECORD)))
                    .bearer_auth(&session.access)
                    .json(&body)
            }
        };
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else {
            let body = response.text().await.unwrap_or_default();
            Err(format!(
                "{status} {}",
                body.chars().take(200).collect::<String>()
            ))
        }
    }

    /// Publishes events `ks` through the `--producer`; its answer is the acknowledgement.
    async fn produce(&self, producers: &Producers, ks: &[u64]) -> Result<Value, String> {
        match &self.api {
            ApiState::Fibric => {
                produced::append(producers, ks.iter().map(|&k| self.envelope(k)).collect()).await
            }
            ApiState::Pulse { model, .. } => match ks {
                &[k] => produced::create_row(producers, model, self.row(k)).await,
                _ => Err("a Pulse row change carries one event".to_owned()),
            },
            _ => Err("only Fibric and Pulse publish through a --producer".to_owned()),
        }
    }

    /// The Fibric envelope of event `k`.
    fn envelope(&self, k: u64) -> Value {
        json!({
            "tenant_id": self.access.credentials.fibric_tenants[0],
            "event_id": format!("ld_{}_{k}", self.run),
            "event_type": "harness.load",
            "source": "harness",
            "payload": {"load": self.run, "k": k},
        })
    }

    /// The Pulse row whose creation is event `k`.
    fn row(&self, k: u64) -> Value {
        json!({"id": format!("ld{k}"), "load": self.run, "k": k})
    }

    fn tag(&self) -> String {
        format!("harness.load.{}", self.run)
    }

    /// Where a run's subscriber starts. An Actyx subscription without a
    /// lower bound first searches the stream's whole history for the run's
    /// tag, so a publishing run starts at the node's present offsets; every
    /// other stream starts live by itself.
    pub async fn start_position(&self) -> Result<Position, String> {
        let ApiState::Actyx { token } = &self.api else {
            return Ok(Position::Start);
        };
        if self.access.passive.is_some() {
            return Ok(Position::Start);
        }
        let offsets = json_call(
            self.http
                .get(format!("{}{}", self.access.base, actyx::events("offsets")))
                .bearer_auth(token),
        )
        .await?;
        Ok(Position::Offsets(actyx::present(&offsets)?))
    }

    /// Opens one live subscription, resuming after `from` where the API can
    /// (Pulse's `/subscribe` is live only); returns once the stream has answered.
    pub async fn subscribe(&self, from: &Position) -> Result<Frames, String> {
        let base = &self.access.subscribe_base;
        let passive = self.access.passive.as_ref();
        let run = self.run.clone();
        match &self.api {
            ApiState::Fibric => {
                let filters = match passive {
                    Some(stream) => stream.clone().unwrap_or_default(),
                    None => "event_type=harness.load".to_owned(),
                };
                let mut request = self
                    .http
                    .get(format!("{base}{}", fibric::stream_path(&filters)))
                    .bearer_auth(&self.access.credentials.fibric_keys[0])
                    .header("accept", "text/event-stream");
                if let Position::Id(id) = from {
                    request = request.header(fibric::LAST_EVENT_ID, id);
                }
                Ok(sse_frames(open(request).await?, move |data| {
                    fibric_event(data, &run)
                }))
            }
            ApiState::Pulse { model, .. } => {
                let request = self
                    .http
                    .post(format!("{base}{}", pulse::SUBSCRIBE))
                    .bearer_auth(&self.access.credentials.pulse_key)
                    .header("accept", "text/event-stream")
                    .json(&pulse::subscription(model));
                Ok(sse_frames(open(request).await?, move |data| {
                    pulse_event(data, &run)
                }))
            }
            ApiState::Fauna { token, .. } => {
                let cursor = match from {
                    Position::Id(cursor) => Some(cursor.as_str()),
                    _ => None,
                };
                let request = self
                    .http
                    .post(format!("{base}{}", fauna::STREAM))
                    .bearer_auth(&self.access.credentials.fauna_secret)
                    .json(&fauna::stream(token, cursor));
                Ok(line_frames(open(request).await?, move |line| {
                    fauna_line(line, &run)
                }))
            }
            ApiState::Actyx { token } => {
                let query = match passive {
                    Some(stream) => stream
                        .clone()
                        .unwrap_or_else(|| "FROM allEvents".to_owned()),
                    None => format!("FROM '{}'", self.tag()),
                };
                let bound = match from {
                    Position::Offsets(seen) => Some(seen),
                    _ => None,
                };
                let request = self
                    .http
                    .post(format!("{base}{}", actyx::events("subscribe")))
                    .bearer_auth(token)
                    .header("accept", actyx::NDJSON)
                    .json(&actyx::subscribe(&query, bound));
                Ok(line_frames(open(request).await?, move |line| {
                    actyx_line::read(line, &run)
                }))
            }
            ApiState::Atproto(session) => {
                let cursor = match from {
                    Position::Seq(seq) => Some(*seq),
                    _ => None,
                };
                self.firehose(session.did.clone(), cursor).await
            }
        }
    }

    async fn firehose(&self, did: String, cursor: Option<i64>) -> Result<Frames, String> {
        let url = atproto::subscription_url(
            &self.access.subscribe_base,
            atproto::SUBSCRIBE_REPOS,
            cursor,
        );
        let (ws, _) = ws::open(&url, MAX_FRAME, REQUEST_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        let prefix = format!("{COLLECTION}/ld-");
        let messages = ws
            .filter_map(move |message| {
                // Every frame but an error frame (`op` -1) or `#info` is an event.
                let event = |bytes: &[u8]| firehose_frame::read(bytes, &did, &prefix);
                let frame = match message {
                    Ok(Message::Binary(bytes)) => {
                        let (event, seq) = event(&bytes).unzip();
                        Some(Ok(Frame {
                            bytes: bytes.len(),
                            event,
                            step: seq.flatten().map(Step::Seq),
                        }))
                    }
                    Ok(Message::Close(_)) => Some(Err("the server closed the firehose".to_owned())),
                    Ok(_) => None,
                    Err(e) => Some(Err(e.to_string())),
                };
                std::future::ready(frame)
            })
            // A batch cut short by the end is handed on, and the end asked for again.
            .fuse()
            .boxed();
        Ok(ready_batches(messages))
    }
}

/// The messages already read, together: one read's worth, as an SSE read is,
/// at most [`FIREHOSE_READ`]. Unlike `ready_chunks`, a batch holds only what
/// came (an idle subscriber keeps no room for 256 frames), and the frames
/// before an error are handed on before it.
fn ready_batches(
    mut messages: futures_util::stream::BoxStream<'static, Result<Frame, String>>,
) -> Frames {
    use std::task::Poll;
    let mut failed: Option<String> = None;
    futures_util::stream::poll_fn(move |cx| {
        if let Some(error) = failed.take() {
            return Poll::Ready(Some(Err(error)));
        }
        let mut read = Vec::new();
        while read.len() < FIREHOSE_READ {
            match messages.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(frame))) => read.push(frame),
                Poll::Ready(Some(Err(error))) if read.is_empty() => {
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(Some(Err(error))) => {
                    failed = Some(error);
                    break;
                }
                Poll::Ready(None) | Poll::Pending if !read.is_empty() => break,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Some(Ok(read)))
    })
    .boxed()
}

/// Whether one publish request of `api` may carry several events (`--batch`).
pub fn takes_batches(api: Api) -> bool {
    matches!(api, Api::Actyx | Api::Fibric)
}

/// Why a passive run of `api` cannot start without `--stream`, if it cannot.
pub fn passive_needs_stream(api: Api) -> Option<&'static str> {
    match api {
        Api::Pulse => Some("a passive Pulse run needs the model to watch: --stream MODEL"),
        Api::Fauna => {
            Some("a passive Fauna run needs the set to watch, in FQL: --stream 'Product.all()'")
        }
        Api::Fibric | Api::Actyx | Api::Atproto => None,
    }
}

/// A publishing Pulse run's model, declared through the control API or the
/// producer, with one row written up front for the request load to look up.
async fn pulse_state(
    http: &reqwest::Client,
    access: &Access,
    run: &str,
    producers: Option<&Producers>,
) -> Result<ApiState, String> {
    let model = format!("HarnessLoad_{run}");
    let lookup_row = json!({"id": "lookup", "load": run});
    let seed = if let Some(producers) = producers {
        produced::declare_model(producers, &model).await?;
        produced::create_row(producers, &model, lookup_row).await?
    } else {
        let (base, token) = (&access.base, &access.control_token);
        let declaration =
            json!({"name": model, "primary_key": "id", "replica_identity": "default"});
        let declare = http.post(format!("{base}{}", pulse::MODELS));
        json_call(declare.bearer_auth(token).json(&declaration)).await?;
        let seed = http.post(format!("{base}{}", pulse::rows(&model)));
        let change = pulse::change("create", lookup_row);
        json_call(seed.bearer_auth(token).json(&change)).await?
    };
    let lookup = seed["id"].as_str().map(str::to_owned);
    Ok(ApiState::Pulse { model, lookup })
}

/// What a passive run reads; it makes nothing on the target.
async fn passive_state(
    http: &reqwest::Client,
    api: Api,
    access: &Access,
    stream: Option<String>,
) -> Result<ApiState, String> {
    Ok(match api {
        Api::Fibric => ApiState::Fibric,
        Api::Pulse => ApiState::Pulse {
            model: stream.ok_or(passive_needs_stream(api).unwrap_or_default())?,
            lookup: None,
        },
        Api::Fauna => {
            let set = stream.ok_or(passive_needs_stream(api).unwrap_or_default())?;
            ApiState::Fauna {
                collection: String::new(),
                token: event_source(http, access, &set).await?,
            }
        }
        Api::Actyx => ApiState::Actyx {
            token: actyx_token(http, access).await?,
        },
        // The firehose carries every repository's commits; no account is needed.
        Api::Atproto => ApiState::Atproto(Session {
            did: String::new(),
            access: String::new(),
        }),
    })
}

/// The HTTP client of an adapter.
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(64)
        .build()
        .map_err(|e| e.to_string())
}

/// Runs one FQL query with the run's secret.
async fn fql(http: &reqwest::Client, access: &Access, text: String) -> Result<Value, String> {
    let (name, value) = fauna::FORMAT;
    json_call(
        http.post(format!("{}{}", access.base, fauna::QUERY))
            .bearer_auth(&access.credentials.fauna_secret)
            .header(name, value)
            .json(&fauna::query(&text)),
    )
    .await
}

/// The event-source token of an FQL set, such as `Product.all()`.
async fn event_source(
    http: &reqwest::Client,
    access: &Access,
    set: &str,
) -> Result<String, String> {
    let answer = fql(http, access, fauna::event_source(set)).await?;
    fauna::stream_token(&answer["data"])
        .map(str::to_owned)
        .ok_or_else(|| format!("`{set}.eventSource()` answered {answer}"))
}

/// An Actyx bearer token for the run's app id.
async fn actyx_token(http: &reqwest::Client, access: &Access) -> Result<String, String> {
    let manifest = actyx::manifest(&access.credentials.actyx_app_id, "streamcheck load");
    let answer = json_call(
        http.post(format!("{}{}", access.base, actyx::AUTH))
            .json(&manifest),
    )
    .await?;
    actyx::token(200, &answer)
        .map(str::to_owned)
        .ok_or_else(|| format!("POST /api/v2/auth answered {answer}"))
}

/// Sends a request and returns its JSON answer, or why not.
async fn json_call(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("{status}: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status} {body}"))
    }
}

/// Sends a streaming request and insists on a 2xx head.
async fn open(request: reqwest::RequestBuilder) -> Result<Body, String> {
    // A stream runs as long as the run: only the head has a deadline.
    let (client, request) = request
        .timeout(Duration::from_secs(365 * 24 * 3600))
        .build_split();
    let request = request.map_err(|e| e.to_string())?;
    let late = || "the stream did not answer in time".to_owned();
    let (status, body) = if http1::usable(&request) {
        let response = tokio::time::timeout(REQUEST_TIMEOUT, http1::send(&request))
            .await
            .map_err(|_| late())??;
        (response.head.status, Body::Http1(response))
    } else {
        let response = tokio::time::timeout(REQUEST_TIMEOUT, client.execute(request))
            .await
            .map_err(|_| late())?
            .map_err(|e| e.to_string())?;
        (response.status().as_u16(), Body::from(response))
    };
    match reqwest::StatusCode::from_u16(status) {
        Ok(status) if status.is_success() => Ok(body),
        Ok(status) => Err(format!("the stream answered {status}")),
        Err(_) => Err(format!("the stream answered status {status}")),
    }
}
