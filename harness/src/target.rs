//! The server under test: the embedded reference server, or a URL, probed before anything runs.

use std::time::Duration;

use reqwest::Url;

use crate::cli::CredentialArgs;
use crate::report::model::{TargetInfo, TargetKind};

/// A reachable server under test.
#[derive(Debug, Clone)]
pub struct Target {
    base_url: String,
    kind: TargetKind,
    control_token: String,
}

/// Why a target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The URL itself is wrong: a usage error (exit 2).
    #[error("--target {url:?} is not an http:// or https:// URL: {reason}")]
    BadUrl { url: String, reason: String },
    /// Nothing answered: exit 3.
    #[error("the target {url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
}

impl Target {
    /// The embedded reference server at `base_url`.
    pub fn embedded(base_url: String, control_token: String) -> Self {
        Self {
            base_url,
            kind: TargetKind::Embedded,
            control_token,
        }
    }

    /// `http://HOST:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn kind(&self) -> TargetKind {
        self.kind
    }

    pub fn is_embedded(&self) -> bool {
        self.kind == TargetKind::Embedded
    }

    /// Whether the target is a reference server, so its control API can produce events.
    pub fn is_reference(&self) -> bool {
        matches!(self.kind, TargetKind::Embedded | TargetKind::Reference)
    }

    pub fn control_token(&self) -> &str {
        &self.control_token
    }

    pub fn info(&self) -> TargetInfo {
        TargetInfo {
            url: self.base_url.clone(),
            kind: self.kind,
        }
    }
}

/// The credentials a run uses against a target: the reference server's dev
/// credentials unless flags say otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Fibric API keys of two different tenants (tenancy checks need both).
    pub fibric_keys: [String; 2],
    /// The tenant ids those keys name, for envelopes the harness publishes.
    pub fibric_tenants: [String; 2],
    pub pulse_key: String,
    /// A Pulse API key of another environment than `pulse_key`'s; absent when
    /// `--pulse-key` was given once (the environment check needs it).
    pub pulse_second_key: Option<String>,
    /// The Fauna secret (`Authorization: Bearer`) the Fauna checks query and stream with.
    pub fauna_secret: String,
    /// The Actyx app id the Actyx checks authenticate as (`com.example.*` needs no signature).
    pub actyx_app_id: String,
    /// The PLC directory AT Protocol checks resolve DIDs with; `{target}/_plc` when absent.
    pub plc_url: Option<String>,
}

impl Default for Credentials {
    fn default() -> Self {
        Self {
            fibric_keys: ["sk_test_tenant_a".to_owned(), "sk_test_tenant_b".to_owned()],
            fibric_tenants: ["tn_a".to_owned(), "tn_b".to_owned()],
            pulse_key: "pulse_test_key".to_owned(),
            pulse_second_key: Some("pulse_test_key_2".to_owned()),
            fauna_secret: "fauna_test_secret".to_owned(),
            actyx_app_id: "com.example.harness".to_owned(),
            plc_url: None,
        }
    }
}

impl Credentials {
    /// The credentials the flags give, the reference server's where they give none.
    ///
    /// `--fibric-key` may be given twice, for two different tenants, or, when
    /// `one_key_will_do` (load uses only the first), once.
    pub fn from_args(args: &CredentialArgs, one_key_will_do: bool) -> Result<Credentials, String> {
        let mut credentials = Credentials::default();
        let split = |pair: &String| {
            pair.split_once('=')
                .filter(|(k, t)| !k.is_empty() && !t.is_empty())
                .map(|(k, t)| (k.to_owned(), t.to_owned()))
                .ok_or_else(|| format!("--fibric-key {pair:?} is not KEY=TENANT"))
        };
        match args.fibric_keys.as_slice() {
            [] => {}
            [a] if one_key_will_do => {
                let (key, tenant) = split(a)?;
                credentials.fibric_keys[0] = key;
                credentials.fibric_tenants[0] = tenant;
            }
            [a, b] => {
                let (a, b) = (split(a)?, split(b)?);
                if a.1 == b.1 {
                    return Err("the two --fibric-key values must name different tenants".into());
                }
                credentials.fibric_keys = [a.0, b.0];
                credentials.fibric_tenants = [a.1, b.1];
            }
            _ => return Err("give --fibric-key twice, for two different tenants".into()),
        }
        let or_default = |given: &Option<String>, default: &mut String| {
            if let Some(given) = given {
                default.clone_from(given);
            }
        };
        match args.pulse_keys.as_slice() {
            [] => {}
            [one] => {
                credentials.pulse_key.clone_from(one);
                credentials.pulse_second_key = None;
            }
            [a, b] if a != b => {
                credentials.pulse_key.clone_from(a);
                credentials.pulse_second_key = Some(b.clone());
            }
            [_, _] => return Err("the two --pulse-key values must be different keys".into()),
            _ => return Err("give --pulse-key at most twice, for two environments".into()),
        }
        or_default(&args.fauna_secret, &mut credentials.fauna_secret);
        or_default(&args.actyx_app_id, &mut credentials.actyx_app_id);
        Ok(credentials)
    }
}

