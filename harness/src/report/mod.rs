//! Reports: the versioned `report.json` model and the reporters that render a run.
//!
//! # Layout
//!
//! - [`model`]: the `report.json` types (version 1) and how to read them back.
//! - [`writer`]: the reporter that builds a [`model::Report`] from run events and writes the files.
//! - [`junit`], [`markdown`], [`html`]: renderings of a finished report.
//! - [`terminal`]: the progress bar and the summary a person reads.

pub mod html;
pub mod junit;
pub mod markdown;
pub mod model;
pub mod terminal;
pub mod writer;

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

/// A file format a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Json,
    Junit,
    Markdown,
    Html,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Json, Format::Junit, Format::Markdown, Format::Html];

    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Junit => "junit.xml",
            Format::Markdown => "report.md",
            Format::Html => "report.html",
        }
    }

    /// Renders a finished report in this format.
    pub fn render(self, report: &model::Report) -> anyhow::Result<String> {
        Ok(match self {
            Format::Json => serde_json::to_string_pretty(report)? + "\n",
            Format::Junit => junit::render(report)?,
            Format::Markdown => markdown::render(report),
            Format::Html => html::render(report),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "junit" | "xml" => Ok(Format::Junit),
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "unknown format {other:?}; expected json, junit, markdown or html"
            )),
        }
    }
}

/// RFC 3339 in UTC with milliseconds, as the schema's `timestamp` wants.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// `1.234s`, `56ms`: short durations for people.
pub fn short_duration(ms: u64) -> String {
    if ms >= 1000 {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    } else {
        format!("{ms}ms")
    }
}
