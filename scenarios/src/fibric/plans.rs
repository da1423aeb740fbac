//! Fibric plans: generated envelopes, filters, resumes and backfill seams, and an independent model of the filter rules.
//!
//! The model here is written apart from the reference server's matcher on
//! purpose: the oracle and the server must not share a bug.

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

/// One envelope a plan publishes. The harness adds the tenant, the event id
/// and a case marker when it publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSpec {
    pub event_type: String,
    pub source: String,
    pub workspace_id: Option<String>,
    pub entities: Vec<String>,
}

/// A filter set; `None` means the parameter is not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub event_type: Option<String>,
    pub source: Option<String>,
    pub workspace_id: Option<String>,
    pub entity: Option<String>,
}

impl Filters {
    /// The query string these filters make (values are URL-safe by construction).
    pub fn query(&self) -> String {
        [
            ("event_type", &self.event_type),
            ("source", &self.source),
            ("workspace_id", &self.workspace_id),
            ("entity", &self.entity),
        ]
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={v}")))
        .collect::<Vec<_>>()
        .join("&")
    }

    /// Whether an envelope passes: every given filter matches (AND).
    pub fn admits(&self, envelope: &EnvelopeSpec) -> bool {
        self.event_type
            .as_ref()
            .is_none_or(|p| glob_admits(p, &envelope.event_type))
            && self.source.as_ref().is_none_or(|s| *s == envelope.source)
            && self
                .workspace_id
                .as_ref()
                .is_none_or(|w| envelope.workspace_id.as_ref() == Some(w))
            && self
                .entity
                .as_ref()
                .is_none_or(|e| envelope.entities.contains(e))
    }
}

/// The seed's rule: `*` matches exactly one dot-delimited segment; other
/// segments match literally; the segment counts must be equal.
pub fn glob_admits(pattern: &str, event_type: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let parts: Vec<&str> = event_type.split('.').collect();
    pattern.len() == parts.len()
        && pattern
            .iter()
            .zip(&parts)
            .all(|(p, t)| (*p == "*" && !t.is_empty()) || p == t)
}

fn segment() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["order", "refund", "created", "issued", "invoice"])
        .prop_map(str::to_owned)
}

/// Event types of one to three segments from a small alphabet, so that globs hit and miss.
pub fn event_type() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..=3).prop_map(|s| s.join("."))
}

/// A glob: an event type with some segments replaced by `*`.
pub fn glob() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![2 => segment(), 1 => Just("*".to_owned())],
        1..=3,
    )
    .prop_map(|s| s.join("."))
}

pub fn envelope() -> impl Strategy<Value = EnvelopeSpec> {
    (
        event_type(),
        prop::sample::select(vec!["magento", "shopify", "operator:jenny"]),
        prop::option::of(prop::sample::select(vec!["ws_1", "ws_2"])),
        prop::collection::vec(
            prop::sample::select(vec!["order:1", "order:2", "customer:7"]),
            0..=2,
        ),
    )
        .prop_map(|(event_type, source, workspace, mut entities)| {
            entities.sort();
            entities.dedup();
            EnvelopeSpec {
                event_type,
                source: source.to_owned(),
                workspace_id: workspace.map(str::to_owned),
                entities: entities.into_iter().map(str::to_owned).collect(),
            }
        })
}

/// Filter sets over the same vocabulary as [`envelope`], most with two or more filters.
pub fn filters() -> impl Strategy<Value = Filters> {
    (
        prop::option::of(glob()),
        prop::option::of(prop::sample::select(vec![
            "magento",
            "shopify",
            "operator:jenny",
        ])),
        prop::option::of(prop::sample::select(vec!["ws_1", "ws_2"])),
        prop::option::of(prop::sample::select(vec![
            "order:1",
            "order:2",
            "customer:7",
        ])),
    )
        .prop_map(|(event_type, source, workspace, entity)| Filters {
            event_type,
            source: source.map(str::to_owned),
            workspace_id: workspace.map(str::to_owned),
            entity: entity.map(str::to_owned),
        })
}

