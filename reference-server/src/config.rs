//! The server's validated configuration, the TOML config file it can be read from, and the dev credentials.
//!
//! Precedence: command-line flags, then the config file, then the defaults
//! below. Unknown keys in the file are an error, so that a misspelt setting
//! is reported instead of silently ignored. The file format is in
//! [`crate::config_file`]; `fixtures/config/reference-server.toml` lists every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::defects::Defects;
use crate::store::Retention;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub const DEFAULT_DATA_DIR: &str = "reference-data";
pub const DEFAULT_CONTROL_TOKEN: &str = "control_test_token";
/// Large enough for an Actyx publish batch or an atproto `applyWrites`, small
/// enough that a hostile body cannot take the server's memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// hyper's own default; long enough for any real client on a slow link.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    Memory,
    Durable(PathBuf),
}

/// How the server treats stream subscribers, whatever their API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberConfig {
    /// A connection whose socket accepts no bytes for this long (its buffers
    /// are full because the consumer stopped reading) is closed.
    pub stall_timeout: Duration,
    /// Records read from the log per step of a stream; bounds the memory one
    /// subscriber can hold at a time.
    pub read_batch: usize,
}

impl Default for SubscriberConfig {
    fn default() -> Self {
        Self {
            stall_timeout: Duration::from_secs(10),
            read_batch: 256,
        }
    }
}

/// The Fibric envelope stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibricConfig {
    /// API key → tenant id.
    pub keys: BTreeMap<String, String>,
    /// A `: keep-alive` comment frame after this long without a frame.
    pub keepalive: Duration,
    /// What each tenant's log keeps; a cursor before it gets `410 cursor_expired`.
    pub retention: Retention,
    /// `GET /v1/events` page size without `limit`, and the largest `limit` allowed.
    pub default_page: usize,
    pub max_page: usize,
}

impl Default for FibricConfig {
    fn default() -> Self {
        Self {
            keys: BTreeMap::from([
                ("sk_test_tenant_a".to_owned(), "tn_a".to_owned()),
                ("sk_test_tenant_b".to_owned(), "tn_b".to_owned()),
            ]),
            keepalive: Duration::from_secs(15),
            retention: Retention {
                max_age_micros: Some(7 * 24 * 3600 * 1_000_000),
                max_records: None,
            },
            default_page: 100,
            max_page: 1000,
        }
    }
}

/// Replica identity of a Pulse model, as PostgreSQL's `REPLICA IDENTITY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaIdentity {
    /// Update events carry no `before`; delete events carry only the primary key.
    Default,
    /// Update events carry `before`; delete events carry the whole row.
    Full,
}

/// A Pulse model declared in the config file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDecl {
    pub name: String,
    pub primary_key: String,
    #[serde(default = "default_identity")]
    pub replica_identity: ReplicaIdentity,
}

fn default_identity() -> ReplicaIdentity {
    ReplicaIdentity::Default
}

/// Prisma Pulse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulseConfig {
    /// The key of the [`PULSE_DEFAULT_ENVIRONMENT`].
    pub api_key: String,
    /// More API keys → environment name. An API key names an environment:
    /// named streams are the environment's own (see `pulse/mod.rs`).
    pub keys: BTreeMap<String, String>,
    pub keepalive: Duration,
    /// Models known from the start; more can be declared through the control API.
    pub models: Vec<ModelDecl>,
}

/// The environment of `[pulse] api_key`.
pub const PULSE_DEFAULT_ENVIRONMENT: &str = "default";

impl PulseConfig {
    /// The environment `key` names, if it is a Pulse API key.
    pub fn environment(&self, key: &str) -> Option<&str> {
        if key == self.api_key {
            return Some(PULSE_DEFAULT_ENVIRONMENT);
        }
        self.keys.get(key).map(String::as_str)
    }
}

impl Default for PulseConfig {
    fn default() -> Self {
        Self {
            api_key: "pulse_test_key".to_owned(),
            keys: BTreeMap::from([("pulse_test_key_2".to_owned(), "second".to_owned())]),
            keepalive: Duration::from_secs(15),
            models: Vec::new(),
        }
    }
}

/// The Actyx Events API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActyxConfig {
    /// A blank line after this long without a line on a stream.
    pub keepalive: Duration,
    /// How long a token from `POST /api/v2/auth` is valid.
    pub token_validity: Duration,
}

