//! The TOML config file, and how flags, file and defaults merge into a [`Config`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::{
    ActyxConfig, AtprotoConfig, Config, DEFAULT_CONTROL_TOKEN, DEFAULT_DATA_DIR,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_SHUTDOWN_GRACE,
    FaunaConfig, FibricConfig, ModelDecl, PulseConfig, Storage, SubscriberConfig,
};
use crate::defects::Defects;

/// The config file as written; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub memory: Option<bool>,
    pub control_token: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub header_read_timeout: Option<String>,
    /// Durations are humantime strings such as `"5s"` or `"500ms"`.
    pub shutdown_grace: Option<String>,
    #[serde(default)]
    pub subscribers: SubscribersSection,
    #[serde(default)]
    pub fibric: FibricSection,
    #[serde(default)]
    pub pulse: PulseSection,
    #[serde(default)]
    pub actyx: ActyxSection,
    #[serde(default)]
    pub fauna: FaunaSection,
    #[serde(default)]
    pub atproto: AtprotoSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribersSection {
    pub stall_timeout: Option<String>,
    pub read_batch: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FibricSection {
    /// API key → tenant id. Replaces the default keys when present.
    pub keys: Option<BTreeMap<String, String>>,
    pub keepalive: Option<String>,
    /// How long envelopes are kept, e.g. `"7d"`; `"0s"` keeps them forever.
    pub retention: Option<String>,
    /// At most this many envelopes per tenant are kept.
    pub retention_max_records: Option<u64>,
    pub default_page: Option<usize>,
    pub max_page: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PulseSection {
    /// The key of the `default` environment.
    pub api_key: Option<String>,
    /// More API keys → environment name. Replaces the default keys when present.
    pub keys: Option<BTreeMap<String, String>>,
    pub keepalive: Option<String>,
    #[serde(default)]
    pub models: Vec<ModelDecl>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActyxSection {
    pub keepalive: Option<String>,
    pub token_validity: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaunaSection {
    /// Secret → database. Replaces the default keys when present.
    pub keys: Option<BTreeMap<String, String>>,
    pub status_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtprotoSection {
    pub backfill_events: Option<u64>,
    pub backfill_age: Option<String>,
    pub consumer_buffer: Option<u64>,
    pub ping_interval: Option<String>,
    pub access_validity: Option<String>,
}

/// A configuration problem; the binary reports it and exits 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }
}

/// Settings from the command line; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub memory: bool,
    pub control_token: Option<String>,
    pub defects: Defects,
}

fn duration(key: &str, text: Option<String>, default: Duration) -> Result<Duration, ConfigError> {
    match text {
        Some(text) => humantime::parse_duration(&text)
            .map_err(|e| ConfigError::Invalid(format!("{key} {text:?} is not a duration: {e}"))),
        None => Ok(default),
    }
}

fn positive(key: &str, value: Option<usize>, default: usize) -> Result<usize, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::Invalid(format!("{key} must be at least 1"))),
        Some(value) => Ok(value),
        None => Ok(default),
    }
}

fn nonzero_duration(key: &str, value: Duration) -> Result<Duration, ConfigError> {
    if value.is_zero() {
        Err(ConfigError::Invalid(format!(
            "{key} must be longer than 0s"
        )))
    } else {
        Ok(value)
    }
}

/// A humantime duration longer than zero, or `default` when not given.
fn span(key: &str, text: Option<String>, default: Duration) -> Result<Duration, ConfigError> {
    nonzero_duration(key, duration(key, text, default)?)
}

fn invalid<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError::Invalid(message.into()))
}

