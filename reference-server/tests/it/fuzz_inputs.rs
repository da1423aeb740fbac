//! Regression tests for the fuzz targets: every input in `fixtures/fuzz/<target>/` (seeds and past crashes) through the target's own check.
//!
//! The HTTP checks drive the in-process router on a runtime of their own, so
//! these are plain `#[test]`s, not `#[tokio::test]`s.

use std::path::PathBuf;

use reference_server::fuzzing;

/// Runs `check` on every file in `fixtures/fuzz/<target>/`, which must hold at least one.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/fuzz")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{} holds no inputs", dir.display());
    for path in paths {
        let input = std::fs::read(&path).expect("a fuzz input");
        // Printed before the check, so a failing test names the input that broke it.
        eprintln!("{}", path.display());
        check(&input);
    }
}

#[test]
fn aql() {
    replay("aql", fuzzing::aql);
}

#[test]
fn fql() {
    replay("fql", fuzzing::fql);
}

#[test]
fn http_fibric() {
    replay("http_fibric", fuzzing::fibric);
}

#[test]
fn http_pulse() {
    replay("http_pulse", fuzzing::pulse);
}

#[test]
fn http_fauna() {
    replay("http_fauna", fuzzing::fauna);
}

#[test]
fn http_actyx() {
    replay("http_actyx", fuzzing::actyx);
}

#[test]
fn http_atproto() {
    replay("http_atproto", fuzzing::atproto);
}

#[test]
fn http_control() {
    replay("http_control", fuzzing::control);
}
