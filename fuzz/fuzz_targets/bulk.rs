//! Bulk submission bodies (specs/api.md §POST /v1/attestations/batch), read item by item.
#![no_main]
use ledger::attestation::parse_bulk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = parse_bulk(data, 256) {
        assert!((1..=256).contains(&items.len()));
    }
});
