//! Kubernetes and CI examples in fixtures/deploy/: valid against their schemas, and every harness command in them parses.
