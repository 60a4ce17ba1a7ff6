//! Strict JSON (specs/attestation.md §Strict JSON): every document the
//! strict check accepts is JSON to a general-purpose parser too, and the
//! check never panics (its refusals are formatted, as they are shown).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match ledger::strict_json::check(data) {
        Ok(()) => assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok()),
        Err(e) => drop(e.to_string()),
    }
});
