//! Normalisation: what legitimately varies between runs becomes a stable placeholder.
//!
//! A snapshot must change when the server's output changes, and only then.
//! Ids, cursors, sequence numbers, times, CIDs and signatures change on every
//! run, so each is replaced by a placeholder that keeps what a reader needs:
//!
//! - an opaque value (cursor, id, CID, signature) becomes `<kind N>`, where N
//!   counts distinct values in order of first appearance within one exchange:
//!   the same cursor twice gets the same placeholder;
//! - a counter (seq, offset, lamport) becomes `<kind +D>`, its distance from
//!   the first one seen in the exchange, so gaps and repeats stay visible;
//! - a time keeps its shape with every digit turned into 9
//!   (`<time 9999-99-99T99:99:99.999Z>`), so a change of unit, precision or
//!   format shows; equal times are not related, because which events share a
//!   millisecond is timing;
//! - a value replaced anywhere in the exchange is replaced everywhere in it,
//!   whatever field it appears in (the renderer makes two passes for this);
//! - a number that was replaced says so (`<seq +1> (number)`), so a type change shows.
//!
//! What varies is found by field name (per API) and by shape (RFC 3339 times,
//! ULIDs, CIDs, DIDs, JWTs, UUIDs, TIDs in paths), and the run's own names
//! (the unique tag a script puts in what it creates) become `<run>`, and
//! other literals a script names (an Actyx node id) become `<name>`.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Number, Value};

/// How a varying value is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An opaque token: `<name N>`, equal values get equal placeholders.
    Opaque(&'static str),
    /// A count that grows: `<name +D>` relative to the first seen.
    Counter(&'static str),
    /// A point in time: its shape, digits as 9.
    Time,
    /// A credential: `<secret>`.
    Secret,
}

/// Field names whose values vary, for one API (applied at any depth).
pub type Rules = &'static [(&'static str, Kind)];

/// Field names every API shares.
const COMMON: Rules = &[
    ("authorization", Kind::Secret),
    ("token", Kind::Opaque("token")),
    ("accessJwt", Kind::Opaque("jwt")),
    ("refreshJwt", Kind::Opaque("jwt")),
];

static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
        .expect("regex")
});
static ULID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$").expect("regex"));
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$").expect("regex")
});
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$").expect("regex")
});
/// Tokens found inside longer strings (URIs, paths, messages).
static EMBEDDED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<did>did:plc:[a-z2-7]{24}|did:key:z[1-9A-HJ-NP-Za-km-z]{40,60})",
        r"|(?P<cid>\bbaf[a-z2-7]{56,})",
        r"|(?P<time>\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))",
        r"|/(?P<tid>[2-7a-j][2-7a-z]{12})\b",
    ))
    .expect("regex")
});

/// The placeholders of one exchange.
#[derive(Debug)]
pub struct Normaliser {
    rules: Rules,
    literals: Vec<(String, String)>,
    /// Each replaced value's placeholder: the first one it got, whatever its field.
    opaque: HashMap<String, String>,
    next: HashMap<&'static str, usize>,
    bases: HashMap<&'static str, i128>,
    /// Off for [`Normaliser::identity`]: every value is kept as it is.
    enabled: bool,
}

impl Normaliser {
    /// A normaliser with the API's field rules; `literals` (value, name: the
    /// run's own tag, a node id) become `<name>`
    /// tags) become `<run>` wherever they appear.
    pub fn new(rules: Rules, literals: &[(String, String)]) -> Self {
        Self {
            rules,
            literals: literals
                .iter()
                .filter(|(value, _)| !value.is_empty())
                .cloned()
                .collect(),
            opaque: HashMap::new(),
            next: HashMap::new(),
            bases: HashMap::new(),
            enabled: true,
        }
    }

    /// A normaliser that replaces nothing, for reading values out of what a server sent.
    pub fn identity() -> Self {
        Self {
            enabled: false,
            ..Self::new(&[], &[])
        }
    }

