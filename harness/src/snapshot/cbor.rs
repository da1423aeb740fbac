//! CBOR frames as a snapshot shows them: JSON with `$link` and `$bytes`, and the annotated hex.
//!
//! The reader here is lenient on purpose, unlike `wire::cbor`: a snapshot
//! must show what the server sent, including what strict DAG-CBOR refuses
//! (map keys out of canonical order, non-minimal lengths, indefinite
//! lengths are reported). Map entries keep their wire order in both views.
//!
//! The hex view has one line per data item: the item's head bytes exactly
//! as sent (major type and length), so an encoding change shows even when
//! the decoded value is the same. Where the value is normalised (a seq, a
//! CID, a signature, a time) the item's bytes are replaced by its
//! placeholder, because they change on every run. Text is shown as text
//! beside its head; a CAR file in `blocks` is shown decoded, block by block.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::normalise::Normaliser;
use super::render::pretty;

/// The deepest nesting the reader follows.
const MAX_DEPTH: usize = 64;
/// The most data items one frame may hold.
const MAX_ITEMS: usize = 200_000;
/// Byte strings longer than this show their length, not their hex.
const HEX_BYTES: usize = 64;

#[derive(Debug)]
struct Node {
    head: Vec<u8>,
    kind: NodeKind,
}

#[derive(Debug)]
enum NodeKind {
    Uint(u64),
    Neg(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Tag(u64, Box<Node>),
    Simple(u8),
    Float(f64),
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    items: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| {
                format!(
                    "an item at byte {} claims {n} bytes, {} are left",
                    self.at,
                    self.bytes.len() - self.at
                )
            })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn node(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "nesting deeper than {MAX_DEPTH} at byte {}",
                self.at
            ));
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(format!("more than {MAX_ITEMS} items"));
        }
        let start = self.at;
        let first = self.take(1)?[0];
        let major = first >> 5;
        let info = first & 0x1f;
        let arg = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => u64::from(u16::from_be_bytes(
                self.take(2)?.try_into().unwrap_or_default(),
            )),
            26 => u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().unwrap_or_default(),
            )),
            27 => u64::from_be_bytes(self.take(8)?.try_into().unwrap_or_default()),
            31 => {
                return Err(format!(
                    "an indefinite length at byte {start} (not DAG-CBOR)"
                ));
            }
            _ => {
                return Err(format!(
                    "reserved additional information {info} at byte {start}"
                ));
            }
        };
        let head = self.bytes[start..self.at].to_vec();
        let len = |arg: u64| usize::try_from(arg).map_err(|_| format!("length {arg} too large"));
        let kind = match major {
            0 => NodeKind::Uint(arg),
            1 => NodeKind::Neg(arg),
            2 => NodeKind::Bytes(self.take(len(arg)?)?.to_vec()),
            3 => NodeKind::Text(String::from_utf8_lossy(self.take(len(arg)?)?).into_owned()),
            4 => {
                let n = len(arg)?;
                // Every item takes at least one byte: a claim beyond the bytes left is a lie.
                if n > self.bytes.len() - self.at {
                    return Err(format!("an array at byte {start} claims {n} items"));
                }
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.node(depth + 1)?);
                }
                NodeKind::Array(items)
            }
            5 => {
                let n = len(arg)?;
                if n.saturating_mul(2) > self.bytes.len() - self.at {
                    return Err(format!("a map at byte {start} claims {n} entries"));
                }
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = self.node(depth + 1)?;
                    let value = self.node(depth + 1)?;
                    entries.push((key, value));
                }
                NodeKind::Map(entries)
            }
            6 => NodeKind::Tag(arg, Box::new(self.node(depth + 1)?)),
            _ => match info {
                25 => NodeKind::Float(half(arg as u16)),
                26 => NodeKind::Float(f64::from(f32::from_bits(arg as u32))),
                27 => NodeKind::Float(f64::from_bits(arg)),
                _ => NodeKind::Simple(arg as u8),
            },
        };
        Ok(Node { head, kind })
    }
}

fn half(bits: u16) -> f64 {
    let exp = (bits >> 10) & 0x1f;
    let mant = f64::from(bits & 0x3ff);
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    sign * match exp {
        0 => mant * 2f64.powi(-24),
        31 if mant == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + mant / 1024.0) * 2f64.powi(i32::from(exp) - 15),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Walks a node into its JSON view, writing its hex lines.
struct Walk<'n> {
    norm: &'n mut Normaliser,
    hex: Vec<String>,
}

