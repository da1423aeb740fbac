//! What a check is: its id, API, level, title, spec reference, needs and killing defects.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The five APIs, by the names the CLI and the check ids use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Fibric,
    Pulse,
    Fauna,
    Actyx,
    Atproto,
}

impl Api {
    pub const ALL: [Api; 5] = [
        Api::Fibric,
        Api::Pulse,
        Api::Fauna,
        Api::Actyx,
        Api::Atproto,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Api::Fibric => "fibric",
            Api::Pulse => "pulse",
            Api::Fauna => "fauna",
            Api::Actyx => "actyx",
            Api::Atproto => "atproto",
        }
    }

    /// The seed document that describes the API, in `../shared/seeds/`.
    pub fn seed_file(self) -> &'static str {
        match self {
            Api::Fauna => "000_cc03d922943d4d9a.txt",
            Api::Pulse => "001_e34fc567a063ac5b.txt",
            Api::Atproto => "002_78269f32495fed65.txt",
            Api::Actyx => "003_48955821e7be7de0.txt",
            Api::Fibric => "004_267b0cc4b1ba43c0.txt",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An API name that is not one of the five.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownApi(pub String);

impl fmt::Display for UnknownApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown API {:?}; expected one of fibric, pulse, fauna, actyx, atproto",
            self.0
        )
    }
}

impl std::error::Error for UnknownApi {}

impl FromStr for Api {
    type Err = UnknownApi;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Api::ALL
            .into_iter()
            .find(|api| api.name() == s)
            .ok_or_else(|| UnknownApi(s.to_owned()))
    }
}

/// The spec's word for a rule, as in RFC 2119; Autobahn and h2spec grade the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a check needs from the target beyond reading its streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// A way to make the target publish events (control API, the API's own write path, or `--producer`).
    Producer,
    /// The fault proxy between the harness and the target.
    FaultProxy,
    /// Credentials for the target.
    Auth,
    /// A stream held idle for as long as the target's own keep-alive interval:
    /// the runner starts such a check with the run and lets it wait alongside
    /// the others, reporting it in its turn.
    Idle,
    /// The reference server's control API (aging the log, another node's events):
    /// the check is skipped on any other target, and the rules it cites do not
    /// count as checked against any target.
    Control,
    /// What the run's other checks recorded (the run's audit): the runner
    /// starts such a check once every other check has finished.
    Transcripts,
}

/// Declares one check's metadata as a `pub static`: name, API, id, level,
/// title, spec reference, needs, the defects that must fail it, and the
/// seed's rules it asserts (ids from `scenarios/rules/<api>.toml`).
macro_rules! check {
    ($name:ident, $api:ident, $id:literal, $level:ident, $title:literal, $spec:literal, [$($need:ident),*], [$($defect:literal),+]) => {
        $crate::check::check!($name, $api, $id, $level, $title, $spec, [$($need),*], [$($defect),+], rules: []);
    };
    ($name:ident, $api:ident, $id:literal, $level:ident, $title:literal, $spec:literal, [$($need:ident),*], [$($defect:literal),+], rules: [$($rule:literal),* $(,)?]) => {
        pub static $name: $crate::check::CheckMeta = $crate::check::CheckMeta {
            id: $id,
            api: $crate::check::Api::$api,
            level: $crate::check::Level::$level,
            title: $title,
            spec: $spec,
            needs: &[$($crate::check::Need::$need),*],
            killed_by: &[$($defect),+],
            rules: &[$($rule),*],
        };
    };
}
pub(crate) use check;

/// Everything the catalogue says about one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckMeta {
    /// `api/area/name`, e.g. `atproto/cursor/future-cursor`.
    pub id: &'static str,
    pub api: Api,
    pub level: Level,
    pub title: &'static str,
    /// Seed file and section, or a public spec.
    pub spec: &'static str,
    pub needs: &'static [Need],
    /// Reference-server defects that must make this check fail.
    pub killed_by: &'static [&'static str],
    /// The ids of the seed's rules this check asserts (`scenarios/rules/<api>.toml`).
    pub rules: &'static [&'static str],
}

impl CheckMeta {
    /// Whether the check runs against any target (given a producer where it
    /// publishes), not only against a reference server.
    pub fn runs_anywhere(&self) -> bool {
        !self.needs.contains(&Need::Control)
    }

    /// The middle part of the id.
    pub fn area(&self) -> &'static str {
        self.id.split('/').nth(1).unwrap_or("")
    }

    /// Whether the id is well formed: `api/area/name` with the check's own
    /// API first and lowercase kebab-case parts.
    pub fn id_is_well_formed(&self) -> bool {
        let parts: Vec<&str> = self.id.split('/').collect();
        parts.len() == 3
            && parts[0] == self.api.name()
            && parts.iter().all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_parse_back() {
        for api in Api::ALL {
            assert_eq!(api.name().parse::<Api>().unwrap(), api);
        }
        let error = "kafka".parse::<Api>().unwrap_err();
        assert!(
            error
                .to_string()
                .contains("fibric, pulse, fauna, actyx, atproto")
        );
    }

    #[test]
    fn ids_are_checked_for_shape() {
        let mut meta = CheckMeta {
            id: "atproto/cursor/future-cursor",
            api: Api::Atproto,
            level: Level::Must,
            title: "t",
            spec: "s",
            needs: &[],
            killed_by: &[],
            rules: &[],
        };
        assert!(meta.id_is_well_formed());
        assert_eq!(meta.area(), "cursor");
        meta.id = "fibric/cursor/future-cursor";
        assert!(!meta.id_is_well_formed());
        meta.id = "atproto/Cursor/x";
        assert!(!meta.id_is_well_formed());
        meta.id = "atproto/cursor";
        assert!(!meta.id_is_well_formed());
    }
}
