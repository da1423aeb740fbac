//! Fibric filters: the `event_type` glob, the AND of the four filters, and the binding a cursor carries.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::envelope::StoredEnvelope;

/// An `event_type` filter: an exact type, or a glob whose `*` segments each
/// match exactly one dot-delimited segment (`order.*` matches `order.created`,
/// not `order.refund.issued`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypePattern {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Any,
}

impl TypePattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("event_type must not be empty".to_owned());
        }
        let mut segments = Vec::new();
        for segment in text.split('.') {
            if segment == "*" {
                segments.push(Segment::Any);
            } else if segment.contains('*') {
                return Err(format!(
                    "event_type {text:?}: * stands for a whole dot-delimited segment, as in order.*"
                ));
            } else if segment.is_empty() {
                return Err(format!("event_type {text:?} has an empty segment"));
            } else {
                segments.push(Segment::Literal(segment.to_owned()));
            }
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    pub fn matches(&self, event_type: &str) -> bool {
        let mut parts = event_type.split('.');
        for segment in &self.segments {
            let Some(part) = parts.next() else {
                return false;
            };
            match segment {
                Segment::Any if !part.is_empty() => {}
                Segment::Literal(literal) if literal == part => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The `glob-spans-segments` defect: a `*` takes one or more segments.
    pub fn matches_spanning(&self, event_type: &str) -> bool {
        fn go(segments: &[Segment], parts: &[&str]) -> bool {
            match (segments.split_first(), parts.split_first()) {
                (None, None) => true,
                (Some((Segment::Any, rest)), Some(_)) => {
                    (1..=parts.len()).any(|taken| go(rest, &parts[taken..]))
                }
                (Some((Segment::Literal(literal), rest)), Some((part, tail))) => {
                    literal == part && go(rest, tail)
                }
                _ => false,
            }
        }
        let parts: Vec<&str> = event_type.split('.').collect();
        go(&self.segments, &parts)
    }
}

/// The filters of a list or stream request; all given ones must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSet {
    pub event_type: Option<TypePattern>,
    pub source: Option<String>,
    pub workspace_id: Option<String>,
    pub entity: Option<String>,
    /// Deliberate defects of matching (not part of the binding).
    pub defects: FilterDefects,
}

/// `glob-spans-segments` and `filters-or`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FilterDefects {
    pub glob_spans_segments: bool,
    pub or: bool,
}

impl FilterSet {
    pub fn matches(&self, envelope: &StoredEnvelope) -> bool {
        let spans = self.defects.glob_spans_segments;
        let tests = [
            self.event_type.as_ref().map(|pattern| {
                if spans {
                    pattern.matches_spanning(&envelope.event_type)
                } else {
                    pattern.matches(&envelope.event_type)
                }
            }),
            self.source
                .as_ref()
                .map(|source| *source == envelope.source),
            self.workspace_id
                .as_ref()
                .map(|ws| envelope.workspace_id.as_ref() == Some(ws)),
            self.entity
                .as_ref()
                .map(|entity| envelope.entities.contains(entity)),
        ];
        let mut given = tests.into_iter().flatten().peekable();
        if given.peek().is_none() {
            return true;
        }
        if self.defects.or {
            given.any(|ok| ok)
        } else {
            given.all(|ok| ok)
        }
    }

    /// The tenant and this exact filter set, as bytes: two requests have the
    /// same key exactly when they select the same envelopes.
    pub fn key(&self, tenant: &str) -> Vec<u8> {
        let canonical: BTreeMap<&str, &str> = [
            (
                "event_type",
                self.event_type.as_ref().map(TypePattern::as_str),
            ),
            ("source", self.source.as_deref()),
            ("workspace_id", self.workspace_id.as_deref()),
            ("entity", self.entity.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
        .collect();
        let mut key = Vec::with_capacity(64);
        key.extend_from_slice(tenant.as_bytes());
        key.push(0);
        for (name, value) in canonical {
            key.extend_from_slice(name.as_bytes());
            key.push(0);
            key.extend_from_slice(value.as_bytes());
            key.push(0);
        }
        key
    }

    /// What a cursor is bound to: the tenant and this exact filter set. Two
    /// requests get the same binding only if they select the same envelopes.
    pub fn binding(&self, tenant: &str) -> String {
        let digest = Sha256::digest(self.key(tenant));
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The glob rule of the seed, as a table: pattern, event type, matches?
    #[test]
    fn event_type_globs_match_exactly_one_segment_per_star() {
        let table = [
            ("order.*", "order.created", true),
            ("order.*", "order.updated", true),
            ("order.*", "order.refund.issued", false),
            ("order.*", "order", false),
            ("order.*", "orders.created", false),
            ("order.*.issued", "order.refund.issued", true),
            ("order.*.issued", "order.refund.voided", false),
            ("*.created", "order.created", true),
            ("*.created", "order.refund.created", false),
            ("*", "order", true),
            ("*", "order.created", false),
            ("*.*", "order.created", true),
            ("order.created", "order.created", true),
            ("order.created", "order.created.late", false),
            ("order.created", "order.Created", false),
            ("order.*", "order.", false),
        ];
        for (pattern, event_type, expected) in table {
            let parsed = TypePattern::parse(pattern).unwrap();
            assert_eq!(
                parsed.matches(event_type),
                expected,
                "{pattern} vs {event_type}"
            );
        }
    }

    #[test]
    fn malformed_globs_are_refused() {
        for bad in [
            "",
            "order.cre*",
            "order..created",
            "**",
            "order.**",
            ".order",
        ] {
            assert!(TypePattern::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bindings_differ_by_tenant_and_by_any_filter() {
        let none = FilterSet::default();
        let typed = FilterSet {
            event_type: Some(TypePattern::parse("order.*").unwrap()),
            ..FilterSet::default()
        };
        let sourced = FilterSet {
            source: Some("order.*".to_owned()),
            ..FilterSet::default()
        };
        assert_eq!(none.binding("tn_a"), FilterSet::default().binding("tn_a"));
        assert_ne!(none.binding("tn_a"), none.binding("tn_b"));
        assert_ne!(none.binding("tn_a"), typed.binding("tn_a"));
        assert_ne!(typed.binding("tn_a"), sourced.binding("tn_a"));
    }
}
