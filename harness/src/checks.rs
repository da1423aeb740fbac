//! The executable checks: one [`Check`] per entry of the `scenarios` catalogue.
//!
//! Empty until the per-API catalogues land (issues 7 and 8); a test keeps
//! this registry and the catalogue in step, so a check cannot be listed
//! without code that runs it, nor run without a catalogue entry.

use crate::runner::Check;

/// Every executable check, in catalogue order.
pub fn registry() -> Vec<Box<dyn Check>> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_registry_matches_the_catalogue_one_to_one() {
        let registry: Vec<&str> = super::registry().iter().map(|c| c.meta().id).collect();
        let catalogue: Vec<&str> = scenarios::catalogue::all().iter().map(|m| m.id).collect();
        assert_eq!(registry, catalogue);
    }
}
