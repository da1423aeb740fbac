//! Publishing through `--producer`: Fibric and Pulse load on a target that is not a reference server.
//!
//! The requests are `check`'s (see [`crate::producer`]): a Fibric envelope
//! is appended alone as `check` appends it, so a producer written for
//! `check` drives a load of batch 1 unchanged; a batch goes as one
//! `envelopes` request. The producer's answer is the publish's
//! acknowledgement, and must carry what the protocol promises (the event
//! ids, a row's event id): an answer without them is a failed publish.

use serde_json::{Value, json};

use crate::producer::Producers;

/// Appends Fibric envelopes in one request and waits for the producer's answer.
pub async fn append(producers: &Producers, mut envelopes: Vec<Value>) -> Result<Value, String> {
    let n = envelopes.len();
    let (request, ids) = match envelopes.len() {
        0 => return Err("nothing to publish".to_owned()),
        1 => (
            json!({"api": "fibric", "action": "append", "envelope": envelopes.swap_remove(0)}),
            "event_id",
        ),
        _ => (
            json!({"api": "fibric", "action": "append", "envelopes": envelopes}),
            "event_ids",
        ),
    };
    let answer = producers.request(&request).await?;
    let complete = match &answer[ids] {
        Value::String(_) => n == 1,
        Value::Array(each) => each.len() == n && each.iter().all(Value::is_string),
        _ => false,
    };
    if !complete {
        return Err(format!(
            "the producer answered an append of {n} without its {ids}: {answer}"
        ));
    }
    Ok(answer)
}

/// Declares the run's Pulse model (primary key `id`).
pub async fn declare_model(producers: &Producers, model: &str) -> Result<(), String> {
    let request = json!({"api": "pulse", "action": "declare-model", "name": model,
        "primary_key": "id", "replica_identity": "default"});
    producers.request(&request).await.map(drop)
}

/// Creates one Pulse row; the answer carries the event's id.
pub async fn create_row(producers: &Producers, model: &str, row: Value) -> Result<Value, String> {
    let request =
        json!({"api": "pulse", "action": "row", "model": model, "change": "create", "row": row});
    let answer = producers.request(&request).await?;
    if !answer["id"].is_string() {
        return Err(format!(
            "the producer answered a row change without its event id: {answer}"
        ));
    }
    Ok(answer)
}
