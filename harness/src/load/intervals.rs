//! A run's closed intervals, held in a fixed amount of memory however long the run: the totals and a few figures per interval in memory, every interval's histograms spooled to an unlinked temporary file until the report is written.
//!
//! A histogram over an hour at three significant digits is a counts array of
//! about 190 KB, and an interval has ten of them, so keeping every interval
//! in memory cost a long run about 1.8 MiB a second. The spool keeps each
//! interval in HdrHistogram's V2 encoding (a few hundred bytes for a busy
//! histogram, a few dozen for an empty one) on disk, and [`Intervals::each`]
//! reads them back one at a time for the interval logs. The plots need only
//! [`Point`]s, and `load.json` only the totals. Where no temporary file can be
//! made, the intervals stay in memory as before.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

use super::stats::{HISTOGRAMS, Interval, Set};

/// What the plots show of one interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// From the start of the run.
    pub start: Duration,
    pub length: Duration,
    /// The corrected delivery latency's p50, p99 and max in milliseconds, if anything was delivered.
    pub deliver: Option<[f64; 3]>,
    /// Samples of `deliver`, `publish_ack` and `request`.
    pub deliveries: u64,
    pub acks: u64,
    pub requests: u64,
}

impl Point {
    fn of(interval: &Interval) -> Point {
        let set = &interval.set.0;
        let deliver = &set["deliver"];
        let ms = |q: f64| deliver.value_at_quantile(q) as f64 / 1000.0;
        Point {
            start: interval.start,
            length: interval.length,
            deliver: (!deliver.is_empty()).then(|| [ms(0.5), ms(0.99), ms(1.0)]),
            deliveries: deliver.len(),
            acks: set["publish_ack"].len(),
            requests: set["request"].len(),
        }
    }

    /// The end of the interval, from the start of the run.
    pub fn end(&self) -> Duration {
        self.start + self.length
    }
}

/// Where the intervals' histograms are kept.
#[derive(Debug)]
enum Spool {
    /// An unlinked temporary file, appended to.
    File(File),
    Memory(Vec<Interval>),
}

/// A run's closed intervals.
#[derive(Debug)]
pub struct Intervals {
    totals: Set,
    points: Vec<Point>,
    spool: Spool,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals {
            totals: Set::default(),
            points: Vec::new(),
            spool: spool_file().map_or(Spool::Memory(Vec::new()), Spool::File),
        }
    }
}

/// A new temporary file, already unlinked, so nothing is left behind however the process ends.
fn spool_file() -> std::io::Result<File> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "harness-intervals-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let path = std::env::temp_dir().join(name);
    let file = File::options()
        .read(true)
        .append(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

impl Intervals {
    /// Keeps a closed interval.
    pub fn push(&mut self, interval: Interval) {
        self.totals.add(&interval.set);
        self.points.push(Point::of(&interval));
        if let Spool::File(file) = &mut self.spool {
            match encode(&interval)
                .and_then(|bytes| file.write_all(&bytes).map_err(|e| e.to_string()))
            {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(%error, "the interval spool failed; the intervals stay in memory");
                    let kept = read_all(file).unwrap_or_default();
                    self.spool = Spool::Memory(kept);
                }
            }
        }
        if let Spool::Memory(kept) = &mut self.spool {
            kept.push(interval);
        }
    }

    /// Every histogram summed over the intervals.
    pub fn totals(&self) -> &Set {
        &self.totals
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Hands every interval to `f`, in order, one at a time.
    pub fn each(&self, mut f: impl FnMut(&Interval) -> Result<(), String>) -> Result<(), String> {
        match &self.spool {
            Spool::Memory(kept) => kept.iter().try_for_each(f),
            Spool::File(file) => {
                let mut file = file;
                file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
                let mut reader = BufReader::new(file);
                for _ in 0..self.points.len() {
                    f(&decode(&mut reader)?)?;
                }
                Ok(())
            }
        }
    }
}

impl FromIterator<Interval> for Intervals {
    fn from_iter<I: IntoIterator<Item = Interval>>(iter: I) -> Self {
        let mut intervals = Intervals::default();
        iter.into_iter().for_each(|i| intervals.push(i));
        intervals
    }
}

/// An interval as the spool keeps it: start and length in microseconds, then each histogram in V2.
fn encode(interval: &Interval) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(1024);
    bytes.extend_from_slice(&(interval.start.as_micros() as u64).to_le_bytes());
    bytes.extend_from_slice(&(interval.length.as_micros() as u64).to_le_bytes());
    let mut serializer = V2Serializer::new();
    for (name, _) in HISTOGRAMS {
        serializer
            .serialize(&interval.set.0[name], &mut bytes)
            .map_err(|e| format!("{name}: {e:?}"))?;
    }
    Ok(bytes)
}

