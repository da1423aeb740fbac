//! The executable checks: one per entry of the `scenarios` catalogue.
//!
//! Each API's module holds a driver (how to reach, read and publish on that
//! API) and one [`crate::property::Property`] per check; plans, models and
//! oracles that need no I/O live in `scenarios`. A test keeps this registry
//! and the catalogue in step.
//!
//! # Layout
//!
//! - [`fibric`]: the Fibric envelope stream's checks.
//! - [`pulse`]: Prisma Pulse's checks.

pub mod fibric;
pub mod pulse;

use crate::runner::Check;

/// Every executable check, in catalogue order.
pub fn registry() -> Vec<Box<dyn Check>> {
    let mut checks = fibric::checks();
    checks.extend(pulse::checks());
    checks
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn the_registry_matches_the_catalogue_one_to_one() {
        let registry: Vec<&str> = super::registry().iter().map(|c| c.meta().id).collect();
        let catalogue: Vec<&str> = scenarios::catalogue::all().map(|m| m.id).collect();
        assert_eq!(registry, catalogue);
    }

    /// Every defect a check names exists in the reference server, and every
    /// defect of the server is named by some check (the store's
    /// `reuse-seq-after-restart` is proven by the crash test until the
    /// AT Protocol catalogue, issue 8, has a check for it).
    #[test]
    fn catalogue_defects_and_server_defects_agree() {
        let named: BTreeSet<&str> = scenarios::catalogue::all()
            .flat_map(|m| m.killed_by.iter().copied())
            .collect();
        let server: BTreeSet<&str> = reference_server::defects::Defect::ALL
            .iter()
            .map(|d| d.name())
            .collect();
        let unknown: Vec<&&str> = named.difference(&server).collect();
        assert!(
            unknown.is_empty(),
            "checks name defects the server lacks: {unknown:?}"
        );
        let unused: Vec<&&str> = server
            .difference(&named)
            .filter(|d| **d != "reuse-seq-after-restart")
            .collect();
        assert!(unused.is_empty(), "defects no check names: {unused:?}");
    }
}
