//! HDR interval logs: one `NAME.hlog` per histogram, V2 deflate, readable by HistogramLogAnalyzer.
//!
//! The files have the `#[StartTime: …]` and `#[BaseTime: …]` headers and the
//! legend line the Java tools expect; each interval line starts with its
//! offset from the base time in seconds. Values are microseconds, and the
//! interval max column is in milliseconds (`MaxValueDivisor` 1000).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Cursor, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry,
};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use super::intervals::Intervals;
use super::stats::{HISTOGRAMS, Interval, Set};

/// Writes one interval log per histogram into `dir`, reading the intervals
/// back one at a time (a long run's are spooled, not in memory).
pub fn write(dir: &Path, start: SystemTime, intervals: &Intervals) -> Result<(), String> {
    let mut files = HISTOGRAMS
        .iter()
        .map(|(name, what)| {
            let path = dir.join(format!("{name}.hlog"));
            let fail = |e: std::io::Error| format!("{}: {e}", path.display());
            let mut file = BufWriter::new(File::create(&path).map_err(fail)?);
            file.write_all(&header(name, what, start)?).map_err(fail)?;
            Ok((*name, path, file))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut serializer = V2DeflateSerializer::new();
    let mut line = String::new();
    intervals.each(|interval| {
        for (name, path, file) in &mut files {
            line.clear();
            entry(&mut serializer, &mut line, &interval.set.0[*name], interval)?;
            file.write_all(line.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    })?;
    files.iter_mut().try_for_each(|(_, path, file)| {
        file.flush().map_err(|e| format!("{}: {e}", path.display()))
    })
}

/// A log's header lines (comment, start and base time, value divisor) and the legend.
fn header(name: &str, what: &str, start: SystemTime) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "harness load: {name}, {what}; values in microseconds"
        ))
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(MAX_VALUE_DIVISOR)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| format!("{name}.hlog: {e}"))?;
    Ok(with_legend(&out))
}

/// Interval maxima are written in milliseconds.
const MAX_VALUE_DIVISOR: f64 = 1000.0;

/// One interval's line, as the `hdrhistogram` crate's log writer (and the
/// Java one) writes it: start and length in seconds, the max in
/// milliseconds, the histogram in base64 of V2 deflate.
fn entry(
    serializer: &mut V2DeflateSerializer,
    line: &mut String,
    histogram: &Histogram<u64>,
    interval: &Interval,
) -> Result<(), String> {
    let mut bytes = Vec::new();
    serializer
        .serialize(histogram, &mut bytes)
        .map_err(|e| format!("{e:?}"))?;
    let _ = write!(
        line,
        "{:.3},{:.3},{:.3},",
        interval.start.as_secs_f64(),
        interval.length.as_secs_f64(),
        histogram.max() as f64 / MAX_VALUE_DIVISOR
    );
    base64::engine::general_purpose::STANDARD.encode_string(&bytes, line);
    line.push('\n');
    Ok(())
}

/// The column legend of the Java `HistogramLogWriter`, which its readers and
/// HistogramLogAnalyzer expect after the headers.
const LEGEND: &str =
    "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";

