//! The terminal reporter: a progress bar while checks run, then a summary a person can act on.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scenarios::Verdict;

use super::Format;
use super::model::Summary;
use crate::events::{CheckResult, Reporter, RunEvent, RunInfo};
use crate::exit::Exit;

/// Where the progress bar goes: stderr when it is a terminal, nowhere otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Stderr,
    Hidden,
}

#[derive(Debug)]
pub struct Terminal<W: Write> {
    out: W,
    color: bool,
    progress: Progress,
    bar: Option<ProgressBar>,
    info: Option<RunInfo>,
    results: Vec<CheckResult>,
    report_files: Vec<PathBuf>,
}

impl Terminal<std::io::Stdout> {
    /// Summary on stdout (coloured when it is a terminal and `NO_COLOR` is unset),
    /// progress on stderr.
    pub fn stdout(report_dir: PathBuf, formats: &[Format]) -> Self {
        let stdout = std::io::stdout();
        let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Terminal::new(stdout, color, Progress::Stderr, report_dir, formats)
    }
}

impl<W: Write> Terminal<W> {
    pub fn new(
        out: W,
        color: bool,
        progress: Progress,
        report_dir: PathBuf,
        formats: &[Format],
    ) -> Self {
        let mut files = vec![report_dir.join(Format::Json.file_name())];
        files.extend(
            formats
                .iter()
                .filter(|f| **f != Format::Json)
                .map(|f| report_dir.join(f.file_name())),
        );
        files.dedup();
        Self {
            out,
            color,
            progress,
            bar: None,
            info: None,
            results: Vec::new(),
            report_files: files,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn paint(&self, verdict: Verdict, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match verdict {
            Verdict::Pass => "32",
            Verdict::Fail => "31",
            Verdict::NonStrict => "33",
            Verdict::Skip => "90",
            Verdict::Error => "35",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    /// "3 pass  1 fail": the verdicts that occur, coloured.
    fn counts(&self, results: &[&CheckResult]) -> String {
        let mut counts = Summary::default();
        for result in results {
            counts.count(result.verdict);
        }
        Verdict::ALL
            .into_iter()
            .filter(|v| counts.of(*v) > 0)
            .map(|v| self.paint(v, &format!("{} {}", counts.of(v), v.name())))
            .collect::<Vec<_>>()
            .join("  ")
    }

    fn start(&mut self, info: &RunInfo) -> anyhow::Result<()> {
        writeln!(
            self.out,
            "harness check · run {} · target {} · seed {}",
            info.run_id,
            info.target.describe(),
            info.options.seed
        )?;
        let target = match self.progress {
            Progress::Stderr => ProgressDrawTarget::stderr(),
            Progress::Hidden => ProgressDrawTarget::hidden(),
        };
        let bar = ProgressBar::with_draw_target(Some(info.checks.len() as u64), target);
        if let Ok(style) = ProgressStyle::with_template("{bar:32} {pos}/{len} {elapsed} {wide_msg}")
        {
            bar.set_style(style);
        }
        self.bar = Some(bar);
        self.info = Some(info.clone());
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.per_api()?;
        self.notable()?;
        let files: Vec<String> = self
            .report_files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        writeln!(self.out, "report: {}", files.join(", "))?;
        let strict = self.info.as_ref().is_some_and(|i| i.options.strict);
        let failing = self.results.iter().filter(|r| r.fails_run(strict)).count();
        let expected = summary.expected_fail;
        let verdict = match Exit::from_code(summary.exit_code) {
            Exit::Ok if summary.total == 0 => "no checks ran".to_owned(),
            Exit::Ok if expected > 0 => format!(
                "{} checks, no unexpected failure ({expected} failed as expected)",
                summary.total
            ),
            Exit::Ok => format!("{} checks, every MUST check passed", summary.total),
            Exit::Failed => format!("{failing} of {} checks failed the run", summary.total),
            Exit::Usage | Exit::Broken => format!(
                "the harness broke on {} of {} checks",
                summary.error, summary.total
            ),
        };
        let also = match Exit::from_code(summary.exit_code) {
            Exit::Ok => String::new(),
            _ if expected > 0 => format!("; {expected} more failed as expected"),
            _ => String::new(),
        };
        writeln!(
            self.out,
            "result: {verdict}{also} (exit {})",
            summary.exit_code
        )?;
        self.out.flush()?;
        Ok(())
    }

    /// A line of counts per API, then one per area, in catalogue order.
    fn per_api(&mut self) -> anyhow::Result<()> {
        let apis = self
            .info
            .as_ref()
            .map(|i| i.options.apis.clone())
            .unwrap_or_default();
        for api in apis {
            let mine: Vec<&CheckResult> =
                self.results.iter().filter(|r| r.meta.api == api).collect();
            if mine.is_empty() {
                writeln!(
                    self.out,
                    "  {:<8} no checks in the catalogue yet",
                    api.name()
                )?;
                continue;
            }
            writeln!(self.out, "  {:<8} {}", api.name(), self.counts(&mine))?;
            let mut areas: Vec<&str> = Vec::new();
            for result in &mine {
                if !areas.contains(&result.meta.area()) {
                    areas.push(result.meta.area());
                }
            }
            for area in areas {
                let of_area: Vec<&CheckResult> = mine
                    .iter()
                    .copied()
                    .filter(|r| r.meta.area() == area)
                    .collect();
                writeln!(self.out, "    {:<12} {}", area, self.counts(&of_area))?;
            }
        }
        Ok(())
    }

    /// Every check that did not pass or skip, or broke its `--expect` entry,
    /// with its findings and how to replay it.
    fn notable(&mut self) -> anyhow::Result<()> {
        let notable: Vec<CheckResult> = self
            .results
            .iter()
            .filter(|r| {
                !matches!(r.verdict, Verdict::Pass | Verdict::Skip)
                    || r.expected.as_ref().is_some_and(|e| !e.met)
            })
            .cloned()
            .collect();
        for result in &notable {
            let label = self.paint(
                result.verdict,
                &format!("{:<10}", result.verdict.name().to_uppercase()),
            );
            writeln!(
                self.out,
                "{label} {} ({}) {}",
                result.meta.id, result.meta.level, result.meta.title
            )?;
            for finding in &result.findings {
                writeln!(self.out, "           {}: {}", finding.kind, finding.message)?;
            }
            if let Some(error) = &result.error {
                writeln!(self.out, "           {error}")?;
            }
            if let Some(expected) = &result.expected {
                let said = if expected.met {
                    format!("{} as expected", result.verdict)
                } else {
                    expected.unmet_message(result.verdict)
                };
                writeln!(self.out, "           {said} (why: {})", expected.why)?;
            }
            writeln!(self.out, "           replay: {}", result.replay)?;
        }
        Ok(())
    }
}

impl<W: Write> Reporter for Terminal<W> {
    fn event(&mut self, event: &RunEvent) -> anyhow::Result<()> {
        match event {
            RunEvent::Started(info) => self.start(info)?,
            RunEvent::CheckStarted { meta, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(meta.id);
                }
            }
            RunEvent::CheckFinished { result, .. } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
                self.results.push(result.clone());
            }
            RunEvent::Finished { summary, .. } => self.finish(summary)?,
        }
        Ok(())
    }
}
