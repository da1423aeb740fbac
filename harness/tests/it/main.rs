//! Integration tests of the harness: the CLI contract through the real binary, and the run pipeline end to end.

mod catalogue;
mod cli;
mod crash_load;
mod deploy;
mod hostile;
mod junit;
mod load;
mod load_closed;
mod load_passive;
mod load_producer;
mod load_reconnect;
mod load_requests;
mod load_support;
mod pds;
mod pipeline;
mod producer;
mod property;
mod proxy;
mod schema;
mod slurm;
mod snapshot;
mod soak;
mod support;
mod target;