/// The log with the legend line inserted after its `#` header lines.
fn with_legend(log: &[u8]) -> Vec<u8> {
    let mut at = 0;
    while log.get(at) == Some(&b'#') {
        at = log[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(log.len(), |n| at + n + 1);
    }
    let mut out = Vec::with_capacity(log.len() + LEGEND.len());
    out.extend_from_slice(&log[..at]);
    out.extend_from_slice(LEGEND.as_bytes());
    out.extend_from_slice(&log[at..]);
    out
}

/// One worker's intervals read back: their absolute start times and histograms.
#[derive(Debug, Default)]
pub struct Log {
    /// The interval start times, from the Unix epoch, with their histograms by name.
    pub intervals: BTreeMap<Duration, (Duration, Set)>,
}

/// Reads every `NAME.hlog` of [`HISTOGRAMS`] from `dir`.
pub fn read(dir: &Path) -> Result<Log, String> {
    let mut log = Log::default();
    for (name, _) in HISTOGRAMS {
        let path = dir.join(format!("{name}.hlog"));
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut base = None;
        let mut start = None;
        for entry in IntervalLogIterator::new(&bytes) {
            match entry.map_err(|e| format!("{}: {e:?}", path.display()))? {
                LogEntry::BaseTime(t) => base = Some(t),
                LogEntry::StartTime(t) => start = Some(t),
                LogEntry::Interval(interval) => {
                    let origin = base.or(start).unwrap_or_default();
                    let at = origin + interval.start_timestamp();
                    let encoded = base64::engine::general_purpose::STANDARD
                        .decode(interval.encoded_histogram())
                        .map_err(|e| {
                            format!("{}: an interval is not base64: {e}", path.display())
                        })?;
                    let histogram: Histogram<u64> = Deserializer::new()
                        .deserialize(&mut Cursor::new(encoded))
                        .map_err(|e| {
                            format!("{}: an interval does not decode: {e:?}", path.display())
                        })?;
                    let (_, set) = log
                        .intervals
                        .entry(at)
                        .or_insert_with(|| (interval.duration(), Set::default()));
                    if let Some(h) = set.0.get_mut(name) {
                        h.add(&histogram)
                            .map_err(|e| format!("{}: {e:?}", path.display()))?;
                    }
                }
            }
        }
    }
    Ok(log)
}

/// The intervals of several workers on one time line: each worker's interval
/// goes to the merged interval of the first worker's grid it starts in, and
/// their histograms add up. Returns the start (the earliest interval) and the intervals.
pub fn merge(logs: &[Log]) -> (SystemTime, Vec<Interval>) {
    let mut all: Vec<(Duration, Duration, &Set)> = logs
        .iter()
        .flat_map(|log| {
            log.intervals
                .iter()
                .map(|(at, (length, set))| (*at, *length, set))
        })
        .collect();
    all.sort_by_key(|(at, ..)| *at);
    let Some(&(origin, ..)) = all.first() else {
        return (SystemTime::UNIX_EPOCH, Vec::new());
    };
    let step = all
        .iter()
        .map(|(_, length, _)| *length)
        .max()
        .unwrap_or(Duration::from_secs(1));
    let step = step.max(Duration::from_millis(1));
    let mut merged: BTreeMap<u64, Interval> = BTreeMap::new();
    for (at, _, set) in all {
        let slot = ((at - origin).as_nanos() / step.as_nanos()) as u64;
        let interval = merged.entry(slot).or_insert_with(|| Interval {
            start: step * slot as u32,
            length: step,
            set: Set::default(),
        });
        interval.set.add(set);
    }
    (
        SystemTime::UNIX_EPOCH + origin,
        merged.into_values().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_reads_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut first = Set::default();
        first.0.get_mut("deliver").unwrap().record(1500).unwrap();
        let mut second = Set::default();
        second.0.get_mut("deliver").unwrap().record(2500).unwrap();
        let intervals = [
            Interval {
                start: Duration::ZERO,
                length: Duration::from_secs(1),
                set: first,
            },
            Interval {
                start: Duration::from_secs(1),
                length: Duration::from_secs(1),
                set: second,
            },
        ];
        write(dir.path(), start, &intervals.iter().cloned().collect()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("deliver.hlog")).unwrap();
        assert!(text.contains("#[StartTime: 1800000000"), "{text}");
        assert!(
            text.contains("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""),
            "{text}"
        );
        let log = read(dir.path()).unwrap();
        let (merged_start, merged) = merge(&[log]);
        assert_eq!(merged_start, start);
        assert_eq!(merged.len(), 2);
        let second = &merged[1].set.0["deliver"];
        assert_eq!(second.len(), 1);
        assert!(second.equivalent(second.max(), 2500), "{}", second.max());
        assert_eq!(merged[1].start, Duration::from_secs(1));
    }
}
