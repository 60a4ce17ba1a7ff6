//! Receipts: what the notary returns for an accepted attestation, and what
//! an auditor verifies offline with nothing but the receipt and the policy.
//!
//! ```json
//! {
//!   "format": "share-audit/receipt/v1",
//!   "index": 7,
//!   "leaf_hash": "<base64 SHA-256(0x00 || entry)>",
//!   "entry": "<base64 entry bytes>",
//!   "proof": "c2sp.org/tlog-proof@v1\nindex 7\n…",
//!   "evidence": [ <receipt without evidence>, … ]
//! }
//! ```
//!
//! `evidence` holds the receipts of the earlier entries the notary relied on
//! to accept this one: the signer department's registration and its key's
//! registration, and for a case step the application that opened the case
//! (for an application, the catalog entry). A verifier takes them as facts
//! once their own proofs and signatures check, then re-decides the entry
//! with the same rules as the notary (specs/receipt.md).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use std::fmt::Write as _;
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::attestation::{SignedAttestation, Statement};
use crate::checkpoint::Checkpoint;
use crate::entry::{Entry, EntryError};
use crate::hashing::{leaf_hash, BadHash, Hash};
use crate::lifecycle::{self, DecideError, Refusal};
use crate::policy::Policy;
use crate::proof::{inclusion_proof, NodeSource, ProofError};
use crate::registry::Overlay;
use crate::strict_json;
use crate::tlog_proof::{TlogProof, TlogProofError};

pub const FORMAT: &str = "share-audit/receipt/v1";
/// More evidence than any decision uses (at most four entries today).
pub const MAX_EVIDENCE: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub index: u64,
    pub leaf_hash: Hash,
    pub entry: Vec<u8>,
    /// C2SP tlog-proof@v1 text.
    pub proof: String,
    /// Shared: the same registration or case opening is cited by many receipts.
    pub evidence: Vec<Arc<EvidenceReceipt>>,
}

/// A receipt cited as evidence: it carries no evidence of its own
/// (specs/receipt.md), and since one registration or case opening is cited
/// by many receipts, its compact JSON is written once, when it is made.
/// Nothing can change it afterwards, so that JSON is always its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceReceipt {
    receipt: Receipt,
    json: String,
}

impl EvidenceReceipt {
    /// [`Receipt::prove`] for an entry cited as evidence.
    pub fn prove<S: NodeSource>(
        nodes: &S,
        index: u64,
        entry: Vec<u8>,
        head: (u64, &str),
    ) -> Result<Result<EvidenceReceipt, ProofError>, S::Error> {
        Ok(
            Receipt::prove(nodes, index, entry, head, vec![])?.map(|receipt| {
                let json = receipt.to_json();
                EvidenceReceipt { receipt, json }
            }),
        )
    }

    pub fn new(receipt: Receipt) -> Result<EvidenceReceipt, ReceiptError> {
        if !receipt.evidence.is_empty() {
            return Err(ReceiptError::NestedEvidence);
        }
        let json = receipt.to_json();
        Ok(EvidenceReceipt { receipt, json })
    }

    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }

    /// [`Receipt::to_json`] of the receipt.
    pub fn json(&self) -> &str {
        &self.json
    }
}

