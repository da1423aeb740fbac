//! The exit codes of the CLI contract; scripts depend on these numbers.

use std::process::ExitCode;

/// Every code `harness` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every MUST check passed (every threshold held).
    Ok,
    /// A check or threshold failed.
    Failed,
    /// Bad usage or configuration; nothing was run.
    Usage,
    /// The target could not be reached, or the harness itself failed.
    Broken,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Broken => 3,
        }
    }

    pub fn from_code(code: u8) -> Exit {
        match code {
            0 => Exit::Ok,
            1 => Exit::Failed,
            2 => Exit::Usage,
            _ => Exit::Broken,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}
