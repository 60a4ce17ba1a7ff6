//! The auditor's package as `verifier audit` reads it (specs/package.md):
//! the manifest has one encoding, bundles split exactly and rebuild to the
//! same bytes, history paths have one spelling; no panic on any bytes.
#![no_main]
use ledger::package::{bundle, bundle_items, history_path, parse_history_path, Manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        assert_eq!(m.encode().as_bytes(), data, "a manifest has one encoding");
    }
    if let Ok(items) = bundle_items("fuzz", data) {
        assert_eq!(bundle(items.iter().copied()), data, "a bundle is its items");
    }
    if let Ok(path) = std::str::from_utf8(data) {
        if let Some((index, width)) = parse_history_path(path) {
            assert_eq!(history_path(index, width), format!("checkpoints/{path}"));
        }
    }
});
