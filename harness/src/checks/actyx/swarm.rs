//! The Actyx check of `toReplicate`: events the swarm announces count until they arrive, and a fully replicated stream leaves the map.

use scenarios::Finding;
use scenarios::actyx::meta;
use serde_json::{Value, json};

use super::{Actyx, Found, clip, fixed_property, needs_replicate};
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fixed_property!(ToReplicate, meta::TO_REPLICATE, skip: needs_replicate);

impl ToReplicate {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let mut ax = Actyx::new(&ctx);
        let found = Self::body(&mut ax).await;
        ax.finish(found)
    }

    /// Another node's stream: offsets 0 and 1 arrive with offset 4
    /// announced, then offsets 2 to 4 arrive. The local stream, which the
    /// case publishes to, is never pending.
    async fn body(ax: &mut Actyx) -> Found {
        ax.login().await?;
        let local = ax.publish_n(0, 1).await?;
        let stream = ax.foreign_stream(0);
        let event = |offset: u64| json!({"offset": offset, "lamport": offset + 1, "tags": [ax.tag("")], "payload": {"o": offset}});
        ax.replicate_announcing(&stream, &[event(0), event(1)], Some(4))
            .await?;
        let mut findings = Vec::new();
        let body = Self::offsets(ax).await?;
        let pending = body["toReplicate"][&stream].as_u64();
        if pending.is_none_or(|n| n == 0) {
            findings.push(Finding::new(
                "to-replicate",
                format!(
                    "with offsets 0 to 4 of {stream} announced and 0 to 1 here, toReplicate names {} for it, not a count above 0",
                    body["toReplicate"][&stream]
                ),
            ).with_evidence(body.clone()));
        }
        ax.replicate(&stream, &[event(2), event(3), event(4)])
            .await?;
        let body = Self::offsets(ax).await?;
        for (which, name) in [
            ("the other node's", stream.as_str()),
            ("the local", local[0].key.stream.as_str()),
        ] {
            if body["toReplicate"].get(name).is_some() {
                findings.push(
                    Finding::new(
                        "to-replicate",
                        format!(
                            "{which} stream {name} is fully replicated, yet toReplicate names it"
                        ),
                    )
                    .with_evidence(body.clone()),
                );
            }
        }
        if body["present"][&stream].as_u64() != Some(4) {
            findings.push(Finding::new(
                "present",
                format!(
                    "present names {} for {stream}, not 4, its newest offset",
                    body["present"][&stream]
                ),
            ));
        }
        Ok(findings)
    }

    async fn offsets(ax: &Actyx) -> Result<Value, super::Stop> {
        let request = ax
            .ctx
            .http
            .get(ax.url("events/offsets"))
            .bearer_auth(ax.token());
        let response = ax.call(request).await?;
        response
            .json()
            .filter(|_| response.status == 200)
            .ok_or_else(|| {
                Finding::new(
                    "status",
                    format!(
                        "GET events/offsets answered {} {}",
                        response.status,
                        clip(&response.body)
                    ),
                )
                .into()
            })
    }
}
