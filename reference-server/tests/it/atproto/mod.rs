//! The AT Protocol pieces of the reference server, checked against the official interop vectors (`testenv::vectors()`).

pub mod client;
mod clients;
mod commit;
mod crypto;
mod firehose;
mod identity;
mod labels;
mod mst;
mod relay;
mod restart;
mod xrpc;

use std::path::PathBuf;

/// A file of the atproto interop vectors (a test that calls this fails when they are absent).
pub fn vector(path: &str) -> PathBuf {
    testenv::vectors().join(path)
}

pub fn read_json(path: &str) -> serde_json::Value {
    let file = vector(path);
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    serde_json::from_str(&text).expect("vector JSON")
}

/// The lines of a syntax vector file, without comments and blank lines.
pub fn read_lines(path: &str) -> Vec<String> {
    let file = vector(path);
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}
