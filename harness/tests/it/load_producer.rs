//! `harness load --producer`: active load on a target that is not a reference server, published through a command.
