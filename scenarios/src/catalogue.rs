//! Every check the harness knows, in one list.
//!
//! The per-API catalogues arrive with the conformance engine (issues 7 and
//! 8); until then this list is empty and `harness check` says so. Each check
//! added here must have a well-formed, unique id and at least one defect of
//! the reference server that kills it; the tests below hold every entry to that.

use crate::check::{Api, CheckMeta};

static CATALOGUE: &[CheckMeta] = &[];

/// Every check, in catalogue order.
pub fn all() -> &'static [CheckMeta] {
    CATALOGUE
}

/// The checks of one API.
pub fn for_api(api: Api) -> impl Iterator<Item = &'static CheckMeta> {
    CATALOGUE.iter().filter(move |check| check.api == api)
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