impl Default for ActyxConfig {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(15),
            token_validity: Duration::from_secs(24 * 3600),
        }
    }
}

/// Fauna.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaunaConfig {
    /// Secret → database. Each database has its own collections and logs;
    /// an event source token works only with its own database's secret.
    pub keys: BTreeMap<String, String>,
    /// A `status` event on an idle stream after this long. Fauna's service
    /// waits 5 minutes; 15 s, as the other APIs' keep-alives, keeps the stream
    /// alive through proxies that reap a minute of silence, and lets the
    /// catalogue's default `--patience` (20 s) see it.
    pub status_interval: Duration,
}

impl Default for FaunaConfig {
    fn default() -> Self {
        Self {
            keys: BTreeMap::from([
                ("fauna_test_secret".to_owned(), "main".to_owned()),
                ("fauna_test_secret_2".to_owned(), "second".to_owned()),
            ]),
            status_interval: Duration::from_secs(15),
        }
    }
}

/// The AT Protocol firehose and label stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtprotoConfig {
    /// At most this many events per stream are kept for replay.
    pub backfill_events: u64,
    /// Events older than this are dropped from the replay window.
    pub backfill_age: Duration,
    /// A live subscriber more than this many events behind gets `ConsumerTooSlow`.
    pub consumer_buffer: u64,
    /// A WebSocket ping after this long without a frame.
    pub ping_interval: Duration,
    /// How long an access token from `createSession`/`createAccount` is valid.
    pub access_validity: Duration,
}

impl Default for AtprotoConfig {
    fn default() -> Self {
        Self {
            backfill_events: 100_000,
            backfill_age: Duration::from_secs(24 * 3600),
            consumer_buffer: 500,
            ping_interval: Duration::from_secs(30),
            access_validity: Duration::from_secs(2 * 3600),
        }
    }
}

/// The configuration a server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub storage: Storage,
    pub control_token: String,
    pub max_body_bytes: usize,
    /// A connection that has not sent a whole request head this long after it
    /// opened, or after its last response ended (an idle keep-alive
    /// connection), is closed, so that connections that never send a request
    /// cannot pile up. HTTP/2 connections are bound by it until their preface
    /// has arrived.
    pub header_read_timeout: Duration,
    /// How long open streams get to finish after SIGTERM before the server exits anyway.
    pub shutdown_grace: Duration,
    pub subscribers: SubscriberConfig,
    pub fibric: FibricConfig,
    pub pulse: PulseConfig,
    pub actyx: ActyxConfig,
    pub fauna: FaunaConfig,
    pub atproto: AtprotoConfig,
    pub defects: Defects,
}

impl Config {
    /// The configuration of an in-process server for tests and the harness:
    /// memory storage, port 0, default credentials.
    pub fn ephemeral() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            storage: Storage::Memory,
            control_token: DEFAULT_CONTROL_TOKEN.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            subscribers: SubscriberConfig::default(),
            fibric: FibricConfig::default(),
            pulse: PulseConfig::default(),
            actyx: ActyxConfig::default(),
            fauna: FaunaConfig::default(),
            atproto: AtprotoConfig::default(),
            defects: Defects::none(),
        }
    }

    /// The credential lines printed at start and listed in the README.
    pub fn describe_credentials(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (key, tenant) in &self.fibric.keys {
            lines.push(format!(
                "fibric   Authorization: Bearer {key}  (tenant {tenant})"
            ));
        }
        lines.push(format!(
            "pulse    Authorization: Bearer {}  (environment {PULSE_DEFAULT_ENVIRONMENT})",
            self.pulse.api_key
        ));
        for (key, environment) in &self.pulse.keys {
            lines.push(format!(
                "pulse    Authorization: Bearer {key}  (environment {environment})"
            ));
        }
        for (secret, database) in &self.fauna.keys {
            lines.push(format!(
                "fauna    Authorization: Bearer {secret}  (database {database})"
            ));
        }
        lines.push("actyx    POST /api/v2/auth with an appId like com.example.app".to_owned());
        lines.push("atproto  com.atproto.server.createAccount is open, no invite code".to_owned());
        lines.push(format!(
            "control  Authorization: Bearer {}",
            self.control_token
        ));
        lines
    }
}
