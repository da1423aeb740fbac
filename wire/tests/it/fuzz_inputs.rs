//! Regression tests for the fuzz targets: every input in `fixtures/fuzz/<target>/` (seeds and past crashes) through the target's own check.

use crate::support::project_root;

/// Runs `check` on every file in `fixtures/fuzz/<target>/`, which must hold at least one.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = project_root().join("fixtures").join("fuzz").join(target);
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
fn sse() {
    replay("sse", wire::fuzzing::sse);
}

#[test]
fn http1() {
    replay("http1", wire::fuzzing::http1);
}

#[test]
fn jsonl() {
    replay("jsonl", wire::fuzzing::jsonl);
}

#[test]
fn cbor() {
    replay("cbor", wire::fuzzing::cbor);
}

#[test]
fn frame() {
    replay("frame", wire::fuzzing::frame);
}

#[test]
fn car() {
    replay("car", wire::fuzzing::car);
}

#[test]
fn cid() {
    replay("cid", wire::fuzzing::cid);
}