/// Merges flags over the file over the defaults, and validates the result.
pub fn resolve(file: FileConfig, flags: Overrides) -> Result<Config, ConfigError> {
    let listen = match flags.listen.or(file.listen) {
        Some(listen) => listen,
        None => DEFAULT_LISTEN
            .parse()
            .map_err(|_| ConfigError::Invalid("bad built-in listen address".into()))?,
    };
    let memory = flags.memory || (flags.data_dir.is_none() && file.memory == Some(true));
    let storage = if memory {
        Storage::Memory
    } else {
        Storage::Durable(
            flags
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        )
    };
    let control_token = flags
        .control_token
        .or(file.control_token)
        .unwrap_or_else(|| DEFAULT_CONTROL_TOKEN.to_owned());
    if control_token.trim().is_empty() {
        return invalid("the control token must not be empty");
    }
    let max_body_bytes = positive(
        "max_body_bytes",
        file.max_body_bytes,
        DEFAULT_MAX_BODY_BYTES,
    )?;
    let shutdown_grace = duration(
        "shutdown_grace",
        file.shutdown_grace,
        DEFAULT_SHUTDOWN_GRACE,
    )?;
    let header_read_timeout = span(
        "header_read_timeout",
        file.header_read_timeout,
        DEFAULT_HEADER_READ_TIMEOUT,
    )?;
    let subscribers = file.subscribers.resolve()?;
    let fibric = file.fibric.resolve()?;
    let pulse = file.pulse.resolve()?;
    let actyx = file.actyx.resolve()?;
    let fauna = file.fauna.resolve()?;
    let atproto = file.atproto.resolve()?;
    if fibric.keys.keys().any(|k| k.trim().is_empty())
        || pulse.api_key.trim().is_empty()
        || pulse.keys.keys().any(|k| k.trim().is_empty())
        || fauna.keys.keys().any(|k| k.trim().is_empty())
    {
        return invalid("credentials must not be empty");
    }
    Ok(Config {
        listen,
        storage,
        control_token,
        max_body_bytes,
        header_read_timeout,
        shutdown_grace,
        subscribers,
        fibric,
        pulse,
        actyx,
        fauna,
        atproto,
        defects: flags.defects,
    })
}

impl SubscribersSection {
    fn resolve(self) -> Result<SubscriberConfig, ConfigError> {
        let defaults = SubscriberConfig::default();
        Ok(SubscriberConfig {
            stall_timeout: span(
                "subscribers.stall_timeout",
                self.stall_timeout,
                defaults.stall_timeout,
            )?,
            read_batch: positive(
                "subscribers.read_batch",
                self.read_batch,
                defaults.read_batch,
            )?,
        })
    }
}

impl FibricSection {
    fn resolve(self) -> Result<FibricConfig, ConfigError> {
        let defaults = FibricConfig::default();
        let mut retention = defaults.retention;
        if let Some(text) = self.retention {
            let age = duration("fibric.retention", Some(text), Duration::ZERO)?;
            retention.max_age_micros =
                (!age.is_zero()).then(|| u64::try_from(age.as_micros()).unwrap_or(u64::MAX));
        }
        retention.max_records = self.retention_max_records.or(retention.max_records);
        let fibric = FibricConfig {
            keys: self.keys.unwrap_or(defaults.keys),
            keepalive: span("fibric.keepalive", self.keepalive, defaults.keepalive)?,
            retention,
            default_page: positive(
                "fibric.default_page",
                self.default_page,
                defaults.default_page,
            )?,
            max_page: positive("fibric.max_page", self.max_page, defaults.max_page)?,
        };
        if fibric.default_page > fibric.max_page {
            return invalid("fibric.default_page must not exceed fibric.max_page");
        }
        Ok(fibric)
    }
}

impl PulseSection {
    fn resolve(self) -> Result<PulseConfig, ConfigError> {
        let defaults = PulseConfig::default();
        let pulse = PulseConfig {
            api_key: self.api_key.unwrap_or(defaults.api_key),
            keys: self.keys.unwrap_or(defaults.keys),
            keepalive: span("pulse.keepalive", self.keepalive, defaults.keepalive)?,
            models: self.models,
        };
        if let Some(environment) = pulse.keys.get(&pulse.api_key)
            && environment != crate::config::PULSE_DEFAULT_ENVIRONMENT
        {
            return invalid(format!(
                "pulse.api_key is the key of the {} environment; pulse.keys names it {environment}",
                crate::config::PULSE_DEFAULT_ENVIRONMENT
            ));
        }
        if pulse
            .keys
            .values()
            .any(|environment| environment.trim().is_empty() || environment.contains('/'))
        {
            return invalid("pulse.keys: an environment name must not be empty or contain '/'");
        }
        let mut names = std::collections::HashSet::new();
        for model in &pulse.models {
            if model.name.trim().is_empty() || model.primary_key.trim().is_empty() {
                return invalid("pulse.models need a name and a primary_key");
            }
            if !names.insert(&model.name) {
                return invalid(format!("pulse model {} is declared twice", model.name));
            }
        }
        Ok(pulse)
    }
}

