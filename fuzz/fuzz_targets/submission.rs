//! Submissions (specs/attestation.md §Submission), as `POST /v1/attestations`
//! reads them: the envelope, the statement inside, its signature.
#![no_main]
use ledger::attestation::{verify_signature, SignedAttestation, Statement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(attestation) = SignedAttestation::from_json(data) {
        match Statement::parse(&attestation.statement) {
            Ok(statement) => {
                let verdict =
                    verify_signature(&statement, &attestation.statement, &attestation.signature);
                drop(verdict.map_err(|e| e.to_string()));
            }
            Err(e) => drop(e.to_string()),
        }
    }
});
