//! Paths shared by the wire tests: the project's hand-written fixtures (the official vectors come from `testenv::vectors()`).

use std::path::PathBuf;

/// The project root (the workspace folder that holds `fixtures/`).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("wire lives one level below the workspace root")
        .to_path_buf()
}

/// `fixtures/wire/<sub>`: hand-written golden samples, never produced by our encoders.
pub fn wire_fixtures(sub: &str) -> PathBuf {
    project_root().join("fixtures").join("wire").join(sub)
}