impl ActyxSection {
    fn resolve(self) -> Result<ActyxConfig, ConfigError> {
        let defaults = ActyxConfig::default();
        Ok(ActyxConfig {
            keepalive: span("actyx.keepalive", self.keepalive, defaults.keepalive)?,
            token_validity: span(
                "actyx.token_validity",
                self.token_validity,
                defaults.token_validity,
            )?,
        })
    }
}

impl FaunaSection {
    fn resolve(self) -> Result<FaunaConfig, ConfigError> {
        let defaults = FaunaConfig::default();
        let fauna = FaunaConfig {
            keys: self.keys.unwrap_or(defaults.keys),
            status_interval: span(
                "fauna.status_interval",
                self.status_interval,
                defaults.status_interval,
            )?,
        };
        let named = |db: &String| {
            !db.is_empty()
                && db
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !fauna.keys.values().all(named) {
            return invalid("fauna database names hold letters, digits, _ and -");
        }
        Ok(fauna)
    }
}

impl AtprotoSection {
    fn resolve(self) -> Result<AtprotoConfig, ConfigError> {
        let defaults = AtprotoConfig::default();
        let atproto = AtprotoConfig {
            backfill_events: self.backfill_events.unwrap_or(defaults.backfill_events),
            backfill_age: span(
                "atproto.backfill_age",
                self.backfill_age,
                defaults.backfill_age,
            )?,
            consumer_buffer: self.consumer_buffer.unwrap_or(defaults.consumer_buffer),
            ping_interval: span(
                "atproto.ping_interval",
                self.ping_interval,
                defaults.ping_interval,
            )?,
            access_validity: span(
                "atproto.access_validity",
                self.access_validity,
                defaults.access_validity,
            )?,
        };
        if atproto.backfill_events == 0 || atproto.consumer_buffer == 0 {
            return invalid(
                "atproto.backfill_events and atproto.consumer_buffer must be at least 1",
            );
        }
        Ok(atproto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ReplicaIdentity;

    #[test]
    fn defaults_are_the_documented_dev_setup() {
        let config = resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.storage, Storage::Durable(DEFAULT_DATA_DIR.into()));
        assert_eq!(config.control_token, "control_test_token");
        assert_eq!(config.fibric.keys["sk_test_tenant_b"], "tn_b");
        assert_eq!(config.pulse.api_key, "pulse_test_key");
        assert_eq!(config.pulse.environment("pulse_test_key"), Some("default"));
        assert_eq!(config.pulse.environment("pulse_test_key_2"), Some("second"));
        assert_eq!(config.fauna.keys["fauna_test_secret"], "main");
    }

    #[test]
    fn flags_override_the_file() {
        let file = FileConfig::parse(
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/tmp/x\"\ncontrol_token = \"file\"\nshutdown_grace = \"250ms\"\n[pulse]\napi_key = \"k\"\n",
        )
        .unwrap();
        let flags = Overrides {
            memory: true,
            control_token: Some("flag".into()),
            ..Overrides::default()
        };
        let config = resolve(file, flags).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.storage, Storage::Memory);
        assert_eq!(config.control_token, "flag");
        assert_eq!(config.shutdown_grace, Duration::from_millis(250));
        assert_eq!(config.pulse.api_key, "k");
    }

