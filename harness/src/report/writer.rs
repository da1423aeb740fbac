//! The reporter that turns run events into a [`Report`] and writes it in every requested format.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Format;
use super::model::{CheckReport, Report, Tool, VERSION};
use super::timestamp;
use crate::events::{CheckResult, Reporter, RunEvent, RunInfo};

/// Collects a run and writes `report.json` plus the other formats asked for
/// when the run finishes.
#[derive(Debug)]
pub struct ReportWriter {
    dir: PathBuf,
    formats: Vec<Format>,
    info: Option<RunInfo>,
    /// Each finished check with its place in the run's selection.
    checks: Vec<(usize, CheckReport)>,
    report: Option<Report>,
    written: Vec<PathBuf>,
}

impl ReportWriter {
    /// `report.json` is always written; `formats` adds the others.
    pub fn new(dir: PathBuf, formats: &[Format]) -> Self {
        let mut all = vec![Format::Json];
        all.extend(formats.iter().copied().filter(|f| *f != Format::Json));
        all.dedup();
        Self {
            dir,
            formats: all,
            info: None,
            checks: Vec::new(),
            report: None,
            written: Vec::new(),
        }
    }

    /// The finished report, once the run is over.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    pub fn written(&self) -> &[PathBuf] {
        &self.written
    }

    /// The checks in the order they were selected: a check that waited
    /// alongside the others is reported after them, but listed in its place.
    fn in_run_order(&mut self) -> Vec<CheckReport> {
        let mut checks = std::mem::take(&mut self.checks);
        checks.sort_by_key(|(index, _)| *index);
        checks.into_iter().map(|(_, check)| check).collect()
    }
}

pub fn check_report(result: &CheckResult) -> CheckReport {
    CheckReport {
        id: result.meta.id.to_owned(),
        api: result.meta.api,
        area: result.meta.area().to_owned(),
        level: result.meta.level,
        verdict: result.verdict,
        title: result.meta.title.to_owned(),
        spec: result.meta.spec.to_owned(),
        seed: result.seed,
        duration_ms: millis(result.duration),
        findings: result.findings.clone(),
        skip_reason: result.skip_reason.clone(),
        error: result.error.clone(),
        replay: result.replay.clone(),
        case: result.case.clone(),
        expected: result.expected.clone(),
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Writes `report` into `dir` in each format; returns the paths written.
pub fn write_all(report: &Report, dir: &Path, formats: &[Format]) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the report folder {}", dir.display()))?;
    let mut written = Vec::new();
    for format in formats {
        let path = dir.join(format.file_name());
        let text = format.render(report)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

impl Reporter for ReportWriter {
    fn event(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        match event {
            RunEvent::Started(info) => self.info = Some(info.clone()),
            RunEvent::CheckStarted { .. } => {}
            RunEvent::CheckFinished { index, result } => {
                self.checks.push((*index, check_report(result)));
            }
            RunEvent::Finished {
                finished_at,
                summary,
            } => {
                let info = self
                    .info
                    .take()
                    .context("the run finished before it started")?;
                let duration = finished_at
                    .duration_since(info.started_at)
                    .unwrap_or_default();
                let report = Report {
                    version: VERSION,
                    tool: Tool::this(),
                    run_id: info.run_id,
                    started_at: timestamp(info.started_at),
                    finished_at: timestamp(*finished_at),
                    duration_ms: millis(duration),
                    target: info.target,
                    options: info.options,
                    summary: *summary,
                    checks: self.in_run_order(),
                };
                self.written = write_all(&report, &self.dir, &self.formats)?;
                self.report = Some(report);
            }
        }
        Ok(())
    }
}
