//! Bulk submission bodies (specs/api.md §POST /v1/attestations/batch), read item by item.
#![no_main]
use ledger::attestation::parse_bulk;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_bulk(data, 256, 131_072) {
        Ok(items) => {
            assert!((1..=256).contains(&items.len()));
            for item in items {
                drop(item.map_err(|e| e.to_string()));
            }
        }
        Err(e) => drop(e.to_string()),
    }
});
