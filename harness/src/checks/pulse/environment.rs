//! Pulse's environments: a named stream created with one environment's API key is not listed, consumed or deleted with another's.

use reqwest::Method;
use scenarios::Finding;
use scenarios::pulse::meta;
use scenarios::pulse::plans::Identity;
use scenarios::pulse::shape;
use serde_json::Value;

use super::{Pulse, clip, fixed_property, needs_producer};
use crate::checks::case::or_stop;
use crate::property::CaseOutcome;
use crate::runner::CheckContext;

fixed_property!(Environment, meta::ENVIRONMENT, skip: Self::skip);

impl Environment {
    fn skip(ctx: &CheckContext) -> Option<String> {
        if ctx.credentials.pulse_second_key.is_none() {
            return Some(
                "needs a second Pulse API key, of another environment: give --pulse-key twice"
                    .to_owned(),
            );
        }
        needs_producer(ctx)
    }

    async fn case(ctx: CheckContext) -> Result<CaseOutcome, String> {
        let pulse = Pulse::new(&ctx);
        let Some(other) = ctx.credentials.pulse_second_key.clone() else {
            return Err("no second Pulse API key".to_owned());
        };
        let model = pulse.model_name("Env");
        pulse.declare_model(&model, Identity::Default).await?;
        let name = pulse.stream_name("env");
        or_stop!(pulse, pulse.create_stream_ok(&name, &model, None).await);
        let mut findings = Vec::new();
        match listed(&pulse, &other, &name).await? {
            Ok(None) => {}
            Ok(Some(info)) => findings.push(
                Finding::new(
                    "environment",
                    format!(
                        "GET /streams with another environment's key lists {name}, \
                         created with the first key"
                    ),
                )
                .with_evidence(info),
            ),
            Err(problem) => findings.push(Finding::new("stream-list", problem)),
        }
        findings.extend(foreign_consume_and_delete(&pulse, &other, &name).await?);
        match listed(&pulse, pulse.key(), &name).await? {
            Ok(Some(_)) => {}
            Ok(None) => findings.push(Finding::new(
                "environment",
                format!(
                    "GET /streams with the key that created {name} no longer lists it \
                     after another environment's key tried to delete it"
                ),
            )),
            Err(problem) => findings.push(Finding::new("stream-list", problem)),
        }
        // Clean up; what this answers is not this check's business.
        pulse.delete_stream(&name).await?;
        pulse.done(findings)
    }
}

/// Findings about consuming and deleting the stream `name` with another
/// environment's key `other`: both must answer `404` PulseError.
async fn foreign_consume_and_delete(
    pulse: &Pulse,
    other: &str,
    name: &str,
) -> Result<Vec<Finding>, String> {
    let path = format!("/streams/{name}/events");
    let request = pulse.request(pulse.base(), Method::GET, &path, Some(other), None);
    // A stream that opens is dropped at once: its status is the answer.
    let (status, body) = match pulse.open(request).await? {
        Ok(stream) => (stream.status, String::new()),
        Err(response) => (response.status, response.body),
    };
    let mut findings = shape::error_answer(
        &format!("GET {path} with another environment's key"),
        status,
        &body,
        Some(404),
    );
    let path = format!("/streams/{name}");
    let request = pulse.request(pulse.base(), Method::DELETE, &path, Some(other), None);
    let deleted = pulse.call(request).await?;
    findings.extend(shape::error_answer(
        &format!("DELETE {path} with another environment's key"),
        deleted.status,
        &deleted.body,
        Some(404),
    ));
    Ok(findings)
}

/// The StreamInfo `GET /streams` with `key` lists for `name`, if any; a
/// problem when the answer is not `200 {data: [...]}`.
async fn listed(
    pulse: &Pulse,
    key: &str,
    name: &str,
) -> Result<Result<Option<Value>, String>, String> {
    let request = pulse.request(pulse.base(), Method::GET, "/streams", Some(key), None);
    let response = pulse.call(request).await?;
    let body = response.json().unwrap_or_default();
    let Some(data) = body["data"].as_array().filter(|_| response.status == 200) else {
        return Ok(Err(format!(
            "GET /streams answered {}, not 200 {{data: [StreamInfo]}}: {}",
            response.status,
            clip(&response.body)
        )));
    };
    Ok(Ok(data.iter().find(|info| info["name"] == name).cloned()))
}