/// A generated filter case: envelopes for two tenants and one filter set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterPlan {
    /// (tenant index, envelope)
    pub envelopes: Vec<(usize, EnvelopeSpec)>,
    pub filters: Filters,
}

/// One to eleven envelopes, each of tenant 0 or 1.
pub fn two_tenant_envelopes() -> impl Strategy<Value = Vec<(usize, EnvelopeSpec)>> {
    prop::collection::vec((0usize..2, envelope()), 1..12)
}

/// Envelopes of tenant 0 and an `event_type` glob to stream them with.
pub fn glob_plan() -> impl Strategy<Value = FilterPlan> {
    (
        prop::collection::vec((Just(0usize), envelope()), 1..12),
        glob(),
    )
        .prop_map(|(envelopes, glob)| FilterPlan {
            envelopes,
            filters: Filters {
                event_type: Some(glob),
                ..Filters::default()
            },
        })
}

/// Envelopes of tenant 0 and a set of filters that must all hold.
pub fn and_filters_plan() -> impl Strategy<Value = FilterPlan> {
    (
        prop::collection::vec((Just(0usize), envelope()), 1..12),
        filters(),
    )
        .prop_map(|(envelopes, filters)| FilterPlan { envelopes, filters })
}

/// Envelopes of two tenants and a set of filters: what a reader must see of
/// them is its own tenant's envelopes that every filter admits.
pub fn two_tenant_filter_plan() -> impl Strategy<Value = FilterPlan> {
    (two_tenant_envelopes(), filters())
        .prop_map(|(envelopes, filters)| FilterPlan { envelopes, filters })
}

/// Read `published` envelopes, resume after the `resume_after`-th, then publish `live` more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumePlan {
    pub published: usize,
    pub resume_after: usize,
    pub live: usize,
}

/// Two to eight envelopes (the case reads up to the last, so that a server
/// dropping one cannot make it wait), a resume after any of them, and up to
/// three live ones.
pub fn resume_plan() -> impl Strategy<Value = ResumePlan> {
    (2usize..=8, 0usize..=3).prop_flat_map(|(published, live)| {
        (0..published).prop_map(move |resume_after| ResumePlan {
            published,
            resume_after,
            live,
        })
    })
}

/// Backfill `backfill` envelopes in pages of `page`, then `gap` more land
/// before the stream opens, and `live` after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeamPlan {
    pub backfill: usize,
    pub page: usize,
    pub gap: usize,
    pub live: usize,
}

/// Up to six envelopes backfilled in pages of one to four, up to three in the gap, one to three live.
pub fn seam_plan() -> impl Strategy<Value = SeamPlan> {
    (0usize..=6, 1usize..=4, 0usize..=3, 1usize..=3).prop_map(|(backfill, page, gap, live)| {
        SeamPlan {
            backfill,
            page,
            gap,
            live,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glob_model_follows_the_seed() {
        assert!(glob_admits("order.*", "order.created"));
        assert!(!glob_admits("order.*", "order.refund.issued"));
        assert!(!glob_admits("order.*", "order"));
        assert!(glob_admits("*.refund.*", "order.refund.issued"));
        assert!(glob_admits("order.created", "order.created"));
    }

    #[test]
    fn filters_are_an_and() {
        let envelope = EnvelopeSpec {
            event_type: "order.created".into(),
            source: "magento".into(),
            workspace_id: Some("ws_1".into()),
            entities: vec!["order:1".into()],
        };
        let mut filters = Filters {
            event_type: Some("order.*".into()),
            source: Some("magento".into()),
            ..Filters::default()
        };
        assert!(filters.admits(&envelope));
        filters.entity = Some("order:2".into());
        assert!(!filters.admits(&envelope));
        assert_eq!(
            filters.query(),
            "event_type=order.*&source=magento&entity=order:2"
        );
    }
}