impl Walk<'_> {
    fn line(&mut self, depth: usize, bytes: &str, note: &str) {
        let indent = "  ".repeat(depth + 1);
        self.hex.push(format!("{indent}{bytes}  # {note}"));
    }

    fn value(&mut self, node: &Node, key: Option<&str>, depth: usize) -> Value {
        let head = hex(&node.head);
        match &node.kind {
            NodeKind::Uint(n) => {
                let value = self.norm.number(key, &(*n).into());
                match &value {
                    Value::String(placeholder) => self.line(depth, placeholder, "uint"),
                    _ => self.line(depth, &head, &format!("uint {n}")),
                }
                value
            }
            NodeKind::Neg(n) => {
                let number = -1 - i128::from(*n);
                let value = match i64::try_from(number) {
                    Ok(v) => self.norm.number(key, &v.into()),
                    Err(_) => Value::String(number.to_string()),
                };
                match &value {
                    Value::String(placeholder) => self.line(depth, placeholder, "negative int"),
                    _ => self.line(depth, &head, &format!("negative int {number}")),
                }
                value
            }
            NodeKind::Text(text) => {
                let shown = self.norm.text(key, text);
                if shown == *text {
                    self.line(depth, &head, &format!("text {text:?}"));
                } else {
                    self.line(depth, &shown, "text");
                }
                Value::String(shown)
            }
            NodeKind::Bytes(bytes) => self.bytes(&head, bytes, key, depth),
            NodeKind::Tag(42, inner) => self.link(&head, inner, depth),
            NodeKind::Tag(tag, inner) => {
                self.line(depth, &head, &format!("tag {tag} (not DAG-CBOR)"));
                json!({ "$tag": tag, "value": self.value(inner, key, depth + 1) })
            }
            NodeKind::Array(items) => {
                self.line(depth, &head, &format!("array({})", items.len()));
                Value::Array(
                    items
                        .iter()
                        .map(|item| self.value(item, key, depth + 1))
                        .collect(),
                )
            }
            NodeKind::Map(entries) => {
                self.line(depth, &head, &format!("map({})", entries.len()));
                self.map(entries, depth)
            }
            NodeKind::Simple(20) => self.simple(depth, &head, "false", Value::Bool(false)),
            NodeKind::Simple(21) => self.simple(depth, &head, "true", Value::Bool(true)),
            NodeKind::Simple(22) => self.simple(depth, &head, "null", Value::Null),
            NodeKind::Simple(n) => self.simple(
                depth,
                &head,
                "simple (not DAG-CBOR)",
                json!({ "$simple": n }),
            ),
            NodeKind::Float(f) => {
                self.line(depth, &head, &format!("float {f}"));
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
        }
    }

    /// A map's entries, in wire order; a key that is not text is shown as what it is.
    fn map(&mut self, entries: &[(Node, Node)], depth: usize) -> Value {
        let mut map = Map::new();
        for (k, v) in entries {
            let name = match &k.kind {
                NodeKind::Text(text) => {
                    self.line(depth + 1, &hex(&k.head), &format!("key {text:?}"));
                    text.clone()
                }
                _ => {
                    let shown = self.value(k, None, depth + 1);
                    format!("<non-text key {shown}>")
                }
            };
            let value = self.value(v, Some(&name), depth + 2);
            map.insert(name, value);
        }
        Value::Object(map)
    }

    fn simple(&mut self, depth: usize, head: &str, note: &str, value: Value) -> Value {
        self.line(depth, head, note);
        value
    }

    fn link(&mut self, head: &str, inner: &Node, depth: usize) -> Value {
        let text = match &inner.kind {
            NodeKind::Bytes(b) if b.first() == Some(&0) => wire::cid::Cid::from_bytes(&b[1..])
                .map(|cid| cid.to_string())
                .map_err(|e| format!("not a CID: {e}")),
            _ => Err("the tag-42 content is not a byte string with the identity prefix".to_owned()),
        };
        match text {
            Ok(cid) => {
                let shown = self.norm.opaque("cid", &cid);
                self.line(depth, &format!("{head} {shown}"), "link");
                json!({ "$link": shown })
            }
            Err(problem) => {
                self.line(depth, head, &format!("link: {problem}"));
                json!({ "$link": null, "problem": problem })
            }
        }
    }

    fn bytes(&mut self, head: &str, bytes: &[u8], key: Option<&str>, depth: usize) -> Value {
        if key == Some("blocks")
            && let Ok(car) = wire::car::read_car(bytes, &wire::car::CarLimits::firehose())
        {
            self.line(
                depth,
                "<car>",
                "bytes: a CAR file, shown decoded in the body",
            );
            return self.car(&car);
        }
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
        let shown = self.norm.text(key, &encoded);
        if shown != encoded {
            self.line(depth, &shown, &format!("bytes({})", bytes.len()));
        } else {
            // Byte strings that are text (MST keys) say so, for a reader of the diff.
            let note = match std::str::from_utf8(bytes) {
                Ok(text) if !text.chars().any(char::is_control) => format!(" {text:?}"),
                _ => String::new(),
            };
            if bytes.len() <= HEX_BYTES {
                self.line(
                    depth,
                    &format!("{head} {}", hex(bytes)),
                    &format!("bytes{note}"),
                );
            } else {
                self.line(depth, head, &format!("bytes({}){note}", bytes.len()));
            }
        }
        json!({ "$bytes": shown })
    }

    fn car(&mut self, car: &wire::car::Car) -> Value {
        let roots: Vec<Value> = car
            .roots
            .iter()
            .map(|cid| json!({ "$link": self.norm.opaque("cid", &cid.to_string()) }))
            .collect();
        let mut blocks = Vec::new();
        for (cid, block) in &car.blocks {
            let link = json!({ "$link": self.norm.opaque("cid", &cid.to_string()) });
            // A block's own hex lines would drown the frame's; its value is enough.
            let saved = std::mem::take(&mut self.hex);
            let value = match read(block) {
                Ok(node) => self.value(&node, None, 0),
                Err(problem) => json!({ "$bytes": format!("<{} bytes: {problem}>", block.len()) }),
            };
            self.hex = saved;
            blocks.push(json!({ "cid": link, "value": value }));
        }
        json!({ "$car": { "roots": roots, "blocks": blocks } })
    }
}

