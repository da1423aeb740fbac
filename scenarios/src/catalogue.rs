//! Every check the harness knows, in one list.
//!
//! Each check has a well-formed, unique id and at least one defect of the
//! reference server that kills it; the tests below hold every entry to that,
//! and `harness selftest` shows the defects really do.

use crate::check::{Api, CheckMeta};
use crate::{actyx, atproto, fauna, fibric, pulse};

/// Every check, in catalogue order.
pub fn all() -> impl Iterator<Item = &'static CheckMeta> {
    fibric::meta::ALL
        .iter()
        .chain(pulse::meta::ALL.iter())
        .chain(fauna::meta::ALL.iter())
        .chain(actyx::meta::ALL.iter())
        .chain(atproto::meta::ALL.iter())
        .copied()
}

/// The checks of one API.
pub fn for_api(api: Api) -> impl Iterator<Item = &'static CheckMeta> {
    all().filter(move |check| check.api == api)
}

/// One check by id.
pub fn find(id: &str) -> Option<&'static CheckMeta> {
    all().find(|check| check.id == id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_check_is_well_formed_unique_and_killable() {
        let mut ids = HashSet::new();
        for check in all() {
            assert!(check.id_is_well_formed(), "{}", check.id);
            assert!(ids.insert(check.id), "duplicate id {}", check.id);
            assert!(
                !check.title.is_empty() && !check.spec.is_empty(),
                "{}",
                check.id
            );
            assert!(
                !check.killed_by.is_empty(),
                "{} has no killing defect",
                check.id
            );
        }
    }
}
