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

/// The folder of the five seed documents.
#[track_caller]
pub fn seeds() -> PathBuf {
    require(Need::Seeds)
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
    check_listed(need);
    match probe::probe(entry, &Env::from_process()) {
        Ok(path) => path,
        Err(missing) => fail(need, &missing),
    }
}

/// Under nextest, the running test must be listed under its need, or the test
/// command could not leave it out when the need is missing.
#[track_caller]
fn check_listed(need: Need) {
    if let (Ok(binary), Ok(test)) = (
        std::env::var("NEXTEST_BINARY_ID"),
        std::env::var("NEXTEST_TEST_NAME"),
    ) && let Err(message) = listed(need, &binary, &test)
    {
        panic!("{message}");
    }
}

/// Whether the test `name` of `binary` is listed under `need`, and if not, what to do.
fn listed(need: Need, binary: &str, name: &str) -> Result<(), String> {
    let entry =
        entry(need).ok_or_else(|| format!("{need:?} has no entry in testenv/src/needs.rs"))?;
    if entry.tests.iter().any(|t| t.covers(binary, name)) {
        return Ok(());
    }
    let what = entry.what;
    Err(format!(
        "`{binary} {name}` uses {what}, but testenv/src/needs.rs does not list it among the tests of \
         {need:?}, so ./test.sh could not leave it out when that need is missing: add it there"
    ))
}

#[track_caller]
fn fail(need: Need, missing: &probe::Missing) -> ! {
    let what = entry(need).map_or("?", |e| e.what);
    panic!(
        "this test needs {what}: {}. To get it:\n  {}\n\
         ./test.sh sets up what it can, and leaves out (and names) the tests whose needs are still missing.",
        missing.reason,
        missing.remedy.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_that_uses_a_need_without_being_listed_under_it_is_told_to_add_itself() {
        assert_eq!(
            listed(Need::Vectors, "wire::it", "vectors::cid_syntax"),
            Ok(())
        );
        let message = listed(Need::Vectors, "wire::it", "cbor::golden_fixtures").unwrap_err();
        assert!(message.starts_with("`wire::it cbor::golden_fixtures` uses the AT Protocol interop vectors, but testenv/src/needs.rs does not list it"), "{message}");
        assert!(listed(Need::Client("eventsource"), "harness::it", "pds::x").is_err());
        assert!(listed(Need::Client("no-such-client"), "harness::it", "pds::x").is_err());
    }
}
