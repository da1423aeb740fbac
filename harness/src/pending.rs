//! Subcommands whose engine lands in a later issue: they say so in one line and exit 2.
//!
//! They parse their arguments fully (so scripts can be written against the
//! contract today) but never pretend to have done the work.

use crate::exit::Exit;

/// A subcommand that is parsed but not yet available.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    pub command: &'static str,
    pub arrives_with: &'static str,
}

pub const SNAPSHOT: Pending = Pending {
    command: "snapshot",
    arrives_with: "wire-format snapshots (issue 10)",
};

impl Pending {
    pub fn message(self) -> String {
        format!(
            "harness {}: not available yet; it arrives with {}. Nothing was run.",
            self.command, self.arrives_with
        )
    }

    pub fn refuse(self) -> Exit {
        eprintln!("{}", self.message());
        Exit::Usage
    }
}
