//! Fault schedules: which connection gets which fault, written as a short spec.
//!
//! ```text
//! conn 1: after 3 frames + 5 bytes, rst; conn 2: after 900 bytes, fin; all: latency 20ms
//! ```
//!
//! - `conn N` applies to the N-th connection the proxy accepts (from 1); `all`
//!   to every connection without a rule of its own.
//! - `after N frames [+ M bytes]` or `after N bytes` says where the cut falls:
//!   frames are counted in the response body (SSE events or JSON lines, see
//!   [`super::framing`]); `+ M bytes` cuts M bytes into the next frame, `+ 0`
//!   exactly at a boundary. Bytes count everything sent to the client.
//! - The cut is `fin` (a clean close), `rst` (a reset), or `stall` (stop
//!   forwarding and hold the sockets open).
//! - `latency DURATION` delays every byte sent to the client by that much;
//!   `throttle N B/s` (or `KiB/s`) limits its rate.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use scenarios::cuts::{Cut, CutAction, CutAt};

/// What happens to one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnPlan {
    pub cut: Option<Cut>,
    pub latency: Option<Duration>,
    pub throttle_bytes_per_sec: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selector {
    Conn(u32),
    All,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub rules: Vec<(Selector, ConnPlan)>,
}

impl Schedule {
    /// The plan of the `n`-th accepted connection (from 1).
    pub fn plan_for(&self, n: u32) -> ConnPlan {
        self.rules
            .iter()
            .find(|(s, _)| *s == Selector::Conn(n))
            .or_else(|| self.rules.iter().find(|(s, _)| *s == Selector::All))
            .map(|(_, plan)| *plan)
            .unwrap_or_default()
    }

    pub fn parse(spec: &str) -> Result<Schedule, String> {
        let mut rules = Vec::new();
        for rule in spec.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let (selector, actions) = rule
                .split_once(':')
                .ok_or_else(|| format!("{rule:?}: a rule is `conn N: …` or `all: …`"))?;
            let selector = parse_selector(selector.trim())?;
            if rules.iter().any(|(s, _)| *s == selector) {
                return Err(format!("{selector} has two rules"));
            }
            let mut plan = ConnPlan::default();
            let mut at = None;
            for action in actions.split(',').map(str::trim) {
                parse_action(action, &mut plan, &mut at)?;
            }
            if at.is_some() && plan.cut.is_none() {
                return Err(format!("{rule:?}: `after …` needs fin, rst or stall"));
            }
            rules.push((selector, plan));
        }
        Ok(Schedule { rules })
    }
}

fn parse_selector(text: &str) -> Result<Selector, String> {
    if text == "all" {
        return Ok(Selector::All);
    }
    let n = text
        .strip_prefix("conn")
        .map(str::trim)
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{text:?}: expected `conn N` (N from 1) or `all`"))?;
    Ok(Selector::Conn(n))
}

fn number(text: &str, what: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of {what}"))
}