impl Deref for EvidenceReceipt {
    type Target = Receipt;
    fn deref(&self) -> &Receipt {
        &self.receipt
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReceiptJson {
    format: String,
    index: u64,
    leaf_hash: String,
    entry: String,
    proof: String,
    /// Omitted when empty; `[]` is refused (one encoding per receipt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<Vec<ReceiptJson>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipt is not valid JSON of format {FORMAT}: {0}")]
    Format(String),
    #[error("receipt for entry {index}: leaf_hash does not match the entry")]
    LeafHashMismatch { index: u64 },
    #[error("receipt for entry {index}: the proof is for index {proof_index}")]
    IndexMismatch { index: u64, proof_index: u64 },
    #[error("receipt for entry {index}: {source}")]
    Proof { index: u64, source: TlogProofError },
    #[error("receipt for entry {index}: {source}")]
    Entry { index: u64, source: EntryError },
    #[error("evidence entry {evidence} is not earlier than entry {index}")]
    EvidenceNotEarlier { index: u64, evidence: u64 },
    #[error("evidence receipts must not carry evidence of their own")]
    NestedEvidence,
    #[error("receipt carries more than {MAX_EVIDENCE} evidence receipts")]
    TooMuchEvidence,
    #[error(
        "receipt for entry {index} holds another statement or signature than the one submitted"
    )]
    OtherAttestation { index: u64 },
    #[error("receipt for entry {index}: {reason}")]
    NotWitnessed { index: u64, reason: String },
    #[error("entry {index} is for log {got:?}, not {expected:?}")]
    WrongLog {
        index: u64,
        expected: String,
        got: String,
    },
    #[error("evidence entry {evidence} was notarised at {}, after entry {index} at {}: times never decrease along the log", crate::time::cst(*evidence_time), crate::time::cst(*time))]
    TimeDecreases {
        index: u64,
        time: u64,
        evidence: u64,
        evidence_time: u64,
    },
    #[error("the log forked: two checkpoints of size {size} carry different roots ({first} and {second})")]
    Fork {
        size: u64,
        first: String,
        second: String,
    },
    #[error("the log forked: two receipts of entry {index} hold different entries, each proven under a checkpoint of the log")]
    ForkedEntry { index: u64 },
    #[error("evidence cites entry {index} twice")]
    DuplicateEvidence { index: u64 },
    #[error("entry {index} is not permitted by the evidence: {refusal}")]
    NotPermitted { index: u64, refusal: Refusal },
}

/// How a receipt holds a submitted attestation ([`Receipt::check_holds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// The entry holds the statement and the signature submitted.
    Same,
    /// The entry holds the statement with another valid signature, submitted
    /// before.
    OtherSignature,
}

/// A receipt that verified: the entry, what it says, and the checkpoint
/// that proves it is in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub index: u64,
    pub leaf_hash: Hash,
    pub entry: Entry,
    pub statement: Statement,
    pub checkpoint: Checkpoint,
    /// The policy's witnesses that cosigned the checkpoint, by name.
    pub witnessed_by: Vec<String>,
}

impl Receipt {
    /// The receipt of the entry at `index`: its leaf hash and its inclusion
    /// proof in the tree of `size` leaves that `checkpoint` signs, with the
    /// hashes read from `nodes` (the store, or a batch not yet written).
    /// Every receipt the notary issues is made here.
    pub fn prove<S: NodeSource>(
        nodes: &S,
        index: u64,
        entry: Vec<u8>,
        (size, checkpoint): (u64, &str),
        evidence: Vec<Arc<EvidenceReceipt>>,
    ) -> Result<Result<Receipt, ProofError>, S::Error> {
        let path = match inclusion_proof(nodes, index, size)? {
            Ok(path) => path,
            Err(e) => return Ok(Err(e)),
        };
        let proof = TlogProof {
            index,
            path,
            checkpoint: checkpoint.to_owned(),
        };
        Ok(Ok(Receipt {
            index,
            leaf_hash: leaf_hash(&entry),
            entry,
            proof: proof.encode(),
            evidence,
        }))
    }

    /// Compact JSON, fields in the order of the spec. Evidence receipts,
    /// shared by many receipts, were serialized once when they were made.
    pub fn to_json(&self) -> String {
        let entry = BASE64.encode(&self.entry);
        let proof = serde_json::to_string(&self.proof).expect("serializes");
        let evidence: usize = self.evidence.iter().map(|e| e.json().len() + 1).sum();
        let mut out = String::with_capacity(entry.len() + proof.len() + evidence + 160);
        let _ = write!(
            out,
            r#"{{"format":"{FORMAT}","index":{},"leaf_hash":"{}","entry":"{entry}","proof":{proof}"#,
            self.index, self.leaf_hash
        );
        if !self.evidence.is_empty() {
            out.push_str(r#","evidence":["#);
            for (i, e) in self.evidence.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(e.json());
            }
            out.push(']');
        }
        out.push('}');
        out
    }

