//! The server's validated configuration, the TOML config file it can be read from, and the dev credentials.
//!
//! Precedence: command-line flags, then the config file, then the defaults
//! below. Unknown keys in the file are an error, so that a misspelt setting
//! is reported instead of silently ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::defects::Defects;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
pub const DEFAULT_DATA_DIR: &str = "reference-data";
pub const DEFAULT_CONTROL_TOKEN: &str = "control_test_token";
/// Large enough for an Actyx publish batch or an atproto `applyWrites`, small
/// enough that a hostile body cannot take the server's memory.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where the log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    Memory,
    Durable(PathBuf),
}

/// Credentials of the APIs that take static keys. Actyx tokens come from
/// `/api/v2/auth` and atproto accounts from `createAccount`, as on the real systems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Fibric API key → tenant id.
    pub fibric_keys: BTreeMap<String, String>,
    pub pulse_api_key: String,
    pub fauna_secret: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            fibric_keys: BTreeMap::from([
                ("sk_test_tenant_a".to_owned(), "tn_a".to_owned()),
                ("sk_test_tenant_b".to_owned(), "tn_b".to_owned()),
            ]),
            pulse_api_key: "pulse_test_key".to_owned(),
            fauna_secret: "fauna_test_secret".to_owned(),
        }
    }
}

impl Credentials {
    /// The lines printed at start and listed in the README.
    pub fn describe(&self, control_token: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for (key, tenant) in &self.fibric_keys {
            lines.push(format!(
                "fibric   Authorization: Bearer {key}  (tenant {tenant})"
            ));
        }
        lines.push(format!(
            "pulse    Authorization: Bearer {}",
            self.pulse_api_key
        ));
        lines.push(format!(
            "fauna    Authorization: Bearer {}",
            self.fauna_secret
        ));
        lines.push("actyx    POST /api/v2/auth with an appId like com.example.app".to_owned());
        lines.push("atproto  com.atproto.server.createAccount is open, no invite code".to_owned());
        lines.push(format!("control  Authorization: Bearer {control_token}"));
        lines
    }
}

/// The configuration a server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub storage: Storage,
    pub control_token: String,
    pub max_body_bytes: usize,
    /// How long open streams get to finish after SIGTERM before the server exits anyway.
    pub shutdown_grace: Duration,
    pub credentials: Credentials,
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
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            credentials: Credentials::default(),
            defects: Defects::none(),
        }
    }
}

/// The config file as written; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub memory: Option<bool>,
    pub control_token: Option<String>,
    pub max_body_bytes: Option<usize>,
    /// A humantime duration such as `"5s"` or `"500ms"`.
    pub shutdown_grace: Option<String>,
    #[serde(default)]
    pub fibric: FibricSection,
    #[serde(default)]
    pub pulse: PulseSection,
    #[serde(default)]
    pub fauna: FaunaSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FibricSection {
    /// API key → tenant id. Replaces the default keys when present.
    pub keys: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PulseSection {
    pub api_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaunaSection {
    pub secret: Option<String>,
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
        return Err(ConfigError::Invalid(
            "the control token must not be empty".into(),
        ));
    }
    let max_body_bytes = file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes == 0 {
        return Err(ConfigError::Invalid(
            "max_body_bytes must be at least 1".into(),
        ));
    }
    let shutdown_grace = match file.shutdown_grace {
        Some(text) => humantime::parse_duration(&text).map_err(|e| {
            ConfigError::Invalid(format!("shutdown_grace {text:?} is not a duration: {e}"))
        })?,
        None => DEFAULT_SHUTDOWN_GRACE,
    };
    let defaults = Credentials::default();
    let credentials = Credentials {
        fibric_keys: file.fibric.keys.unwrap_or(defaults.fibric_keys),
        pulse_api_key: file.pulse.api_key.unwrap_or(defaults.pulse_api_key),
        fauna_secret: file.fauna.secret.unwrap_or(defaults.fauna_secret),
    };
    if credentials.fibric_keys.keys().any(|k| k.trim().is_empty())
        || credentials.pulse_api_key.trim().is_empty()
        || credentials.fauna_secret.trim().is_empty()
    {
        return Err(ConfigError::Invalid("credentials must not be empty".into()));
    }
    Ok(Config {
        listen,
        storage,
        control_token,
        max_body_bytes,
        shutdown_grace,
        credentials,
        defects: flags.defects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_dev_setup() {
        let config = resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.storage, Storage::Durable(DEFAULT_DATA_DIR.into()));
        assert_eq!(config.control_token, "control_test_token");
        assert_eq!(config.credentials.fibric_keys["sk_test_tenant_b"], "tn_b");
        assert_eq!(config.credentials.pulse_api_key, "pulse_test_key");
        assert_eq!(config.credentials.fauna_secret, "fauna_test_secret");
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
        assert_eq!(config.credentials.pulse_api_key, "k");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_their_name() {
        let error = FileConfig::parse("listen_addr = \"x\"\n").unwrap_err();
        assert!(error.contains("listen_addr"), "{error}");
        let error = FileConfig::parse("[fibric]\nkey = {}\n").unwrap_err();
        assert!(error.contains("key"), "{error}");
        let file = FileConfig::parse("shutdown_grace = \"soon\"\n").unwrap();
        let error = resolve(file, Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("shutdown_grace"), "{error}");
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
        assert_eq!(from_file.credentials, defaults.credentials);
    }
}
