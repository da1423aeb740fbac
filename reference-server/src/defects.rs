//! Deliberate defects: each one breaks one rule on purpose, so that a check can be shown to fail.
//!
//! A defect is listed here only once the server really implements it; a name
//! that does nothing would make `harness selftest` prove nothing.

use std::collections::BTreeSet;
use std::fmt;

/// One deliberate defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    /// The durable store keeps its position counters in memory only, so after
    /// a restart positions start again at 1 and overwrite old records.
    ReuseSeqAfterRestart,
}

impl Defect {
    pub const ALL: &'static [Defect] = &[Defect::ReuseSeqAfterRestart];

    pub fn name(self) -> &'static str {
        match self {
            Defect::ReuseSeqAfterRestart => "reuse-seq-after-restart",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Defect::ReuseSeqAfterRestart => {
                "positions (seq, cursors) restart at 1 after a restart and overwrite old records (durable storage only)"
            }
        }
    }

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
