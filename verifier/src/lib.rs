//! Offline checks an auditor runs: a receipt against the trust policy, and
//! the consistency of two checkpoints. Built without RocksDB or networking.

pub mod audit;

use ledger::attestation::Statement;
use ledger::checkpoint::{Checkpoint, CheckpointError};
use ledger::entry::Entry;
use ledger::hashing::{BadHash, Hash};
use ledger::lifecycle::case_of;
use ledger::note::{Note, NoteError};
use ledger::policy::Policy;
use ledger::proof::{verify_consistency, ProofError};
use ledger::receipt::{Receipt, ReceiptError, VerifiedReceipt};
use ledger::tlog_proof::{TlogProof, TlogProofError};
use serde_json::{json, Value};

/// Why a verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    #[error("receipt for entry {index}: its checkpoint is signed by {} and by no key the policy trusts; the policy trusts {} for the log {origin}: the receipt is from another notary, or the policy is not this log's", list(.signed_by), list(.trusted))]
    UntrustedCheckpoint {
        index: u64,
        origin: String,
        /// The keys that signed the checkpoint, `name+id`.
        signed_by: Vec<String>,
        /// The log keys of the policy, `name+id`.
        trusted: Vec<String>,
    },
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

fn list(keys: &[String]) -> String {
    if keys.is_empty() {
        "no key".to_owned()
    } else {
        keys.join(", ")
    }
}

impl VerifyError {
    /// A short stable code for `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Receipt(ReceiptError::Format(_)) => "malformed_receipt",
            VerifyError::Receipt(ReceiptError::LeafHashMismatch { .. }) => "leaf_hash_mismatch",
            VerifyError::Receipt(ReceiptError::IndexMismatch { .. }) => "index_mismatch",
            VerifyError::Receipt(ReceiptError::Proof { .. }) => "proof_invalid",
            VerifyError::UntrustedCheckpoint { .. } => "proof_invalid",
            VerifyError::Receipt(ReceiptError::Entry { .. }) => "entry_invalid",
            VerifyError::Receipt(ReceiptError::NotPermitted { .. }) => "not_permitted",
            VerifyError::Receipt(ReceiptError::WrongLog { .. }) => "wrong_log",
            VerifyError::Receipt(ReceiptError::TimeDecreases { .. }) => "time_decreases",
            VerifyError::Receipt(ReceiptError::NotWitnessed { .. }) => "not_witnessed",
            VerifyError::Receipt(ReceiptError::Fork { .. } | ReceiptError::ForkedEntry { .. }) => {
                "fork_detected"
            }
            VerifyError::Receipt(_) => "bad_evidence",
            VerifyError::Checkpoint { .. } => "checkpoint_invalid",
            VerifyError::ProofLine { .. } => "malformed_proof",
            VerifyError::Consistency(_) => "inconsistent",
        }
    }

    /// The error as people read it, in `lang`. (The details of a malformed
    /// receipt, from the parsers, stay in English.)
    pub fn message(&self, lang: ledger::lang::Lang) -> String {
        match (self, lang) {
            (_, ledger::lang::Lang::En) => self.to_string(),
            (
                VerifyError::UntrustedCheckpoint {
                    index,
                    origin,
                    signed_by,
                    trusted,
                },
                _,
            ) => format!(
                "第 {index} 条的收据：其检查点由 {} 签署，不是信任策略信任的密钥；策略对日志 {origin} 信任的是 {}：该收据来自另一个公证服务，或该策略不是本日志的策略",
                list(signed_by),
                list(trusted)
            ),
            (VerifyError::Receipt(ReceiptError::NotPermitted { index, refusal }), lang) => {
                format!("第 {index} 条不为其依据所允许：{}", refusal.message(lang))
            }
            (VerifyError::Receipt(e), _) => format!("收据无效：{e}"),
            (VerifyError::Checkpoint { which, source }, _) => {
                format!("{} 检查点无效：{source}", if *which == "old" { "旧" } else { "新" })
            }
            (VerifyError::ProofLine { line, source }, _) => format!("证明第 {line} 行：{source}"),
            (VerifyError::Consistency(e), _) => format!("一致性证明不成立：{e}"),
        }
    }

    /// The error as `--json` shows it.
    pub fn to_json(&self) -> Value {
        let mut out = json!({ "valid": false, "error": self.code(), "message": self.to_string() });
        if let VerifyError::UntrustedCheckpoint {
            signed_by, trusted, ..
        } = self
        {
            out["signed_by"] = json!(signed_by);
            out["trusted"] = json!(trusted);
        }
        out
    }
}

/// `name+hex id`, as signed notes name keys.
fn key_name(name: &str, id: u32) -> String {
    format!("{name}+{id:08x}")
}

