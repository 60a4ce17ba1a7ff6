//! Locating `../shared/vectors` (never copied into the repository).
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared vectors directory, or `None` after saying loudly that the
/// test is skipped. Under CI (`CI=true`) a missing directory fails the test.
pub fn vectors_dir(sub: &str) -> Option<PathBuf> {
    let base = std::env::var_os("SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let dir = base.join("vectors").join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!(
            "CI=true but the shared vectors are missing at {}",
            dir.display()
        );
    }
    eprintln!(
        "\n*** SKIPPED: shared vectors not found at {} (set SHARED_DIR) ***\n",
        dir.display()
    );
    None
}
