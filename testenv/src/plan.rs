//! Which needs are missing here, which of those are errors, and the nextest filterset of the tests to leave out.

use crate::needs::{Entry, NEEDS, Tests};
use crate::probe::{Env, Missing, probe};

/// When a missing need is an error instead of a reason to leave tests out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strictness {
    /// `CI` is set (and not `false` or `0`): every need must be met.
    pub ci: bool,
    /// `STREAMCHECK_REAL_CLIENTS` is set: every real peer must be installed.
    pub real_clients: bool,
}

impl Strictness {
    pub fn from_process() -> Strictness {
        let set = |name: &str| {
            std::env::var(name)
                .is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
        };
        Strictness {
            ci: set("CI"),
            real_clients: set("STREAMCHECK_REAL_CLIENTS"),
        }
    }

    /// Whether `entry` must be met, and the variable that says so.
    pub fn requires(&self, entry: &Entry) -> Option<&'static str> {
        if self.ci {
            Some("CI")
        } else if self.real_clients && entry.real_peer {
            Some("STREAMCHECK_REAL_CLIENTS")
        } else {
            None
        }
    }
}

/// The needs that are missing here, each with why.
#[derive(Debug)]
pub struct Plan {
    pub missing: Vec<(&'static Entry, Missing)>,
}

impl Plan {
    /// Probes every need of the table.
    pub fn probe(env: &Env) -> Plan {
        Plan::probe_entries(NEEDS, env)
    }

    pub fn probe_entries(entries: &'static [Entry], env: &Env) -> Plan {
        let missing = entries
            .iter()
            .filter_map(|entry| probe(entry, env).err().map(|m| (entry, m)))
            .collect();
        Plan { missing }
    }

    /// The missing needs that `strictness` makes errors, with the variable that does.
    pub fn errors(&self, strictness: Strictness) -> Vec<(&'static Entry, &Missing, &'static str)> {
        self.missing
            .iter()
            .filter_map(|(e, m)| strictness.requires(e).map(|why| (*e, m, why)))
            .collect()
    }

    /// The nextest filterset of every test of a missing need, or `None` when nothing is missing.
    pub fn left_out(&self) -> Option<String> {
        filterset(self.missing.iter().flat_map(|(e, _)| e.tests))
    }

    /// The Debian packages that would provide missing needs, each once.
    pub fn debian(&self) -> Vec<&'static str> {
        let mut packages: Vec<&'static str> = Vec::new();
        for package in self.missing.iter().flat_map(|(e, _)| e.debian) {
            if !packages.contains(package) {
                packages.push(package);
            }
        }
        packages
    }
}

/// The union of `tests` as one nextest filterset, each selection once.
pub fn filterset<'a>(tests: impl IntoIterator<Item = &'a Tests>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in tests.into_iter().map(Tests::filterset) {
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    (!parts.is_empty()).then(|| parts.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::Need;
    use crate::probe::VECTORS_COMMIT;

    fn env_without_vectors(shared: &std::path::Path) -> Env {
        Env {
            shared: Some(shared.to_path_buf()),
            ..Env::from_process()
        }
    }

    #[test]
    fn absent_vectors_leave_their_tests_out_and_say_where_to_get_them() {
        let empty = tempfile::tempdir().unwrap();
        let vectors: &'static [Entry] = &NEEDS[..1];
        assert_eq!(vectors[0].need, Need::Vectors);
        let plan = Plan::probe_entries(vectors, &env_without_vectors(empty.path()));
        assert_eq!(plan.missing.len(), 1);
        let (entry, missing) = &plan.missing[0];
        assert_eq!(entry.need, Need::Vectors);
        let text = format!("{}\n{}", missing.reason, missing.remedy.join("\n"));
        assert!(text.contains(&empty.path().display().to_string()), "{text}");
        assert!(text.contains("(from STREAMCHECK_SHARED)"), "{text}");
        assert!(text.contains("atproto-interop-tests"), "{text}");
        assert!(text.contains(VECTORS_COMMIT), "{text}");
        let filter = plan.left_out().unwrap();
        assert!(
            filter.starts_with("(binary_id(=wire::it) & test(/^vectors::/)) | "),
            "{filter}"
        );
        assert_eq!(filter.matches(" | ").count(), vectors[0].tests.len() - 1);
        assert!(plan.debian().is_empty());
    }

    #[test]
    fn ci_makes_every_missing_need_an_error_and_real_clients_only_the_peers() {
        let empty = tempfile::tempdir().unwrap();
        let plan = Plan::probe_entries(&NEEDS[..1], &env_without_vectors(empty.path()));
        let ci = Strictness {
            ci: true,
            real_clients: false,
        };
        let clients = Strictness {
            ci: false,
            real_clients: true,
        };
        assert_eq!(plan.errors(ci).len(), 1);
        assert_eq!(plan.errors(ci)[0].2, "CI");
        assert!(plan.errors(clients).is_empty());
        assert!(plan.errors(Strictness::default()).is_empty());
        let peer = NEEDS.iter().find(|e| e.real_peer).unwrap();
        assert_eq!(clients.requires(peer), Some("STREAMCHECK_REAL_CLIENTS"));
    }

    #[test]
    fn a_shared_selection_appears_once_in_the_filterset() {
        let pds = NEEDS
            .iter()
            .filter(|e| matches!(e.need, Need::Client("atproto-pds") | Need::NetNamespace));
        let filter = filterset(pds.flat_map(|e| e.tests)).unwrap();
        assert_eq!(filter, "(binary_id(=harness::it) & test(/^pds::/))");
        assert_eq!(filterset([]), None);
    }
}
