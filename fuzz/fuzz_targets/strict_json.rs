//! Strict JSON (specs/attestation.md §Strict JSON): the streaming check and
//! the tree-building parser agree on every input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let checked = ledger::strict_json::check(data);
    let parsed = ledger::strict_json::parse(data).map(drop);
    assert_eq!(checked, parsed);
});