    /// Indented JSON, for files people read.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_json_struct()).expect("serializes")
    }

    fn to_json_struct(&self) -> ReceiptJson {
        ReceiptJson {
            format: FORMAT.to_owned(),
            index: self.index,
            leaf_hash: self.leaf_hash.to_base64(),
            entry: BASE64.encode(&self.entry),
            proof: self.proof.clone(),
            evidence: (!self.evidence.is_empty())
                .then(|| self.evidence.iter().map(|e| e.to_json_struct()).collect()),
        }
    }

    pub fn from_json(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        let format = |e: &dyn std::fmt::Display| ReceiptError::Format(e.to_string());
        strict_json::check(bytes).map_err(|e| format(&e))?;
        let json: ReceiptJson = strict_json::from_slice(bytes).map_err(|e| format(&e))?;
        Receipt::from_json_struct(json, true)
    }

    fn from_json_struct(j: ReceiptJson, top: bool) -> Result<Receipt, ReceiptError> {
        if j.format != FORMAT {
            return Err(ReceiptError::Format(format!(
                "unknown format {:?}",
                j.format
            )));
        }
        let evidence = match j.evidence {
            None => vec![],
            Some(e) if e.is_empty() => {
                return Err(ReceiptError::Format(
                    "evidence is omitted when empty, not []".into(),
                ))
            }
            Some(_) if !top => return Err(ReceiptError::NestedEvidence),
            Some(e) if e.len() > MAX_EVIDENCE => return Err(ReceiptError::TooMuchEvidence),
            Some(e) => e,
        };
        let leaf_hash = Hash::from_base64(&j.leaf_hash)
            .map_err(|e: BadHash| ReceiptError::Format(format!("leaf_hash: {e}")))?;
        let entry = BASE64
            .decode(&j.entry)
            .map_err(|_| ReceiptError::Format("entry is not base64".into()))?;
        let evidence = evidence
            .into_iter()
            .map(|e| {
                let receipt = Receipt::from_json_struct(e, false)?;
                EvidenceReceipt::new(receipt).map(Arc::new)
            })
            .collect::<Result<_, _>>()?;
        Ok(Receipt {
            index: j.index,
            leaf_hash,
            entry,
            proof: j.proof,
            evidence,
        })
    }

    /// The receipt's proof, once `leaf_hash` is the entry's and the proof is
    /// for the receipt's index.
    fn proof_of_leaf(&self) -> Result<TlogProof, ReceiptError> {
        let index = self.index;
        if leaf_hash(&self.entry) != self.leaf_hash {
            return Err(ReceiptError::LeafHashMismatch { index });
        }
        let proof = TlogProof::parse(&self.proof)
            .map_err(|source| ReceiptError::Proof { index, source })?;
        if proof.index != index {
            return Err(ReceiptError::IndexMismatch {
                index,
                proof_index: proof.index,
            });
        }
        Ok(proof)
    }

    /// Checks one receipt on its own: leaf hash, inclusion in a checkpoint
    /// signed by a log key of the policy, entry format and the department's
    /// signature over the statement.
    fn verify_standalone(&self, policy: &Policy) -> Result<VerifiedReceipt, ReceiptError> {
        let index = self.index;
        let proof = self.proof_of_leaf()?;
        let checkpoint = proof
            .verify_with(&self.leaf_hash, |note| {
                policy.verify_checkpoint(note).map(|(c, _)| c)
            })
            .map_err(|source| ReceiptError::Proof { index, source })?;
        let entry =
            Entry::parse(&self.entry).map_err(|source| ReceiptError::Entry { index, source })?;
        let statement = entry
            .parse_statement()
            .map_err(|source| ReceiptError::Entry { index, source })?;
        entry
            .verify_signature(&statement)
            .map_err(|source| ReceiptError::Entry { index, source })?;
        if statement.log.as_str() != policy.origin {
            return Err(ReceiptError::WrongLog {
                index,
                expected: policy.origin.clone(),
                got: statement.log.to_string(),
            });
        }
        // The policy's quorum of witnesses (policy.md §Witnesses).
        let witnessed_by = policy
            .check_witnessed(proof.checkpoint.as_bytes(), checkpoint.size)
            .map_err(|e| ReceiptError::NotWitnessed {
                index,
                reason: e.to_string(),
            })?;
        Ok(VerifiedReceipt {
            index,
            leaf_hash: self.leaf_hash,
            entry,
            statement,
            checkpoint,
            witnessed_by,
        })
    }

    /// Checks that this receipt is for `attestation`: its entry holds
    /// exactly that statement, `leaf_hash` is the entry's, and the audit path
    /// places the leaf under the root of the checkpoint it carries. Whether
    /// that checkpoint was signed by the log is for [`Receipt::verify`] to
    /// say, given a policy.
    ///
    /// The entry may carry another signature than the submitted one: a
    /// statement is notarised once, with the first valid signature submitted
    /// for it (specs/notary.md §Dedup). That signature must then be valid.
    pub fn check_holds(&self, attestation: &SignedAttestation) -> Result<Holds, ReceiptError> {
        let index = self.index;
        let entry =
            Entry::parse(&self.entry).map_err(|source| ReceiptError::Entry { index, source })?;
        if entry.statement != attestation.statement {
            return Err(ReceiptError::OtherAttestation { index });
        }
        let holds = if entry.signature == attestation.signature {
            Holds::Same
        } else {
            let statement = entry
                .parse_statement()
                .and_then(|s| entry.verify_signature(&s))
                .map_err(|source| ReceiptError::Entry { index, source });
            statement?;
            Holds::OtherSignature
        };
        self.proof_of_leaf()?
            .verify_unsigned(&self.leaf_hash)
            .map_err(|source| ReceiptError::Proof { index, source })?;
        Ok(holds)
    }

    /// Verifies the receipt completely against the trust policy.
    ///
    /// Proves that the entry is in the log, that the department signed it,
    /// and that the evidence shows the signer was entitled to sign it: the
    /// key registered to the department and valid at the notarised time, the
    /// kind permitted to that department in that case. Facts that only the
    /// absence of later entries can show (that the key was not revoked
    /// before this entry) are for the full audit of an export.
    pub fn verify(&self, policy: &Policy) -> Result<VerifiedReceipt, ReceiptError> {
        self.verify_with_evidence(policy)
            .map(|(verified, _)| verified)
    }

    /// [`Receipt::verify`], giving the evidence receipts verified too, in
    /// index order.
    pub fn verify_with_evidence(
        &self,
        policy: &Policy,
    ) -> Result<(VerifiedReceipt, Vec<VerifiedReceipt>), ReceiptError> {
        let verified = self.verify_standalone(policy)?;
        let mut facts = Overlay::new(policy.trust_roots());
        let mut evidence: Vec<VerifiedReceipt> = Vec::new();
        for e in &self.evidence {
            if e.index >= self.index {
                return Err(ReceiptError::EvidenceNotEarlier {
                    index: self.index,
                    evidence: e.index,
                });
            }
            evidence.push(e.verify_standalone(policy)?);
        }
        evidence.sort_by_key(|e| e.index);
        check_one_history(
            std::iter::once(&verified).chain(&evidence),
            Repeats::Refused,
        )?;
        for e in &evidence {
            if e.entry.time > verified.entry.time {
                return Err(ReceiptError::TimeDecreases {
                    index: self.index,
                    time: verified.entry.time,
                    evidence: e.index,
                    evidence_time: e.entry.time,
                });
            }
        }
        for e in &evidence {
            let changes = lifecycle::effect(&facts, &e.statement, e.entry.time, e.index)
                .unwrap_or_else(|never| match never {});
            for c in changes {
                facts.apply(c);
            }
        }
        match lifecycle::decide(
            &facts,
            &verified.statement,
            verified.entry.time,
            verified.index,
        ) {
            Ok(_) => Ok((verified, evidence)),
            Err(DecideError::Refused(refusal)) => Err(ReceiptError::NotPermitted {
                index: self.index,
                refusal,
            }),
            Err(DecideError::View(never)) => match never {},
        }
    }
}