fn decode(reader: &mut impl Read) -> Result<Interval, String> {
    let mut word = [0u8; 8];
    let mut micros = || -> Result<Duration, String> {
        reader.read_exact(&mut word).map_err(|e| e.to_string())?;
        Ok(Duration::from_micros(u64::from_le_bytes(word)))
    };
    let (start, length) = (micros()?, micros()?);
    let mut deserializer = Deserializer::new();
    // Each histogram comes back with the bounds it was written with, the run's.
    let set = HISTOGRAMS
        .iter()
        .map(|(name, _)| {
            deserializer
                .deserialize(reader)
                .map(|histogram| (*name, histogram))
                .map_err(|e| format!("{name}: {e:?}"))
        })
        .collect::<Result<_, String>>()?;
    Ok(Interval {
        start,
        length,
        set: Set(set),
    })
}

/// What a failing spool had kept, read back.
fn read_all(file: &File) -> Option<Vec<Interval>> {
    let mut file = file;
    let end = file.seek(SeekFrom::End(0)).ok()?;
    file.seek(SeekFrom::Start(0)).ok()?;
    let mut reader = BufReader::new(file.take(end));
    let mut kept = Vec::new();
    while let Ok(interval) = decode(&mut reader) {
        kept.push(interval);
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(second: u64, values: &[u64]) -> Interval {
        let mut set = Set::default();
        for v in values {
            set.0.get_mut("deliver").unwrap().record(*v).unwrap();
            set.0.get_mut("request").unwrap().record(v * 2).unwrap();
        }
        Interval {
            start: Duration::from_secs(second),
            length: Duration::from_secs(1),
            set,
        }
    }

    #[test]
    fn spooled_intervals_come_back_as_they_went_in_with_totals_and_points() {
        let written: Vec<Interval> = (0..50)
            .map(|s| interval(s, &[s + 1, 1000 * (s + 1), 3_000_000]))
            .collect();
        let intervals: Intervals = written.iter().cloned().collect();
        assert!(
            matches!(intervals.spool, Spool::File(_)),
            "a temp file was made"
        );
        let mut read = Vec::new();
        for _ in 0..2 {
            read.clear();
            intervals
                .each(|i| {
                    read.push(i.clone());
                    Ok(())
                })
                .unwrap();
            assert_eq!(read.len(), written.len(), "read twice, the same");
        }
        for (r, w) in read.iter().zip(&written) {
            assert_eq!((r.start, r.length), (w.start, w.length));
            for (name, _) in HISTOGRAMS {
                assert_eq!(r.set.0[name], w.set.0[name], "{name}");
            }
        }
        assert_eq!(intervals.totals().0["deliver"].len(), 150);
        assert!(intervals.totals().0["request"].max() >= 6_000_000);
        let point = intervals.points()[3];
        assert_eq!(point.deliveries, 3);
        assert_eq!(point.requests, 3);
        assert_eq!(point.acks, 0);
        assert_eq!(point.end(), Duration::from_secs(4));
        assert!(point.deliver.unwrap()[2] >= 3000.0);
    }
}
