//! Fuzzing entry points, shared by the `cargo fuzz` targets in `fuzz/` and the regression tests over `fixtures/fuzz/`.
//!
//! Each function takes arbitrary bytes and panics if the code under test
//! breaks a promise: a panic inside it, an error that points outside its
//! input, or (for the HTTP targets) a 5xx answer to a request a client sent.
//! Refusing bad input with a typed error or a 4xx is always right.
//!
//! # Layout
//!
//! - this file: the AQL and FQL parsers.
//! - `http`: request bodies through the whole router, one function per API.

mod http;

pub use http::{actyx, atproto, control, fauna, fibric, pulse};

use serde_json::{Value, json};

use crate::actyx::aql::{Endpoint, EventMeta, Query, eval::Pipeline};
use crate::fauna::fql::{self, Fragment};

/// The query text (UTF-8, invalid sequences replaced) is parsed as written and with the
/// `tag-precedence-flat` defect; an error must point inside the text, and an accepted query must
/// survive feature checks on every endpoint and evaluation on a few events.
pub fn aql(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for flat_tags in [false, true] {
        match Query::parse_with(&text, flat_tags) {
            Ok(query) => run_query(query),
            Err(err) => {
                assert!(
                    err.at <= text.len(),
                    "error at {} in {} bytes",
                    err.at,
                    text.len()
                );
                let _ = err.to_string();
            }
        }
    }
}

fn run_query(query: Query) {
    let _ = query.uses();
    for endpoint in [
        Endpoint::Query,
        Endpoint::Subscribe,
        Endpoint::SubscribeMonotonic,
    ] {
        let _ = query.check_features(endpoint);
    }
    let tags = ["a".to_owned(), "b".to_owned()];
    let meta = EventMeta {
        tags: &tags,
        app_id: "com.example.app",
        local: true,
    };
    let payloads = [
        json!({"a": 1, "b": [1, 2.5, "x"], "c": {"d": null}, "e": true}),
        json!(-3),
        json!("text"),
        Value::Null,
    ];
    let mut pipeline = Pipeline::new(query);
    for payload in &payloads {
        let _ = pipeline.feed(&meta, payload);
    }
}

/// The text (UTF-8, invalid sequences replaced) is cut at each NUL into text fragments with an
/// interpolated value between them, as drivers send `${...}`; compiling must not panic.
pub fn fql(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let values = [json!(1), json!("s"), json!({"k": [true, null]}), json!(2.5)];
    let mut fragments = Vec::new();
    for (index, piece) in text.split('\0').enumerate() {
        if index > 0 {
            let value = values[index % values.len()].clone();
            fragments.push(Fragment::Value(value));
        }
        fragments.push(Fragment::Text(piece.to_owned()));
    }
    match fql::compile(&fragments) {
        Ok(command) => {
            let _ = format!("{command:?}");
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
}
