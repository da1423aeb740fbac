//! Fauna checks of event sources: a single-document source carries only its document, and a stream needs a token an FQL query made.

use scenarios::Finding;
use scenarios::fauna::{meta, shape};
use serde_json::{Value, json};

use super::{Fauna, PROMPT, clip, fixed_property, is_event_of, never};
use crate::checks::case::or_stop;
use crate::client::fauna as client;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;
use crate::transport::Events;

/// A token no FQL query made: well-formed text, no event source behind it.
const MADE_UP_TOKEN: &str = "harness-made-up-token.not-from-any-query";

/// A data event as (type, document id, `v`), for comparison.
fn delivered(event: &Value) -> (String, String, Option<Value>) {
    (
        event["type"].as_str().unwrap_or("").to_owned(),
        shape::document_id(event).unwrap_or("<no id>").to_owned(),
        shape::document_field(event, "v"),
    )
}

fixed_property!(DocumentSource, meta::DOCUMENT_SOURCE, skip: Self::skip);

impl DocumentSource {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    /// Two documents, a source on the first, then writes to both and a new
    /// one; the tracked document's last update is the sentinel.
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let collection = fauna.collection("single", None).await?;
        let tracked = fauna.create(&collection, &json!({ "v": 0 })).await?;
        let other = fauna.create(&collection, &json!({ "v": 0 })).await?;
        let source = format!(
            "Set.single({collection}.byId({})!).eventSource()",
            json!(tracked.id)
        );
        let (token, _) = fauna.token(&source).await?;
        let mut stream = or_stop!(fauna, fauna.stream(&client::stream(&token, None)).await);
        fauna
            .update(&collection, &other.id, &json!({ "v": 1 }))
            .await?;
        fauna
            .update(&collection, &tracked.id, &json!({ "v": 2 }))
            .await?;
        fauna.create(&collection, &json!({ "v": 3 })).await?;
        fauna.delete(&collection, &other.id).await?;
        fauna
            .update(&collection, &tracked.id, &json!({ "v": 5 }))
            .await?;
        let events = stream
            .read_until(PROMPT, 32, |e| {
                is_event_of(e, &tracked.id) && shape::document_field(e, "v") == Some(json!(5))
            })
            .await;
        let got: Vec<_> = events
            .iter()
            .filter(|e| shape::is_data(e))
            .map(delivered)
            .collect();
        let want: Vec<_> = [2, 5]
            .into_iter()
            .map(|v| ("update".to_owned(), tracked.id.clone(), Some(json!(v))))
            .collect();
        if got == want {
            return fauna.done(Vec::new());
        }
        let kind = if got.iter().any(|(_, id, _)| *id != tracked.id) {
            "unexpected"
        } else {
            "document-source"
        };
        let finding = Finding::new(
            kind,
            format!(
                "a source on document {} delivered {got:?}, not its two updates {want:?} (other writes: update and delete of {}, a create)",
                tracked.id, other.id
            ),
        )
        .with_evidence(json!({ "source": source, "events": events }));
        fauna.done(vec![finding])
    }
}

fixed_property!(TokenRefused, meta::TOKEN_REFUSED, skip: Self::skip);

impl TokenRefused {
    fn skip(ctx: &CheckContext) -> Option<String> {
        never(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let fauna = Fauna::new(&ctx);
        let mut findings = Vec::new();
        let bodies = [
            ("a body without a token", json!({})),
            (
                "a token no FQL query made",
                json!({ "token": MADE_UP_TOKEN }),
            ),
        ];
        for (what, body) in bodies {
            let (status, text) = match fauna.stream_as(Some(fauna.secret()), &body).await? {
                Ok(stream) => (200, format!("(a stream: {:?})", stream.closed)),
                Err(response) => (response.status, response.body),
            };
            if !(400..500).contains(&status) {
                findings.push(
                    Finding::new(
                        "token",
                        format!("POST /stream/1 with {what} answered {status}, not a 4xx refusal"),
                    )
                    .with_evidence(
                        json!({ "request": body, "status": status, "body": clip(&text) }),
                    ),
                );
            }
        }
        fauna.done(findings)
    }
}