fn parse_action(action: &str, plan: &mut ConnPlan, at: &mut Option<CutAt>) -> Result<(), String> {
    let words: Vec<&str> = action.split_whitespace().collect();
    match words.as_slice() {
        ["after", rest @ ..] => {
            let rest = rest.join(" ");
            let parsed = if let Some((frames, plus)) = rest.split_once('+') {
                let frames = number(
                    frames
                        .trim()
                        .trim_end_matches("frames")
                        .trim_end_matches("frame"),
                    "frames",
                )?;
                let plus = number(
                    plus.trim()
                        .trim_end_matches("bytes")
                        .trim_end_matches("byte"),
                    "bytes",
                )?;
                CutAt::Frames {
                    frames,
                    plus_bytes: plus,
                }
            } else if let Some(frames) = rest
                .strip_suffix("frames")
                .or_else(|| rest.strip_suffix("frame"))
            {
                CutAt::Frames {
                    frames: number(frames, "frames")?,
                    plus_bytes: 0,
                }
            } else if let Some(bytes) = rest
                .strip_suffix("bytes")
                .or_else(|| rest.strip_suffix("byte"))
            {
                CutAt::Bytes(number(bytes, "bytes")?)
            } else {
                return Err(format!(
                    "{action:?}: expected `after N frames [+ M bytes]` or `after N bytes`"
                ));
            };
            *at = Some(parsed);
            Ok(())
        }
        [kind @ ("fin" | "rst" | "stall")] => {
            let at = at.ok_or_else(|| format!("{kind} needs an `after …` before it"))?;
            let action = match *kind {
                "fin" => CutAction::Fin,
                "rst" => CutAction::Rst,
                _ => CutAction::Stall,
            };
            plan.cut = Some(Cut { at, action });
            Ok(())
        }
        ["latency", duration] => {
            plan.latency = Some(
                humantime::parse_duration(duration)
                    .map_err(|e| format!("latency {duration:?}: {e}"))?,
            );
            Ok(())
        }
        ["throttle", rate, unit] => {
            let rate = number(rate, "bytes per second")?;
            let factor = match *unit {
                "B/s" => 1,
                "KiB/s" => 1024,
                "MiB/s" => 1024 * 1024,
                other => return Err(format!("throttle unit {other:?}: use B/s, KiB/s or MiB/s")),
            };
            if rate == 0 {
                return Err("throttle needs a rate above 0".to_owned());
            }
            plan.throttle_bytes_per_sec = Some(rate * factor);
            Ok(())
        }
        _ => Err(format!(
            "{action:?}: expected after …, fin, rst, stall, latency D or throttle N B/s"
        )),
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Conn(n) => write!(f, "conn {n}"),
            Selector::All => f.write_str("all"),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (selector, plan)) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{selector}:")?;
            let mut parts = Vec::new();
            if let Some(cut) = plan.cut {
                parts.push(cut.at.to_string());
                parts.push(cut.action.to_string());
            }
            if let Some(latency) = plan.latency {
                parts.push(format!("latency {}", humantime::format_duration(latency)));
            }
            if let Some(rate) = plan.throttle_bytes_per_sec {
                parts.push(format!("throttle {rate} B/s"));
            }
            write!(f, " {}", parts.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        let spec = "conn 1: after 3 frames + 5 bytes, rst; conn 2: after 900 bytes, fin; all: latency 20ms, throttle 4 KiB/s";
        let schedule = Schedule::parse(spec).unwrap();
        assert_eq!(
            schedule.plan_for(1).cut,
            Some(Cut {
                at: CutAt::Frames {
                    frames: 3,
                    plus_bytes: 5
                },
                action: CutAction::Rst
            })
        );
        assert_eq!(schedule.plan_for(2).cut.unwrap().at, CutAt::Bytes(900));
        assert_eq!(
            schedule.plan_for(7).latency,
            Some(Duration::from_millis(20))
        );
        assert_eq!(schedule.plan_for(7).throttle_bytes_per_sec, Some(4096));
        assert_eq!(Schedule::parse(&schedule.to_string()).unwrap(), schedule);
        assert_eq!(
            Schedule::parse("conn 3: after 2 frames, stall")
                .unwrap()
                .plan_for(3)
                .cut
                .unwrap()
                .at,
            CutAt::Frames {
                frames: 2,
                plus_bytes: 0
            }
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, says) in [
            ("conn 0: after 1 bytes, fin", "conn N"),
            ("conn 1 after 1 bytes, fin", "a rule is"),
            ("conn 1: after 1 bytes", "needs fin"),
            ("conn 1: rst", "needs an `after"),
            ("conn 1: after x bytes, fin", "not a number"),
            ("all: latency soon", "latency"),
            ("all: throttle 5 bits", "throttle unit"),
            (
                "conn 1: after 1 bytes, fin; conn 1: after 2 bytes, fin",
                "two rules",
            ),
            ("conn 1: wobble", "expected after"),
        ] {
            let error = Schedule::parse(spec).unwrap_err();
            assert!(error.contains(says), "{spec}: {error}");
        }
    }
}
