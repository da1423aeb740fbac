//! Fauna's set-membership property: generated writes against `where(.status == "in")`, compared with a brute-force model.

use scenarios::Finding;
use scenarios::fauna::meta;
use scenarios::fauna::model::{self, Delivered, SetPlan, Write, set_plan};
use scenarios::fauna::shape;
use serde_json::json;

use super::{Fauna, PROMPT, is_event_of, never};
use crate::checks::case::or_stop;
use crate::checks::generated_property;
use crate::client::fauna as client;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;
use crate::transport::Events;

generated_property!(
    SetMembership,
    meta::SET_MEMBERSHIP,
    SetPlan,
    strategy: set_plan(),
    cases: |requested| requested.clamp(1, 24),
    skip: never,
    run: membership_case
);

async fn membership_case(ctx: CheckContext, plan: SetPlan) -> Result<CaseOutcome, String> {
    if plan.ops.len() > 256 {
        return Err(format!("a plan of {} ops is more than 256", plan.ops.len()));
    }
    let fauna = Fauna::new(&ctx);
    let collection = fauna.collection("set", None).await?;
    let (token, _) = fauna
        .token(&format!(
            "{collection}.where(.{} == {}).eventSource()",
            model::FIELD,
            json!(model::INSIDE)
        ))
        .await?;
    let mut stream = None;
    if !plan.replay {
        stream = Some(or_stop!(
            fauna,
            fauna.stream(&client::stream(&token, None)).await
        ));
    }
    // The plan's writes, then a sentinel that enters the set: the case reads up to its add.
    let mut writes = model::writes(&plan);
    let documents = writes
        .iter()
        .filter(|w| matches!(w, Write::Create { .. }))
        .count();
    writes.push(Write::Create {
        doc: documents,
        inside: true,
        v: writes.len() as u64 + 1,
    });
    let mut ids: Vec<String> = Vec::with_capacity(documents + 1);
    for (index, write) in writes.iter().enumerate() {
        if index + 1 == writes.len() && stream.is_none() {
            // Replayed: the stream opens after the plan's writes, before the sentinel.
            stream = Some(or_stop!(
                fauna,
                fauna.stream(&client::stream(&token, None)).await
            ));
        }
        match *write {
            Write::Create { inside, v, .. } => {
                let written = fauna.create(&collection, &Write::fields(inside, v)).await?;
                ids.push(written.id);
            }
            Write::Update { doc, inside, v } => {
                fauna
                    .update(&collection, &ids[doc], &Write::fields(inside, v))
                    .await?;
            }
            Write::Delete { doc } => {
                fauna.delete(&collection, &ids[doc]).await?;
            }
        }
    }
    let owed = model::owed(&writes);
    let sentinel = ids.last().cloned().unwrap_or_default();
    let Some(mut stream) = stream else {
        return Err("the plan had no writes to open the stream before".to_owned());
    };
    let events = stream
        .read_until(PROMPT, owed.len() + 16, |e| is_event_of(e, &sentinel))
        .await;
    let delivered: Vec<Delivered> = events
        .iter()
        .filter(|e| shape::is_data(e))
        .map(|e| Delivered {
            kind: e["type"].as_str().unwrap_or("").to_owned(),
            id: shape::document_id(e).unwrap_or("<no id>").to_owned(),
            v: shape::document_field(e, model::VERSION).and_then(|v| v.as_u64()),
        })
        .collect();
    let mut findings: Vec<Finding> = model::compare(&owed, &ids, &delivered);
    if let Some(finding) = findings.first_mut() {
        finding.message = format!("{} (writes: {writes:?})", finding.message);
    }
    fauna.done(findings)
}
