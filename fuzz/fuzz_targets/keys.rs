//! Verifier keys and private key files (specs/checkpoint.md §Keys).
#![no_main]
use ledger::note::{NoteSigner, VerifierKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = VerifierKey::parse(text) {
        assert_eq!(
            VerifierKey::parse(&key.encode()).expect("re-encoded vkey"),
            key
        );
    }
    let _ = NoteSigner::parse(text);
});
