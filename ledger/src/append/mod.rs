//! The append path: turns checked submissions into entries, one durable
//! batch and one signed checkpoint at a time, and answers with receipts.
//!
//! [`Log`] is the single writer. It keeps the tree's right edge in memory,
//! decides on each submission with [`lifecycle::decide`] against the store
//! plus everything prepared so far, commits each batch with one synced
//! write, and only then builds its receipts, so no receipt exists for
//! anything not on disk. Preparing the next batch may overlap the write of
//! the previous one ([`Log::prepare`], [`PreparedBatch::commit`],
//! [`Log::finish`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::attestation::{AttestationError, SignedAttestation, Statement};
use crate::checkpoint::Checkpoint;
use crate::entry::Entry;
use crate::frontier::{BatchNodes, Frontier};
use crate::hashing::{leaf_hash, sha256};
use crate::lifecycle::{self, DecideError, ImmediateFinding, Refusal};
use crate::note::{NoteSigner, VerifierKey};
use crate::policy::Policy;
use crate::receipt::Receipt;
use crate::registry::{Overlay, TrustRoots};
use crate::store::{CommitBatch, Store, StoreError, TreeState};

mod receipts;
mod records;

pub use receipts::{full_receipt, witnessed_receipt};
use receipts::{stored_receipt, EvidenceCache};
use records::{CachedView, RecordCache};

/// A submission whose statement parsed. Its signature is checked by
/// [`Submission::verify_signature`] (or in a batch) before it is appended.
#[derive(Debug, Clone)]
pub struct Submission {
    pub attestation: SignedAttestation,
    pub statement: Statement,
    /// SHA-256 of the statement bytes: resubmissions are recognised by it.
    pub digest: [u8; 32],
}

impl Submission {
    pub fn parse(attestation: SignedAttestation) -> Result<Submission, AttestationError> {
        let statement = Statement::parse(&attestation.statement)?;
        let digest = sha256(&attestation.statement);
        Ok(Submission {
            attestation,
            statement,
            digest,
        })
    }

    pub fn verify_signature(&self) -> Result<(), AttestationError> {
        crate::attestation::verify_signature(
            &self.statement,
            &self.attestation.statement,
            &self.attestation.signature,
        )
    }
}

/// What became of one submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Appended now, with the findings the entry makes on its own.
    Appended(Receipt, Vec<ImmediateFinding>),
    /// The same statement was appended before; this is its receipt, with
    /// the findings that entry makes on its own.
    Duplicate(Receipt, Vec<ImmediateFinding>),
    Refused(Refusal),
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the notary key {0:?} is not a `log` key of the policy")]
    KeyNotInPolicy(String),
    #[error("stored tree of size {size} has root {computed}, but its checkpoint says {signed}")]
    RootMismatch {
        size: u64,
        computed: String,
        signed: String,
    },
    #[error("stored checkpoint: {0}")]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
}

/// A signed tree head: the tree and the checkpoint that signs it.
#[derive(Debug, Clone)]
struct Head {
    tree: TreeState,
    checkpoint: String,
}

/// The single writer of the log.
///
/// Its state is in two stages. *Prepared*: the tree with every prepared
/// batch appended ([`Log::prepare`]), ahead of the disk while batches are
/// being written; new entries are decided and hashed against it. *Committed*:
/// the newest head durably written and finished ([`Log::finish`]); receipts
/// of entries submitted again prove against it, and nothing else is shown
/// outside.
pub struct Log {
    store: Arc<Store>,
    trust: TrustRoots,
    log_keys: Vec<VerifierKey>,
    signer: NoteSigner,
    /// The right edge of the prepared tree.
    prepared: Frontier,
    /// Notarised time of the newest prepared entry: times never decrease.
    prepared_time: u64,
    /// Statements of prepared batches not yet finished, by digest.
    in_flight: HashMap<[u8; 32], u64>,
    /// The newest head durably written.
    committed: Head,
    evidence: EvidenceCache,
    records: RefCell<RecordCache>,
}

enum Pending {
    New {
        index: u64,
        evidence: Vec<u64>,
        findings: Vec<ImmediateFinding>,
    },
    Existing(u64, Vec<ImmediateFinding>),
    SameAs(usize),
    Refused(Refusal),
}

/// A batch decided, hashed and signed, waiting for its durable write
/// ([`PreparedBatch::commit`]) and then for [`Log::finish`].
pub struct PreparedBatch {
    commit: CommitBatch,
    pending: Vec<Pending>,
    batch_nodes: BatchNodes,
    /// The batch's head, if it appends anything.
    head: Option<Head>,
}

impl PreparedBatch {
    /// Writes the batch: one atomic `WriteBatch`, synced.
    pub fn commit(&self, store: &Store) -> Result<(), StoreError> {
        if self.head.is_none() {
            return Ok(()); // nothing to append (only duplicates or refusals)
        }
        store.commit(&self.commit)
    }

