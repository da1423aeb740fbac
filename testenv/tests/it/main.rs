//! The `testenv` binary as `./test.sh` calls it: the plan without the interop vectors, under CI, and its reading of `CI`.

use std::process::Command;

fn plan(shared: &std::path::Path, ci: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_testenv"));
    command
        .arg("plan")
        .env("STREAMCHECK_SHARED", shared)
        .env_remove("CI")
        .env_remove("STREAMCHECK_REAL_CLIENTS");
    if ci {
        command.env("CI", "true");
    }
    command.output().expect("testenv runs")
}

#[test]
fn without_the_vectors_their_tests_are_left_out_and_the_reason_says_where_to_get_them() {
    let empty = tempfile::tempdir().unwrap();
    let out = plan(empty.path(), false);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("(binary_id(=wire::it) & test(/^vectors::/))"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "(binary_id(=reference-server::it) & test(=atproto::crypto::tid_syntax_vectors))"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "one filterset: {stdout}");
    assert!(
        stderr.contains("test.sh: the AT Protocol interop vectors: not in "),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "; the tests that need it will not run. To get it:\n    \
             git clone https://github.com/bluesky-social/atproto-interop-tests "
        ),
        "{stderr}"
    );
    assert!(stderr.contains(testenv::probe::VECTORS_COMMIT), "{stderr}");
}

#[test]
fn under_ci_missing_vectors_are_an_error_and_nothing_is_left_out() {
    let empty = tempfile::tempdir().unwrap();
    let out = plan(empty.path(), true);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("; an error, since CI is set. To get it:"),
        "{stderr}"
    );
}

#[test]
fn with_the_vectors_in_place_they_are_not_named_missing() {
    let shared = tempfile::tempdir().unwrap();
    let mark = shared
        .path()
        .join("vectors/atproto-interop-tests/data-model/data-model-fixtures.json");
    std::fs::create_dir_all(mark.parent().unwrap()).unwrap();
    std::fs::write(&mark, "[]").unwrap();
    let out = plan(shared.path(), false);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stdout.contains("vectors::"), "{stdout}");
    assert!(!stderr.contains("interop vectors"), "{stderr}");
}

#[test]
fn ci_is_set_by_any_value_but_empty_zero_or_false() {
    for (value, ci) in [
        ("true", true),
        ("1", true),
        ("TRUE", true),
        ("", false),
        ("0", false),
        ("false", false),
        ("False", false),
    ] {
        let status = Command::new(env!("CARGO_BIN_EXE_testenv"))
            .arg("ci")
            .env("CI", value)
            .status()
            .expect("testenv runs");
        assert_eq!(status.success(), ci, "CI={value:?}");
    }
    let unset = Command::new(env!("CARGO_BIN_EXE_testenv"))
        .arg("ci")
        .env_remove("CI")
        .status()
        .expect("testenv runs");
    assert!(!unset.success());
}