    fn rule(&self, key: Option<&str>) -> Option<Kind> {
        let key = key?;
        self.rules
            .iter()
            .chain(COMMON)
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, kind)| *kind)
    }

    /// The placeholder of an opaque value.
    pub fn opaque(&mut self, name: &'static str, value: &str) -> String {
        if !self.enabled {
            return value.to_owned();
        }
        if let Some(placeholder) = self.opaque.get(value) {
            return placeholder.clone();
        }
        let next = self.next.entry(name).or_insert(0);
        *next += 1;
        let placeholder = format!("<{name} {next}>");
        self.opaque.insert(value.to_owned(), placeholder.clone());
        placeholder
    }

    fn counter(&mut self, name: &'static str, value: i128) -> String {
        let base = *self.bases.entry(name).or_insert(value);
        let d = value - base;
        if d < 0 {
            format!("<{name} {d}>")
        } else {
            format!("<{name} +{d}>")
        }
    }

    /// A string value, under the field `key` if it has one.
    pub fn text(&mut self, key: Option<&str>, value: &str) -> String {
        if !self.enabled {
            return value.to_owned();
        }
        match self.rule(key) {
            Some(Kind::Secret) => return "<secret>".to_owned(),
            Some(Kind::Opaque(name)) => return self.opaque(name, value),
            Some(Kind::Time) => return time_shape(value),
            // A counter field holding something else (a malformed cursor a
            // script sent on purpose) is shown as it is.
            Some(Kind::Counter(name)) => {
                if let Ok(n) = value.parse::<i128>() {
                    return self.counter(name, n);
                }
            }
            None => {}
        }
        if RFC3339.is_match(value) {
            return time_shape(value);
        }
        if ULID.is_match(value) {
            return self.opaque("ulid", value);
        }
        if UUID.is_match(value) {
            return self.opaque("uuid", value);
        }
        if JWT.is_match(value) {
            return self.opaque("jwt", value);
        }
        // A value already replaced elsewhere in the exchange keeps its placeholder
        // wherever it shows up again, under any name (an SSE id that is a cursor).
        if let Some(placeholder) = self.opaque.get(value) {
            return placeholder.clone();
        }
        let mut out = value.to_owned();
        for (literal, name) in &self.literals {
            if out.contains(literal.as_str()) {
                out = out.replace(literal.as_str(), &format!("<{name}>"));
            }
        }
        self.embedded(&out)
    }

    fn embedded(&mut self, value: &str) -> String {
        let found: Vec<(usize, usize, &'static str, String)> = EMBEDDED
            .captures_iter(value)
            .filter_map(|c| {
                let (name, m) = if let Some(m) = c.name("time") {
                    ("time", m)
                } else if let Some(m) = c.name("did") {
                    ("did", m)
                } else if let Some(m) = c.name("cid") {
                    ("cid", m)
                } else {
                    ("tid", c.name("tid")?)
                };
                Some((m.start(), m.end(), name, m.as_str().to_owned()))
            })
            .collect();
        if found.is_empty() {
            return value.to_owned();
        }
        let mut out = String::with_capacity(value.len());
        let mut at = 0;
        for (start, end, name, text) in found {
            out.push_str(&value[at..start]);
            // Times in a sentence keep their shape, like times in a field.
            let shown = if name == "time" {
                time_shape(&text)
            } else {
                self.opaque(name, &text)
            };
            out.push_str(&shown);
            at = end;
        }
        out.push_str(&value[at..]);
        out
    }

    /// A number under the field `key`: a placeholder string if the field varies.
    pub fn number(&mut self, key: Option<&str>, value: &Number) -> Value {
        let text = value.to_string();
        if !self.enabled {
            return Value::Number(value.clone());
        }
        let placeholder = match self.rule(key) {
            Some(Kind::Counter(name)) => match text.parse::<i128>() {
                Ok(n) => self.counter(name, n),
                Err(_) => self.opaque(name, &text),
            },
            Some(Kind::Opaque(name)) => self.opaque(name, &text),
            Some(Kind::Time) => format!("<time {}>", digits_shape(&text)),
            Some(Kind::Secret) => "<secret>".to_owned(),
            None => return Value::Number(value.clone()),
        };
        Value::String(format!("{placeholder} (number)"))
    }

    /// A JSON value with every varying part replaced.
    pub fn json(&mut self, value: &Value) -> Value {
        self.json_under(None, value)
    }

    fn json_under(&mut self, key: Option<&str>, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(key, s)),
            Value::Number(n) => self.number(key, n),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.json_under(key, item))
                    .collect(),
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let name = self.text(None, k);
                    out.insert(name, self.json_under(Some(k), v));
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// A time's shape: every digit becomes 9.
pub fn time_shape(value: &str) -> String {
    format!("<time {}>", digits_shape(value))
}

fn digits_shape(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const RULES: Rules = &[
        ("cursor", Kind::Opaque("cursor")),
        ("seq", Kind::Counter("seq")),
        ("txn_ts", Kind::Time),
    ];

    #[test]
    fn equal_values_share_a_placeholder_and_counters_keep_their_distance() {
        let mut n = Normaliser::new(RULES, &[("snap7f".to_owned(), "run".to_owned())]);
        let out = n.json(&json!({
            "cursor": "abc", "next": {"cursor": "def"}, "again": {"cursor": "abc"},
            "seq": 41, "seqs": {"seq": 43},
            "txn_ts": 1_700_000_000_123_456_u64,
            "at": "2026-11-23T06:40:48.123Z",
            "name": "orders-snap7f",
            "id": "01JD2Z3Y4X5W6V7T8S9R0QPNMK",
            "uri": "at://did:plc:abcdefghijklmnopqrstuvwx/app.bsky.feed.post/3kabcdefghijk",
            "message": "start 2026-11-23T06:40:48Z is too old",
        }));
        assert_eq!(
            out,
            json!({
                "cursor": "<cursor 1>", "next": {"cursor": "<cursor 2>"},
                "again": {"cursor": "<cursor 1>"},
                "seq": "<seq +0> (number)", "seqs": {"seq": "<seq +2> (number)"},
                "txn_ts": "<time 9999999999999999> (number)",
                "at": "<time 9999-99-99T99:99:99.999Z>",
                "name": "orders-<run>",
                "id": "<ulid 1>",
                "uri": "at://<did 1>/app.bsky.feed.post/<tid 1>",
                "message": "start <time 9999-99-99T99:99:99Z> is too old",
            })
        );
    }

    #[test]
    fn secrets_are_never_kept_and_plain_values_are_left_alone() {
        let mut n = Normaliser::new(RULES, &[]);
        assert_eq!(n.text(Some("Authorization"), "Bearer sk_live"), "<secret>");
        assert_eq!(n.text(Some("event"), "envelope"), "envelope");
        assert_eq!(n.json(&json!({"limit": 2})), json!({"limit": 2}));
    }
}