    /// The tree size and signed checkpoint once this batch is written.
    pub fn checkpoint(&self) -> Option<(u64, &str)> {
        self.head
            .as_ref()
            .map(|h| (h.tree.size, h.checkpoint.as_str()))
    }
}

impl Log {
    /// Writes the empty tree and its signed checkpoint to a new store.
    pub fn initialise(store: &Store, signer: &NoteSigner) -> Result<(), StoreError> {
        let empty = Checkpoint {
            origin: signer.verifier().name.clone(),
            size: 0,
            root: Frontier::empty().root(),
        };
        store.initialise(empty.sign(signer))
    }

    /// Opens the log for appending, checking the stored tree against its
    /// newest signed checkpoint.
    pub fn open(store: Arc<Store>, policy: &Policy, signer: NoteSigner) -> Result<Log, LogError> {
        if !policy.log_keys.contains(signer.verifier()) {
            return Err(LogError::KeyNotInPolicy(signer.verifier().encode()));
        }
        let (head, frontier) = load(&store, &policy.origin, &policy.log_keys)?;
        store.catch_up_index()?;
        Ok(Log {
            store,
            trust: policy.trust_roots(),
            log_keys: policy.log_keys.clone(),
            signer,
            prepared: frontier,
            prepared_time: head.tree.last_time,
            in_flight: HashMap::new(),
            committed: head,
            evidence: EvidenceCache::default(),
            records: RefCell::default(),
        })
    }

    /// After a failed write: reopens the store and reloads the tree, its
    /// newest checkpoint and nothing else from what is durably written (a
    /// batch whose write failed may or may not be there; either way the log
    /// is consistent, and nothing of it was acknowledged). Every batch
    /// prepared but not finished is void.
    pub fn recover(&mut self) -> Result<(), LogError> {
        self.store.reopen()?;
        let (head, frontier) = load(&self.store, self.trust.origin.as_str(), &self.log_keys)?;
        self.prepared = frontier;
        self.prepared_time = head.tree.last_time;
        self.in_flight.clear();
        self.committed = head;
        self.evidence = EvidenceCache::default();
        *self.records.borrow_mut() = RecordCache::default();
        Ok(())
    }

    /// The tree as durably written.
    pub fn tree(&self) -> TreeState {
        self.committed.tree
    }