/// Checks that the URL is usable, without touching the network.
pub fn parse_url(url: &str) -> Result<String, TargetError> {
    let bad = |reason: &str| TargetError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if parsed.host_str().is_none() {
        return Err(bad("it names no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a base URL takes no query or fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// How long the probe waits for an answer (a head) before calling the target unreachable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `url` and finds out whether it is a reference server (it
/// answers `GET /_control/info` with the control token) or another server.
/// Any HTTP answer means the target is reachable.
pub async fn probe(
    url: &str,
    control_token: &str,
    client: &reqwest::Client,
) -> Result<Target, TargetError> {
    let base_url = parse_url(url)?;
    let response = client
        .get(format!("{base_url}/_control/info"))
        .bearer_auth(control_token)
        .timeout(PROBE_TIMEOUT)
        .send()
        .await
        .map_err(|error| TargetError::Unreachable {
            url: base_url.clone(),
            reason: if error.is_timeout() {
                format!(
                    "no response to GET /_control/info within {}",
                    humantime::format_duration(PROBE_TIMEOUT)
                )
            } else {
                describe(&error)
            },
        })?;
    let is_reference = response.status().is_success()
        && response
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|info| info["server"] == "reference-server");
    Ok(Target {
        base_url,
        kind: if is_reference {
            TargetKind::Reference
        } else {
            TargetKind::Other
        },
        control_token: control_token.to_owned(),
    })
}

/// A one-line reason, including the cause reqwest keeps in its source chain.
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(keys: &[&str], one_key_will_do: bool) -> Result<Credentials, String> {
        let args = CredentialArgs {
            control_token: "t".to_owned(),
            fibric_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            pulse_keys: vec!["pk".to_owned()],
            fauna_secret: None,
            actyx_app_id: None,
        };
        Credentials::from_args(&args, one_key_will_do)
    }

    #[test]
    fn credential_flags_override_the_reference_servers_defaults() {
        let defaults = credentials(&[], false).unwrap();
        assert_eq!(
            defaults.fibric_keys,
            ["sk_test_tenant_a", "sk_test_tenant_b"]
        );
        assert_eq!(defaults.pulse_key, "pk");
        assert_eq!(defaults.pulse_second_key, None);
        assert_eq!(defaults.fauna_secret, "fauna_test_secret");
        let two = credentials(&["ka=ta", "kb=tb"], false).unwrap();
        assert_eq!(
            (two.fibric_keys, two.fibric_tenants),
            (["ka".into(), "kb".into()], ["ta".into(), "tb".into()])
        );
        // Load drives one tenant; the checks need two.
        assert_eq!(credentials(&["ka=ta"], true).unwrap().fibric_keys[0], "ka");
        for (keys, one, says) in [
            (&["ka=ta"][..], false, "twice"),
            (&["ka=ta", "kb=ta"][..], false, "different tenants"),
            (&["ka"][..], true, "not KEY=TENANT"),
            (&["a=b", "c=d", "e=f"][..], true, "twice"),
        ] {
            let error = credentials(keys, one).unwrap_err();
            assert!(error.contains(says), "{keys:?}: {error}");
        }
    }

    #[test]
    fn pulse_keys_default_to_two_environments_and_one_flag_means_one() {
        let pulse = |keys: &[&str]| {
            let args = CredentialArgs {
                control_token: "t".to_owned(),
                fibric_keys: Vec::new(),
                pulse_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
                fauna_secret: None,
                actyx_app_id: None,
            };
            Credentials::from_args(&args, false).map(|c| (c.pulse_key, c.pulse_second_key))
        };
        assert_eq!(
            pulse(&[]).unwrap(),
            ("pulse_test_key".into(), Some("pulse_test_key_2".into()))
        );
        assert_eq!(pulse(&["a"]).unwrap(), ("a".into(), None));
        assert_eq!(pulse(&["a", "b"]).unwrap(), ("a".into(), Some("b".into())));
        assert!(pulse(&["a", "a"]).unwrap_err().contains("different"));
        let three = pulse(&["a", "b", "c"]).unwrap_err();
        assert!(three.contains("at most twice"), "{three}");
    }

    #[test]
    fn urls_are_normalised_and_bad_ones_refused() {
        assert_eq!(
            parse_url("http://127.0.0.1:8787/").unwrap(),
            "http://127.0.0.1:8787"
        );
        assert_eq!(
            parse_url("https://example.test/base/").unwrap(),
            "https://example.test/base"
        );
        for bad in [
            "127.0.0.1:8787",
            "ws://host",
            "http://",
            "http://h/?q=1",
            "not a url",
        ] {
            assert!(
                matches!(parse_url(bad), Err(TargetError::BadUrl { .. })),
                "{bad}"
            );
        }
    }
}