/// Whether one entry may be proven by several receipts of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    /// A receipt cites each entry once (specs/receipt.md step 3).
    Refused,
    /// A set of receipts cites the same registrations again and again.
    Allowed,
}

/// Two checkpoints of one log with the same size and different roots, or
/// two proven entries at one index, are proof that the notary signed two
/// histories (specs/receipt.md step 3).
pub fn check_one_history<'a>(
    receipts: impl IntoIterator<Item = &'a VerifiedReceipt>,
    repeats: Repeats,
) -> Result<(), ReceiptError> {
    let mut roots = std::collections::BTreeMap::new();
    let mut leaves = std::collections::BTreeMap::new();
    for r in receipts {
        if let Some(first) = leaves.insert(r.index, r.leaf_hash) {
            if first != r.leaf_hash {
                return Err(ReceiptError::ForkedEntry { index: r.index });
            }
            if repeats == Repeats::Refused {
                return Err(ReceiptError::DuplicateEvidence { index: r.index });
            }
        }
        let c = &r.checkpoint;
        if let Some(first) = roots.insert(c.size, c.root) {
            if first != c.root {
                return Err(ReceiptError::Fork {
                    size: c.size,
                    first: first.to_base64(),
                    second: c.root.to_base64(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(index: u64, entry: &[u8], proof: &str) -> Receipt {
        Receipt {
            index,
            leaf_hash: Hash([index as u8; 32]),
            entry: entry.to_vec(),
            proof: proof.into(),
            evidence: vec![],
        }
    }

    #[test]
    fn compact_json_is_what_serde_writes_and_round_trips() {
        let evidence = Arc::new(
            EvidenceReceipt::new(receipt(0, b"e0", "c2sp\nindex 0\n\n\u{2014} x\n")).unwrap(),
        );
        let r = Receipt {
            evidence: vec![evidence.clone(), evidence],
            ..receipt(3, b"entry \"q\"", "p\n")
        };
        let serde = serde_json::to_string(&r.to_json_struct()).unwrap();
        assert_eq!(r.to_json(), serde);
        assert_eq!(Receipt::from_json(r.to_json().as_bytes()).unwrap(), r);
        let plain = receipt(1, b"", "p");
        assert_eq!(
            plain.to_json(),
            serde_json::to_string(&plain.to_json_struct()).unwrap()
        );
    }

    /// An evidence receipt's JSON is written when it is made, from fields
    /// only it holds (so no later change can make it stale), and a receipt
    /// that carries evidence is not evidence.
    #[test]
    fn evidence_receipts_carry_their_own_json_and_no_evidence() {
        let mut r = receipt(5, b"e5", "p\n");
        r.evidence.push(Arc::new(
            EvidenceReceipt::new(receipt(1, b"e1", "p1\n")).unwrap(),
        ));
        assert_eq!(r.evidence[0].json(), r.evidence[0].receipt().to_json());
        let before = r.to_json();
        r.evidence[0] = Arc::new(EvidenceReceipt::new(receipt(2, b"e2", "p2\n")).unwrap());
        let after = r.to_json();
        assert_ne!(before, after);
        assert_eq!(after, serde_json::to_string(&r.to_json_struct()).unwrap());
        // A receipt with evidence of its own is not evidence.
        assert_eq!(
            EvidenceReceipt::new(r).unwrap_err(),
            ReceiptError::NestedEvidence
        );
    }
}
