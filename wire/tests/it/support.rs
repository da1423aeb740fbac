//! Paths shared by the wire tests: the project's hand-written fixtures and the `../shared` vectors.

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

/// The shared folder beside the project (`../shared`), which holds the official vectors.
/// `STREAMCHECK_SHARED` overrides it for checkouts that live elsewhere.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("STREAMCHECK_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => project_root().join("..").join("shared"),
    }
}
