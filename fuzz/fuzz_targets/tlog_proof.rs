//! C2SP tlog-proof@v1 texts (specs/checkpoint.md §tlog-proof@v1).
#![no_main]
use ledger::hashing::Hash;
use ledger::tlog_proof::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(proof) = TlogProof::parse(text) {
        let _ = ledger::proof::verify_inclusion(
            proof.index,
            proof.index.saturating_add(proof.path.len() as u64),
            &Hash([0; 32]),
            &proof.path,
            &Hash([1; 32]),
        );
    }
});
