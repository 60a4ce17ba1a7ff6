//! Every parser of untrusted input returns an error instead of panicking,
//! on random bytes and on valid inputs (the worked example of specs/examples)
//! that were truncated or had bytes flipped.

use ledger::attestation::{SignedAttestation, Statement};
use ledger::entry::Entry;
use ledger::note::{Note, VerifierKey};
use ledger::policy::Policy;
use ledger::receipt::Receipt;
use ledger::tiles::TileId;
use ledger::tlog_proof::TlogProof;
use proptest::prelude::*;

fn example(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../specs/examples")
            .join(name),
    )
    .unwrap()
}

/// Runs every parser; only a panic fails (errors are expected).
fn parse_everything(bytes: &[u8]) {
    let _ = Statement::parse(bytes);
    let _ = SignedAttestation::from_json(bytes);
    let _ = Entry::parse(bytes).map(|e| e.parse_statement());
    let _ = Note::parse(bytes);
    let _ = Receipt::from_json(bytes);
    let _ = ledger::strict_json::check(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = TlogProof::parse(text);
        let _ = Policy::parse(text);
        let _ = VerifierKey::parse(text);
        let _ = TileId::parse(text);
        let _ = ledger::checkpoint::Checkpoint::parse_body(text);
    }
}

fn mutate(mut bytes: Vec<u8>, flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    for &(at, x) in flips {
        if !bytes.is_empty() {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
    }
    bytes.truncate(bytes.len().saturating_sub(cut % 8));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&bytes);
    }

    #[test]
    fn mutated_valid_inputs(which in 0usize..6, flips in prop::collection::vec((any::<usize>(), 1u8..=255), 0..4), cut in any::<usize>()) {
        let name = ["statement.json", "attestation.json", "entry.txt", "checkpoint.txt", "receipt.json", "policy.txt"][which];
        let bytes = mutate(example(name), &flips, cut);
        parse_everything(&bytes);
        // A mutated receipt must not verify unless the mutation changed nothing that matters.
        if name == "receipt.json" && !flips.is_empty() {
            if let Ok(r) = Receipt::from_json(&bytes) {
                let policy = Policy::parse(std::str::from_utf8(&example("policy.txt")).unwrap()).unwrap();
                let original = Receipt::from_json(&example("receipt.json")).unwrap();
                if r != original {
                    prop_assert!(r.verify(&policy).is_err(), "a changed receipt verified");
                }
            }
        }
    }
}
