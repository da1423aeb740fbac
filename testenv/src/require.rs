//! What a test calls for a need: the path that meets it, or a failure that says what is missing and how to get it.
//!
//! A test whose need is missing fails; it never passes without running. The
//! test command (`./test.sh`) probes the same needs first and leaves such
//! tests out, naming them and the reason in its summary.

use std::path::PathBuf;

use crate::needs::{Need, entry};
use crate::probe::{self, Env};

/// The official AT Protocol interop vectors: the `atproto-interop-tests` folder.
#[track_caller]
pub fn vectors() -> PathBuf {
    require(Need::Vectors)
}

/// The folder of the installed real client `name` (`*/tests/clients/NAME`).
#[track_caller]
pub fn client(name: &'static str) -> PathBuf {
    require(Need::Client(name))
}

/// The path of the program `name`, found on `PATH`.
#[track_caller]
pub fn program(name: &'static str) -> PathBuf {
    require(Need::Program(name))
}

/// That `unshare --net` works here.
#[track_caller]
pub fn net_namespace() {
    require(Need::NetNamespace);
}

/// That the hard limit on open files allows `wanted`: the need promises [`crate::OPEN_FILES`], the most any test asks for.
#[track_caller]
pub fn open_files(wanted: u64) {
    assert!(
        wanted <= crate::OPEN_FILES,
        "a test asks for {wanted} open files, more than the {} that testenv's OpenFiles need promises: raise OPEN_FILES",
        crate::OPEN_FILES
    );
    require(Need::OpenFiles);
}

#[track_caller]
fn require(need: Need) -> PathBuf {
    let Some(entry) = entry(need) else {
        panic!(
            "{need:?} has no entry in testenv/src/needs.rs: add one, with the tests that use it"
        );
    };
    check_listed(need, entry.what);
    match probe::probe(entry, &Env::from_process()) {
        Ok(path) => path,
        Err(missing) => fail(need, &missing),
    }
}

/// Under nextest, the running test must be listed under its need, or the test
/// command could not leave it out when the need is missing.
#[track_caller]
fn check_listed(need: Need, what: &str) {
    let (Ok(binary), Ok(test)) = (
        std::env::var("NEXTEST_BINARY_ID"),
        std::env::var("NEXTEST_TEST_NAME"),
    ) else {
        return;
    };
    let entry = entry(need).expect("checked by the caller");
    assert!(
        entry.tests.iter().any(|t| t.covers(&binary, &test)),
        "`{binary} {test}` uses {what}, but testenv/src/needs.rs does not list it among the tests of {need:?}, \
         so ./test.sh could not leave it out when {what} is missing: add it there"
    );
}

#[track_caller]
fn fail(need: Need, missing: &probe::Missing) -> ! {
    let what = entry(need).map_or("?", |e| e.what);
    panic!(
        "this test needs {what}, which is missing: {}.\n  {}\n\
         ./test.sh sets up what it can, and leaves out (and names) the tests whose needs are still missing.",
        missing.reason,
        missing.remedy.join("\n  ")
    );
}
