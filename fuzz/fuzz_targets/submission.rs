//! Submissions (specs/attestation.md §Submission), as `POST /v1/attestations`
//! reads them: the envelope, the statement inside, its signature.
#![no_main]
use ledger::attestation::{verify_signature, SignedAttestation, Statement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(attestation) = SignedAttestation::from_json(data) {
        if let Ok(statement) = Statement::parse(&attestation.statement) {
            let _ = verify_signature(&statement, &attestation.statement, &attestation.signature);
        }
    }
});
