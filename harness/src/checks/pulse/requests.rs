//! Pulse checks of requests the seed refuses or cannot serve: bodies without a required field, and stream names that do not exist.

use reqwest::Method;
use scenarios::pulse::meta;
use scenarios::pulse::shape;
use serde_json::{Value, json};

use super::{Pulse, fixed_property};
use crate::property::CaseOutcome;
use crate::record::HttpResponse;
use crate::runner::CheckContext;
use crate::transport::sse::SseConn;

/// The status and body of an answer that may have opened a stream; an
/// opened stream is its `200` with no body.
fn answer(opened: Result<SseConn, HttpResponse>) -> (u16, String) {
    match opened {
        Ok(stream) => (stream.status, String::new()),
        Err(response) => (response.status, response.body),
    }
}

fixed_property!(RequiredFields, meta::REQUIRED_FIELDS);

impl RequiredFields {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let model = pulse.model_name("Required");
        let probes: [(&str, &str, Value); 3] = [
            (
                "POST /streams without a name",
                "/streams",
                json!({ "model": model }),
            ),
            (
                "POST /streams without a model",
                "/streams",
                json!({ "name": pulse.stream_name("required") }),
            ),
            ("POST /subscribe without a model", "/subscribe", json!({})),
        ];
        let mut findings = Vec::new();
        for (what, path, body) in probes {
            let request = pulse.request(
                pulse.base(),
                Method::POST,
                path,
                Some(pulse.key()),
                Some(&body),
            );
            // A subscription that opens anyway is an answer too, not a hang.
            let (status, body) = if path == "/subscribe" {
                answer(pulse.open(request).await?)
            } else {
                let response = pulse.call(request).await?;
                (response.status, response.body)
            };
            findings.extend(shape::error_answer(what, status, &body, Some(400)));
        }
        pulse.done(findings)
    }
}

fixed_property!(UnknownStream, meta::UNKNOWN_STREAM);

impl UnknownStream {
    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let name = pulse.stream_name("never-created");
        let mut findings = Vec::new();
        let (status, body) = answer(pulse.consume(pulse.base(), &name, None).await?);
        findings.extend(shape::error_answer(
            &format!("GET /streams/{name}/events of a stream never created"),
            status,
            &body,
            Some(404),
        ));
        let deleted = pulse.delete_stream(&name).await?;
        findings.extend(shape::error_answer(
            &format!("DELETE /streams/{name} of a stream never created"),
            deleted.status,
            &deleted.body,
            Some(404),
        ));
        pulse.done(findings)
    }
}