fn read(bytes: &[u8]) -> Result<Node, String> {
    let mut reader = Reader {
        bytes,
        at: 0,
        items: 0,
    };
    let node = reader.node(0)?;
    if reader.at != bytes.len() {
        return Err(format!("{} bytes after the item", bytes.len() - reader.at));
    }
    Ok(node)
}

/// The body of an event-stream frame as JSON, nothing normalised: for scripts
/// that must find values in frames a strict decoder would refuse.
pub fn frame_body(bytes: &[u8]) -> Option<Value> {
    let mut reader = Reader {
        bytes,
        at: 0,
        items: 0,
    };
    reader.node(0).ok()?;
    let body = reader.node(0).ok()?;
    let mut norm = Normaliser::identity();
    let mut walk = Walk {
        norm: &mut norm,
        hex: Vec::new(),
    };
    Some(walk.value(&body, None, 0))
}

/// Renders an event-stream frame (a header item, then a body item).
pub fn frame(bytes: &[u8], norm: &mut Normaliser) -> String {
    let mut reader = Reader {
        bytes,
        at: 0,
        items: 0,
    };
    let mut out = String::new();
    let mut walk = Walk {
        norm,
        hex: Vec::new(),
    };
    for part in ["header", "body"] {
        match reader.node(0) {
            Ok(node) => {
                let value = walk.value(&node, None, 0);
                let _ = writeln!(out, "{part}:\n{}", pretty(&value));
            }
            Err(problem) => {
                let _ = writeln!(out, "{part}: unreadable: {problem}");
                let _ = writeln!(out, "raw: {}", hex(&bytes[..bytes.len().min(4096)]));
                return out;
            }
        }
    }
    if reader.at != bytes.len() {
        let _ = writeln!(
            out,
            "after the body: {} more bytes",
            bytes.len() - reader.at
        );
    }
    out.push_str("hex:\n");
    for line in &walk.hex {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::normalise::{Kind, Normaliser};
    use super::*;

    #[test]
    fn key_order_and_heads_are_shown_as_sent_and_seq_is_normalised() {
        // {"t": "#a", "op": 1} (keys not in canonical order), then {"seq": 5}.
        let mut bytes = vec![0xa2, 0x61, b't', 0x62, b'#', b'a', 0x62, b'o', b'p', 0x01];
        bytes.extend([0xa1, 0x63, b's', b'e', b'q', 0x05]);
        let mut norm = Normaliser::new(&[("seq", Kind::Counter("seq"))], &[]);
        let out = frame(&bytes, &mut norm);
        let header = out.find("\"t\"").expect("t");
        let op = out.find("\"op\"").expect("op");
        assert!(header < op, "{out}");
        assert!(out.contains("  a2  # map(2)"), "{out}");
        assert!(out.contains("      <seq +0> (number)  # uint"), "{out}");
    }

    #[test]
    fn a_length_claim_beyond_the_bytes_is_an_error_not_an_allocation() {
        let mut norm = Normaliser::new(&[], &[]);
        let out = frame(
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &mut norm,
        );
        assert!(
            out.contains("header: unreadable: an array at byte 0 claims"),
            "{out}"
        );
    }
}