/// The keys that signed the checkpoint of a tlog-proof, `name+id`.
fn checkpoint_signers(proof: &str) -> Vec<String> {
    TlogProof::parse(proof)
        .ok()
        .and_then(|p| Note::parse(p.checkpoint.as_bytes()).ok())
        .map(|n| {
            n.signatures
                .iter()
                .map(|s| key_name(&s.name, s.key_id))
                .collect()
        })
        .unwrap_or_default()
}

/// A receipt that verified, with what an auditor reads in it.
#[derive(Debug)]
pub struct ReceiptReport {
    pub verified: VerifiedReceipt,
    /// The evidence receipts, verified, in index order.
    pub evidence: Vec<VerifiedReceipt>,
    pub receipt: Receipt,
    /// The checkpoint's signers that the policy trusts, `name+id`.
    pub checkpoint_signers: Vec<String>,
}

/// Verifies a receipt file's bytes against the policy.
pub fn verify_receipt(bytes: &[u8], policy: &Policy) -> Result<ReceiptReport, VerifyError> {
    let receipt = Receipt::from_json(bytes)?;
    let (verified, evidence) = receipt
        .verify_with_evidence(policy)
        .map_err(|e| untrusted(e, &receipt, policy))?;
    let trusted: Vec<String> = policy
        .log_keys
        .iter()
        .map(|k| key_name(&k.name, k.key_id))
        .collect();
    let checkpoint_signers = checkpoint_signers(&receipt.proof)
        .into_iter()
        .filter(|k| trusted.contains(k))
        .collect();
    Ok(ReceiptReport {
        verified,
        evidence,
        receipt,
        checkpoint_signers,
    })
}

/// A checkpoint signed by no key of the policy: which keys signed it, and
/// which the policy trusts.
fn untrusted(e: ReceiptError, receipt: &Receipt, policy: &Policy) -> VerifyError {
    let ReceiptError::Proof {
        index,
        source: TlogProofError::Checkpoint(CheckpointError::Note(NoteError::NoTrustedSignature)),
    } = e
    else {
        return e.into();
    };
    let proof = std::iter::once(receipt)
        .chain(receipt.evidence.iter().map(|e| e.receipt()))
        .find(|r| r.index == index)
        .map(|r| r.proof.as_str())
        .unwrap_or_default();
    VerifyError::UntrustedCheckpoint {
        index,
        origin: policy.origin.clone(),
        signed_by: checkpoint_signers(proof),
        trusted: policy
            .log_keys
            .iter()
            .map(|k| key_name(&k.name, k.key_id))
            .collect(),
    }
}

/// What an entry says, for people: kind, department, case, times.
fn entry_summary(index: u64, entry: &Entry, statement: &Statement) -> Value {
    json!({
        "index": index,
        "kind": statement.kind().name(),
        "department": statement.signer.department.as_str(),
        "case": case_of(&statement.body).map(|c| c.as_str()),
        "notarised_time_ms": entry.time,
        "notarised_at": ledger::time::cst(entry.time),
        "notarised_at_utc": ledger::time::utc(entry.time),
    })
}

impl ReceiptReport {
    /// Everything an auditor needs from the receipt, as JSON: the entry and
    /// its decoded statement, its times, the evidence the notary relied on,
    /// and the checkpoint with the keys that signed it.
    pub fn to_json(&self) -> Value {
        let v = &self.verified;
        let statement: Value = serde_json::from_slice(&v.entry.statement).unwrap_or(Value::Null);
        let evidence: Vec<Value> = self
            .evidence
            .iter()
            .map(|e| entry_summary(e.index, &e.entry, &e.statement))
            .collect();
        let mut out = entry_summary(v.index, &v.entry, &v.statement);
        out["valid"] = json!(true);
        out["signer_key"] = json!(v.statement.signer.key.to_string());
        out["signed_at_ms"] = json!(v.statement.signed_at);
        out["signed_at"] = json!(ledger::time::cst(v.statement.signed_at));
        out["leaf_hash"] = json!(v.leaf_hash.to_base64());
        out["statement"] = statement;
        out["evidence"] = json!(evidence);
        out["checkpoint"] = json!({
            "origin": v.checkpoint.origin,
            "size": v.checkpoint.size,
            "root": v.checkpoint.root.to_base64(),
            "signed_by": self.checkpoint_signers,
            "witnessed_by": v.witnessed_by,
        });
        out
    }
}

/// The report of a verified receipt, as JSON (see [`ReceiptReport::to_json`]).
pub fn receipt_report(r: &ReceiptReport) -> Value {
    r.to_json()
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
    let old = policy
        .verify_checkpoint(old)
        .map(|(c, _)| c)
        .map_err(|source| VerifyError::Checkpoint {
            which: "old",
            source,
        })?;
    let new = policy
        .verify_checkpoint(new)
        .map(|(c, _)| c)
        .map_err(|source| VerifyError::Checkpoint {
            which: "new",
            source,
        })?;
    let proof = parse_proof(proof)?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof)?;
    Ok((old, new))
}
