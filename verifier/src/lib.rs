//! Offline checks an auditor runs: a receipt against the trust policy, and
//! the consistency of two checkpoints. Built without RocksDB or networking.

use ledger::checkpoint::{Checkpoint, CheckpointError};
use ledger::hashing::{BadHash, Hash};
use ledger::policy::Policy;
use ledger::proof::{verify_consistency, ProofError};
use ledger::receipt::{Receipt, ReceiptError, VerifiedReceipt};
use serde_json::{json, Value};

/// Why a verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    #[error("{which} checkpoint: {source}")]
    Checkpoint {
        which: &'static str,
        source: CheckpointError,
    },
    #[error("proof line {line}: {source}")]
    ProofLine { line: usize, source: BadHash },
    #[error("consistency: {0}")]
    Consistency(#[from] ProofError),
}

impl VerifyError {
    /// A short stable code for `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Receipt(ReceiptError::Format(_)) => "malformed_receipt",
            VerifyError::Receipt(ReceiptError::LeafHashMismatch { .. }) => "leaf_hash_mismatch",
            VerifyError::Receipt(ReceiptError::IndexMismatch { .. }) => "index_mismatch",
            VerifyError::Receipt(ReceiptError::Proof { .. }) => "proof_invalid",
            VerifyError::Receipt(ReceiptError::Entry { .. }) => "entry_invalid",
            VerifyError::Receipt(ReceiptError::NotPermitted { .. }) => "not_permitted",
            VerifyError::Receipt(ReceiptError::WrongLog { .. }) => "wrong_log",
            VerifyError::Receipt(ReceiptError::TimeDecreases { .. }) => "time_decreases",
            VerifyError::Receipt(ReceiptError::Fork { .. } | ReceiptError::ForkedEntry { .. }) => {
                "fork_detected"
            }
            VerifyError::Receipt(_) => "bad_evidence",
            VerifyError::Checkpoint { .. } => "checkpoint_invalid",
            VerifyError::ProofLine { .. } => "malformed_proof",
            VerifyError::Consistency(_) => "inconsistent",
        }
    }
}

/// Verifies a receipt file's bytes against the policy.
pub fn verify_receipt(receipt: &[u8], policy: &Policy) -> Result<VerifiedReceipt, VerifyError> {
    Ok(Receipt::from_json(receipt)?.verify(policy)?)
}

pub fn receipt_report(v: &VerifiedReceipt) -> Value {
    json!({
        "valid": true,
        "index": v.index,
        "kind": v.statement.kind().name(),
        "department": v.statement.signer.department.as_str(),
        "signer_key": v.statement.signer.key.to_string(),
        "notarised_time_ms": v.entry.time,
        "checkpoint": { "origin": v.checkpoint.origin, "size": v.checkpoint.size, "root": v.checkpoint.root.to_base64() },
    })
}

/// Parses a consistency proof: one base64 hash per line.
pub fn parse_proof(text: &str) -> Result<Vec<Hash>, VerifyError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            Hash::from_base64(l.trim()).map_err(|source| VerifyError::ProofLine {
                line: n + 1,
                source,
            })
        })
        .collect()
}

/// Verifies that the signed checkpoint `new` extends the signed checkpoint `old`.
pub fn verify_checkpoints(
    old: &[u8],
    new: &[u8],
    proof: &str,
    policy: &Policy,
) -> Result<(Checkpoint, Checkpoint), VerifyError> {
    let old = Checkpoint::verify(old, &policy.origin, &policy.log_keys).map_err(|source| {
        VerifyError::Checkpoint {
            which: "old",
            source,
        }
    })?;
    let new = Checkpoint::verify(new, &policy.origin, &policy.log_keys).map_err(|source| {
        VerifyError::Checkpoint {
            which: "new",
            source,
        }
    })?;
    let proof = parse_proof(proof)?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof)?;
    Ok((old, new))
}
