//! A load subscriber's reading of a firehose frame: a walk over its DAG-CBOR for the few fields it needs, building no values.
//!
//! At a hundred subscribers a load run reads over a hundred thousand ~3 KB
//! frames a second on the same cores as the server it measures. Decoding each
//! into a `wire::cbor::Value` (a map per object, the commit's CAR copied)
//! made the harness the limit, so the load path only walks the bytes: the
//! header's `t`, and the body's `seq`, `repo`, `time` and the `path` of each
//! op. Everything else is skipped by length. The walk is for measuring; the
//! checks still decode frames strictly. It refuses what is not DAG-CBOR in
//! shape (indefinite lengths, reserved heads, lengths past the end, bytes
//! after the body) and needs no recursion, so a hostile frame costs at most
//! one pass over its bytes.

use super::frames::Event;

/// The event and the `seq` of one frame; `None` for an error frame, an
/// `#info`, or bytes that are not a frame.
pub(super) fn read(bytes: &[u8], did: &str, prefix: &str) -> Option<(Event, Option<i64>)> {
    let mut cbor = Walk { bytes, at: 0 };
    let mut t = None;
    for _ in 0..cbor.map()? {
        match cbor.text()? {
            "t" => t = cbor.text_or_skip()?,
            _ => cbor.skip()?,
        }
    }
    if t.is_none_or(|t| t == "#info") {
        return None;
    }
    let (mut seq, mut repo, mut time, mut marker) = (None, None, None, None);
    for _ in 0..cbor.map()? {
        match cbor.text()? {
            "seq" => seq = cbor.int_or_skip()?,
            "repo" => repo = cbor.text_or_skip()?,
            "time" => time = cbor.text_or_skip()?,
            "ops" => marker = cbor.op_marker(prefix)?,
            _ => cbor.skip()?,
        }
    }
    if cbor.at != bytes.len() {
        return None;
    }
    let at = time.and_then(|t| humantime::parse_rfc3339_weak(t).ok());
    let marker = marker.filter(|_| repo == Some(did));
    Some((Event { marker, at }, seq))
}

/// The major type and argument of one CBOR head.
type Head = (u8, u64);

/// A position in the bytes of one frame.
struct Walk<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Walk<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    /// The next head; floats and simple values come out as major 7.
    fn head(&mut self) -> Option<Head> {
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        let arg = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            26 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)),
            27 => u64::from_be_bytes(self.take(8)?.try_into().ok()?),
            // Reserved, or an indefinite length: not DAG-CBOR.
            _ => return None,
        };
        Some((major, arg))
    }

    /// The rest of the item whose head was just read.
    fn finish(&mut self, (major, arg): Head) -> Option<()> {
        // Items still to skip; each one read takes at least a byte, so this
        // ends within the frame's length whatever the heads claim.
        let mut pending: u64 = 0;
        let mut head = (major, arg);
        loop {
            match head {
                (2 | 3, len) => {
                    self.take(len)?;
                }
                (4, n) => pending = pending.checked_add(n)?,
                (5, n) => pending = pending.checked_add(n.checked_mul(2)?)?,
                (6, _) => pending += 1,
                _ => {}
            }
            if pending == 0 {
                return Some(());
            }
            pending -= 1;
            head = self.head()?;
        }
    }

    fn skip(&mut self) -> Option<()> {
        let head = self.head()?;
        self.finish(head)
    }

    fn map(&mut self) -> Option<u64> {
        match self.head()? {
            (5, n) => Some(n),
            _ => None,
        }
    }

    fn text(&mut self) -> Option<&'a str> {
        match self.head()? {
            (3, len) => std::str::from_utf8(self.take(len)?).ok(),
            _ => None,
        }
    }

    /// A text value, or `None` (skipped) when the value is of another type.
    fn text_or_skip(&mut self) -> Option<Option<&'a str>> {
        match self.head()? {
            (3, len) => Some(std::str::from_utf8(self.take(len)?).ok()),
            other => self.finish(other).map(|()| None),
        }
    }

    /// An integer value in `i64`, or `None` (skipped) otherwise.
    fn int_or_skip(&mut self) -> Option<Option<i64>> {
        match self.head()? {
            (0, n) => Some(i64::try_from(n).ok()),
            (1, n) => Some(i64::try_from(n).ok().map(|n| -1 - n)),
            other => self.finish(other).map(|()| None),
        }
    }

    /// `k` of the first op whose `path` is `prefix` then `k`.
    fn op_marker(&mut self, prefix: &str) -> Option<Option<u64>> {
        let ops = match self.head()? {
            (4, n) => n,
            other => return self.finish(other).map(|()| None),
        };
        let mut marker = None;
        for _ in 0..ops {
            let fields = match self.head()? {
                (5, n) => n,
                other => {
                    self.finish(other)?;
                    continue;
                }
            };
            for _ in 0..fields {
                let key = self.text()?;
                if key == "path"
                    && let Some(path) = self.text_or_skip()?
                {
                    marker = marker.or_else(|| path.strip_prefix(prefix)?.parse().ok());
                } else if key != "path" {
                    self.skip()?;
                }
            }
        }
        Some(marker)
    }
}

#[cfg(test)]
mod tests;