    #[test]
    fn api_sections_set_their_settings() {
        let file = FileConfig::parse(
            "[subscribers]\nstall_timeout = \"1s\"\n[fibric]\nkeepalive = \"100ms\"\nretention = \"0s\"\nretention_max_records = 5\n\
             [[pulse.models]]\nname = \"User\"\nprimary_key = \"id\"\nreplica_identity = \"full\"\n",
        )
        .unwrap();
        let config = resolve(file, Overrides::default()).unwrap();
        assert_eq!(config.subscribers.stall_timeout, Duration::from_secs(1));
        assert_eq!(config.fibric.keepalive, Duration::from_millis(100));
        assert_eq!(config.fibric.retention.max_age_micros, None);
        assert_eq!(config.fibric.retention.max_records, Some(5));
        assert_eq!(
            config.pulse.models[0].replica_identity,
            ReplicaIdentity::Full
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_name() {
        let error = FileConfig::parse("listen_addr = \"x\"\n").unwrap_err();
        assert!(error.contains("listen_addr"), "{error}");
        let error = FileConfig::parse("[fibric]\nkey = {}\n").unwrap_err();
        assert!(error.contains("key"), "{error}");
        for (text, name) in [
            ("shutdown_grace = \"soon\"\n", "shutdown_grace"),
            ("[fibric]\nkeepalive = \"0s\"\n", "fibric.keepalive"),
            ("[fibric]\nmax_page = 0\n", "fibric.max_page"),
            (
                "[subscribers]\nstall_timeout = \"x\"\n",
                "subscribers.stall_timeout",
            ),
            (
                "[[pulse.models]]\nname = \"A\"\nprimary_key = \"id\"\n[[pulse.models]]\nname = \"A\"\nprimary_key = \"id\"\n",
                "declared twice",
            ),
            (
                "[pulse.keys]\npulse_test_key = \"other\"\n",
                "pulse.keys names it other",
            ),
            ("[pulse.keys]\nk = \"a/b\"\n", "pulse.keys"),
        ] {
            let file = FileConfig::parse(text).unwrap();
            let error = resolve(file, Overrides::default()).unwrap_err();
            assert!(error.to_string().contains(name), "{text}: {error}");
        }
        let file = FileConfig::parse("control_token = \" \"\n").unwrap();
        assert!(resolve(file, Overrides::default()).is_err());
    }

    #[test]
    fn the_example_config_in_fixtures_parses_to_the_defaults() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/config/reference-server.toml");
        let file = FileConfig::load(&path).unwrap();
        let from_file = resolve(file, Overrides::default()).unwrap();
        let defaults = resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(from_file.listen, defaults.listen);
        assert_eq!(from_file.storage, defaults.storage);
        assert_eq!(from_file.control_token, defaults.control_token);
        assert_eq!(from_file.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(from_file.shutdown_grace, defaults.shutdown_grace);
        assert_eq!(from_file.header_read_timeout, defaults.header_read_timeout);
        assert_eq!(from_file.subscribers, defaults.subscribers);
        assert_eq!(from_file.fibric, defaults.fibric);
        assert_eq!(from_file.pulse, defaults.pulse);
        assert_eq!(from_file.fauna, defaults.fauna);
        assert_eq!(from_file.actyx, defaults.actyx);
        assert_eq!(from_file.atproto, defaults.atproto);
    }

    #[test]
    fn atproto_settings_are_read_and_checked() {
        let text = "[atproto]\nbackfill_events = 10\nping_interval = \"2s\"\n";
        let config = resolve(FileConfig::parse(text).unwrap(), Overrides::default()).unwrap();
        assert_eq!(config.atproto.backfill_events, 10);
        assert_eq!(config.atproto.ping_interval, Duration::from_secs(2));
        for bad in [
            "[atproto]\nconsumer_buffer = 0\n",
            "[atproto]\nping_interval = \"0s\"\n",
            "[atproto]\nbackfill = 1\n",
        ] {
            let parsed = FileConfig::parse(bad);
            assert!(
                parsed.is_err() || resolve(parsed.unwrap(), Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }
}