    /// The newest durably written signed checkpoint.
    pub fn checkpoint(&self) -> &str {
        &self.committed.checkpoint
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Appends a batch of submissions whose signatures have been verified:
    /// prepare, write, finish. Either the whole batch is durable when this
    /// returns `Ok`, or nothing of it was acknowledged and the log must be
    /// [`recover`](Log::recover)ed before it appends again.
    pub fn append(
        &mut self,
        submissions: &[Submission],
        now_ms: u64,
    ) -> Result<Vec<Outcome>, StoreError> {
        let batch = self.prepare(submissions, now_ms)?;
        batch.commit(&self.store)?;
        self.finish(batch)
    }

    /// Decides on every submission against the registry as all batches
    /// prepared so far leave it, and builds the batch: entries, tree hashes,
    /// registry changes and the signed checkpoint. The prepared tree moves
    /// ahead; the batch must then be committed and finished in order (or,
    /// if a write fails, the log recovered).
    pub fn prepare(
        &mut self,
        submissions: &[Submission],
        now_ms: u64,
    ) -> Result<PreparedBatch, StoreError> {
        let before = self.prepared.clone();
        let result = self.prepare_from(submissions, now_ms);
        if result.is_err() {
            // A store read failed midway: leave the log as it was.
            self.prepared = before;
        }
        result
    }

    fn prepare_from(
        &mut self,
        submissions: &[Submission],
        now_ms: u64,
    ) -> Result<PreparedBatch, StoreError> {
        let time = now_ms.max(self.prepared_time);
        let first_index = self.prepared.size();
        let mut batch_nodes = BatchNodes::new(&self.prepared);
        let mut commit = CommitBatch {
            first_index,
            ..CommitBatch::default()
        };
        let mut pending = Vec::with_capacity(submissions.len());
        let mut seen: HashMap<[u8; 32], usize> = HashMap::new();

        let view = CachedView {
            store: self.store.view(&self.trust),
            cache: &self.records,
        };
        let mut overlay = Overlay::new(view);
        for (pos, sub) in submissions.iter().enumerate() {
            if let Some(&earlier) = seen.get(&sub.digest) {
                pending.push(Pending::SameAs(earlier));
                continue;
            }
            let existing = match self.in_flight.get(&sub.digest) {
                Some(&index) => Some(index),
                None => self.store.statement_index(&sub.digest)?,
            };
            if let Some(index) = existing {
                // Told again, as when it was appended (a client that lost
                // the first answer learns it now).
                let findings = lifecycle::immediate_findings(&overlay, &sub.statement, index)?;
                pending.push(Pending::Existing(index, findings));
                continue;
            }
            let index = self.prepared.size();
            let decision = match lifecycle::decide(&overlay, &sub.statement, time, index) {
                Ok(d) => d,
                Err(DecideError::Refused(r)) => {
                    pending.push(Pending::Refused(r));
                    continue;
                }
                Err(DecideError::View(e)) => return Err(e),
            };
            for change in decision.changes {
                overlay.apply(change);
            }
            let entry = Entry::new(time, &sub.attestation)
                .encode()
                .expect("statement size was checked against the entry limit");
            let leaf = leaf_hash(&entry);
            self.prepared.push(leaf, |id, h| {
                batch_nodes.insert(id, h);
                commit.nodes.push((id, h));
            });
            commit.entries.push((entry, leaf, sub.digest));
            commit.evidence.push(decision.evidence.clone());
            commit
                .index
                .extend(crate::store::index_keys(&sub.statement, index));
            seen.insert(sub.digest, pos);
            pending.push(Pending::New {
                index,
                evidence: decision.evidence,
                findings: decision.findings,
            });
        }
        let records = overlay.into_records();
        // Until the batch is written, the store does not have its records:
        // later batches must see them here.
        self.records.borrow_mut().prepared(&records);

        let mut head = None;
        if !commit.entries.is_empty() {
            let size = self.prepared.size();
            let checkpoint = Checkpoint {
                origin: self.trust.origin.to_string(),
                size,
                root: self.prepared.root(),
            }
            .sign(&self.signer);
            let tree = TreeState {
                size,
                last_time: time,
            };
            self.prepared_time = time;
            for (i, (_, _, digest)) in commit.entries.iter().enumerate() {
                self.in_flight.insert(*digest, first_index + i as u64);
            }
            commit.changes = records.into_changes().collect();
            commit.tree = Some(tree);
            commit.checkpoint = Some((size, checkpoint.clone()));
            head = Some(Head { tree, checkpoint });
        }
        Ok(PreparedBatch {
            commit,
            pending,
            batch_nodes,
            head,
        })
    }

    /// Builds the receipts of a batch once it is durable.
    pub fn finish(&mut self, batch: PreparedBatch) -> Result<Vec<Outcome>, StoreError> {
        let PreparedBatch {
            commit,
            pending,
            batch_nodes,
            head,
        } = batch;
        if let Some(head) = &head {
            self.committed = head.clone();
        }
        self.records.borrow_mut().written();
        let first_index = commit.first_index;
        for (_, _, digest) in &commit.entries {
            self.in_flight.remove(digest);
        }
        let mut entries: Vec<Option<Vec<u8>>> = commit
            .entries
            .into_iter()
            .map(|(entry, _, _)| Some(entry))
            .collect();
        let mut out: Vec<Outcome> = Vec::with_capacity(pending.len());
        for p in pending {
            let outcome = match p {
                Pending::New {
                    index,
                    evidence,
                    findings,
                } => {
                    let head = head.as_ref().expect("a batch with new entries has a head");
                    let entry = entries[(index - first_index) as usize]
                        .take()
                        .expect("each new entry has one receipt");
                    let evidence = self.evidence.receipts(&self.store, &evidence)?;
                    let receipt = Receipt::prove(
                        &batch_nodes,
                        index,
                        entry,
                        (head.tree.size, &head.checkpoint),
                        evidence,
                    )
                    .expect("a batch holds the proof of its own leaves")
                    .expect("index is inside the tree");
                    Outcome::Appended(receipt, findings)
                }
                Pending::Existing(index, findings) => {
                    let head = (self.committed.tree.size, self.committed.checkpoint.as_str());
                    let receipt = stored_receipt(&self.store, index, head, &mut self.evidence)?
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("entry {index} is not in the stored tree"))
                        })?;
                    Outcome::Duplicate(receipt, findings)
                }
                Pending::SameAs(pos) => match &out[pos] {
                    Outcome::Appended(r, f) | Outcome::Duplicate(r, f) => {
                        Outcome::Duplicate(r.clone(), f.clone())
                    }
                    Outcome::Refused(r) => Outcome::Refused(r.clone()),
                },
                Pending::Refused(r) => Outcome::Refused(r),
            };
            out.push(outcome);
        }
        Ok(out)
    }
}

/// The committed head and the tree's right edge, checked against each other:
/// the stored root must be the signed root.
fn load(store: &Store, origin: &str, keys: &[VerifierKey]) -> Result<(Head, Frontier), LogError> {
    let tree = store.tree()?.ok_or(StoreError::NotInitialised)?;
    let frontier = store.frontier(tree)?;
    let (size, note) = store.latest_checkpoint()?;
    let checkpoint = Checkpoint::verify(note.as_bytes(), origin, keys)?;
    if size != tree.size || checkpoint.size != tree.size || checkpoint.root != frontier.root() {
        return Err(LogError::RootMismatch {
            size: tree.size,
            computed: frontier.root().to_base64(),
            signed: checkpoint.root.to_base64(),
        });
    }
    let head = Head {
        tree,
        checkpoint: note,
    };
    Ok((head, frontier))
}

#[cfg(test)]
mod tests;
