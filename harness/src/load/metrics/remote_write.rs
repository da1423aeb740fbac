//! `--remote-write`: every interval of a run pushed to a Prometheus remote-write receiver.
