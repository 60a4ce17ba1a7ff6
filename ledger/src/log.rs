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
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::attestation::{AttestationError, SignedAttestation, Statement};
use crate::attestation::{Id, PublicKey};
use crate::checkpoint::Checkpoint;
use crate::entry::Entry;
use crate::frontier::{BatchNodes, Frontier};
use crate::hashing::{leaf_hash, sha256};
use crate::lifecycle::{self, DecideError, Refusal};
use crate::note::{NoteSigner, VerifierKey};
use crate::policy::Policy;
use crate::proof::inclusion_proof;
use crate::receipt::Receipt;
use crate::state::{
    CaseRecord, Change, DepartmentRecord, ItemRecord, KeyRecord, LedgerView, Overlay, Records,
    TrustRoots,
};
use crate::store::{CommitBatch, Store, StoreError, StoreView, TreeState};
use crate::tlog_proof::TlogProof;

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
    /// Appended now.
    Appended(Receipt),
    /// The same statement was appended before; this is its receipt.
    Duplicate(Receipt),
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

/// Bytes of evidence receipts remembered between batches (registrations and
/// case openings are cited again and again). Counted from their entries and
/// proofs, which a department can make up to 64 KB long, not by number.
const EVIDENCE_CACHE_BYTES: usize = 64 << 20;

pub struct Log {
    store: Arc<Store>,
    roots: TrustRoots,
    origin: String,
    log_keys: Vec<VerifierKey>,
    signer: NoteSigner,
    /// The tree including every prepared batch (ahead of the disk while
    /// batches are being written).
    frontier: Frontier,
    tree: TreeState,
    /// The newest signed checkpoint, prepared batches included.
    checkpoint: String,
    /// The tree and checkpoint as durably written.
    committed: (TreeState, String),
    /// Statements of prepared batches not yet finished, by digest.
    in_flight: HashMap<[u8; 32], u64>,
    evidence_cache: EvidenceCache,
    records: RefCell<RecordCache>,
}

enum Pending {
    New { index: u64, evidence: Vec<u64> },
    Existing(u64),
    SameAs(usize),
    Refused(Refusal),
}

/// A batch decided, hashed and signed, waiting for its durable write
/// ([`PreparedBatch::commit`]) and then for [`Log::finish`].
pub struct PreparedBatch {
    commit: CommitBatch,
    pending: Vec<Pending>,
    batch_nodes: BatchNodes,
    /// The batch's signed checkpoint, if it appends anything.
    note: Option<String>,
    tree: TreeState,
}

impl PreparedBatch {
    /// Writes the batch: one atomic `WriteBatch`, synced.
    pub fn commit(&self, store: &Store) -> Result<(), StoreError> {
        if self.note.is_none() {
            return Ok(()); // nothing to append (only duplicates or refusals)
        }
        store.commit(&self.commit)
    }

    /// The tree size and signed checkpoint once this batch is written.
    pub fn checkpoint(&self) -> Option<(u64, &str)> {
        self.note.as_deref().map(|n| (self.tree.size, n))
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
        let (tree, frontier, checkpoint) = load(&store, &policy.origin, &policy.log_keys)?;
        Ok(Log {
            store,
            roots: policy.trust_roots(),
            origin: policy.origin.clone(),
            log_keys: policy.log_keys.clone(),
            signer,
            frontier,
            tree,
            committed: (tree, checkpoint.clone()),
            checkpoint,
            in_flight: HashMap::new(),
            evidence_cache: EvidenceCache::default(),
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
        let (tree, frontier, checkpoint) = load(&self.store, &self.origin, &self.log_keys)?;
        self.tree = tree;
        self.frontier = frontier;
        self.committed = (tree, checkpoint.clone());
        self.checkpoint = checkpoint;
        self.in_flight.clear();
        self.evidence_cache = EvidenceCache::default();
        *self.records.borrow_mut() = RecordCache::default();
        Ok(())
    }

    /// The tree as durably written.
    pub fn tree(&self) -> TreeState {
        self.committed.0
    }

    /// The newest durably written signed checkpoint.
    pub fn checkpoint(&self) -> &str {
        &self.committed.1
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

    /// Decides on every submission against the state after all batches
    /// prepared so far, and builds the batch: entries, tree hashes, state
    /// changes and the signed checkpoint. The log's in-memory state moves
    /// ahead; the batch must then be committed and finished in order (or,
    /// if a write fails, the log recovered).
    pub fn prepare(
        &mut self,
        submissions: &[Submission],
        now_ms: u64,
    ) -> Result<PreparedBatch, StoreError> {
        let before = self.frontier.clone();
        let result = self.prepare_from(submissions, now_ms);
        if result.is_err() {
            // A store read failed midway: leave the log as it was.
            self.frontier = before;
        }
        result
    }

    fn prepare_from(
        &mut self,
        submissions: &[Submission],
        now_ms: u64,
    ) -> Result<PreparedBatch, StoreError> {
        let time = now_ms.max(self.tree.last_time);
        let first_index = self.frontier.size();
        let mut batch_nodes = BatchNodes::new(&self.frontier);
        let mut commit = CommitBatch {
            first_index,
            ..CommitBatch::default()
        };
        let mut pending = Vec::with_capacity(submissions.len());
        let mut seen: HashMap<[u8; 32], usize> = HashMap::new();

        let view = CachedView {
            store: self.store.view(&self.roots),
            cache: &self.records,
        };
        let mut overlay = Overlay::new(view);
        for (pos, sub) in submissions.iter().enumerate() {
            if let Some(&earlier) = seen.get(&sub.digest) {
                pending.push(Pending::SameAs(earlier));
                continue;
            }
            if let Some(&index) = self.in_flight.get(&sub.digest) {
                pending.push(Pending::Existing(index));
                continue;
            }
            if let Some(index) = self.store.statement_index(&sub.digest)? {
                pending.push(Pending::Existing(index));
                continue;
            }
            let index = self.frontier.size();
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
            self.frontier.push(leaf, |id, h| {
                batch_nodes.insert(id, h);
                commit.nodes.push((id, h));
            });
            commit.entries.push((entry, leaf, sub.digest));
            commit.evidence.push(decision.evidence.clone());
            seen.insert(sub.digest, pos);
            pending.push(Pending::New {
                index,
                evidence: decision.evidence,
            });
        }
        let records = overlay.into_records();
        // Until the batch is written, the store does not have its records:
        // later batches must see them here.
        self.records.borrow_mut().prepared(&records);

        let mut note = None;
        if !commit.entries.is_empty() {
            let size = self.frontier.size();
            let checkpoint = Checkpoint {
                origin: self.origin.clone(),
                size,
                root: self.frontier.root(),
            };
            let signed = checkpoint.sign(&self.signer);
            self.tree = TreeState {
                size,
                last_time: time,
            };
            self.checkpoint = signed.clone();
            for (i, (_, _, digest)) in commit.entries.iter().enumerate() {
                self.in_flight.insert(*digest, first_index + i as u64);
            }
            commit.changes = records.into_changes();
            commit.tree = Some(self.tree);
            commit.checkpoint = Some((size, signed.clone()));
            note = Some(signed);
        }
        Ok(PreparedBatch {
            commit,
            pending,
            batch_nodes,
            note,
            tree: self.tree,
        })
    }

    /// Builds the receipts of a batch once it is durable.
    pub fn finish(&mut self, batch: PreparedBatch) -> Result<Vec<Outcome>, StoreError> {
        let PreparedBatch {
            commit,
            pending,
            batch_nodes,
            note,
            tree,
        } = batch;
        if let Some(n) = &note {
            self.committed = (tree, n.clone());
        }
        self.records.borrow_mut().written();
        let first_index = commit.first_index;
        for (_, _, digest) in &commit.entries {
            self.in_flight.remove(digest);
        }
        let mut entries: Vec<Option<(Vec<u8>, crate::hashing::Hash)>> = commit
            .entries
            .into_iter()
            .map(|(e, leaf, _)| Some((e, leaf)))
            .collect();
        let mut out: Vec<Outcome> = Vec::with_capacity(pending.len());
        for p in pending {
            let outcome = match p {
                Pending::New { index, evidence } => {
                    let note = note
                        .as_ref()
                        .expect("a batch with new entries has a checkpoint");
                    let path = inclusion_proof(&batch_nodes, index, tree.size)
                        .expect("a batch holds the proof of its own leaves")
                        .expect("index is inside the tree");
                    let (entry, leaf) = entries[(index - first_index) as usize]
                        .take()
                        .expect("each new entry has one receipt");
                    let proof = TlogProof {
                        index,
                        path,
                        checkpoint: note.clone(),
                    };
                    let evidence = self.evidence_receipts(&evidence)?;
                    Outcome::Appended(Receipt::new(index, leaf, entry, proof.encode(), evidence))
                }
                Pending::Existing(index) => Outcome::Duplicate(self.current_receipt(index)?),
                Pending::SameAs(pos) => match &out[pos] {
                    Outcome::Appended(r) | Outcome::Duplicate(r) => Outcome::Duplicate(r.clone()),
                    Outcome::Refused(r) => Outcome::Refused(r.clone()),
                },
                Pending::Refused(r) => Outcome::Refused(r),
            };
            out.push(outcome);
        }
        Ok(out)
    }

    fn evidence_receipts(&mut self, indexes: &[u64]) -> Result<Vec<Arc<Receipt>>, StoreError> {
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            if let Some(r) = self.evidence_cache.receipts.get(&i) {
                out.push(r.clone());
                continue;
            }
            let r = self
                .store
                .original_receipt(i)?
                .ok_or_else(|| StoreError::Corrupt(format!("no checkpoint covers entry {i}")))?;
            let r = Arc::new(r);
            self.evidence_cache.keep(i, r.clone());
            out.push(r);
        }
        Ok(out)
    }

    /// A receipt for an entry already durable, against the newest durable checkpoint.
    fn current_receipt(&mut self, index: u64) -> Result<Receipt, StoreError> {
        let (tree, note) = &self.committed;
        let mut receipt = self
            .store
            .receipt(index, tree.size, note)?
            .map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
        let evidence = self.store.evidence(index)?;
        receipt.evidence = self.evidence_receipts(&evidence)?;
        Ok(receipt)
    }
}

/// The committed tree, its right edge and its newest checkpoint, checked
/// against each other: the stored root must be the signed root.
fn load(
    store: &Store,
    origin: &str,
    keys: &[VerifierKey],
) -> Result<(TreeState, Frontier, String), LogError> {
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
    Ok((tree, frontier, note))
}

/// Original receipts of entries cited as evidence, up to
/// [`EVIDENCE_CACHE_BYTES`]; past it the cache starts again empty.
#[derive(Default)]
struct EvidenceCache {
    receipts: HashMap<u64, Arc<Receipt>>,
    bytes: usize,
}

impl EvidenceCache {
    fn keep(&mut self, index: u64, receipt: Arc<Receipt>) {
        // The entry and proof, their base64 JSON kept once serialised, and
        // the map's own share.
        let cost = 3 * (receipt.entry.len() + receipt.proof.len()) + 128;
        if self.bytes + cost > EVIDENCE_CACHE_BYTES {
            *self = EvidenceCache::default();
        }
        self.bytes += cost;
        self.receipts.insert(index, receipt);
    }
}

/// The records the sequencer decides with, besides the store:
///
/// - those of batches prepared but not yet finished, oldest first. The store
///   does not have them until the batch is written, so they are kept, all of
///   them, until then (at most the pipeline's depth of batches);
/// - records read from the store or written by finished batches, kept for
///   later decisions (registrations and cases are looked up again and again),
///   at most [`RECORD_CACHE_LIMIT`] of them. Only records that exist are
///   kept: a lookup of a name nobody registered costs one store read (a bloom
///   filter probe, usually), and a flood of such lookups grows nothing.
///
/// The log is the only writer of records, so a kept record stays true until
/// a batch of the log changes it, and that batch's records are found first.
#[derive(Default)]
struct RecordCache {
    unwritten: VecDeque<Records>,
    written: Records,
}

/// Most records kept from the store and from finished batches; past it the
/// kept records are dropped and kept again as they are read.
const RECORD_CACHE_LIMIT: usize = 100_000;

impl RecordCache {
    /// A batch was prepared: its records are not in the store yet.
    fn prepared(&mut self, records: &Records) {
        self.unwritten.push_back(records.clone());
    }

    /// The oldest prepared batch is durable: its records are the store's now.
    fn written(&mut self) {
        let Some(batch) = self.unwritten.pop_front() else {
            return;
        };
        for change in batch.into_changes() {
            self.keep(change);
        }
    }

    fn keep(&mut self, change: Change) {
        if self.written.len() >= RECORD_CACHE_LIMIT {
            self.written = Records::default();
        }
        self.written.apply(change);
    }

    /// The newest record named by `find`, if one is kept.
    fn find<R: Clone>(&self, find: impl Fn(&Records) -> Option<&R>) -> Option<R> {
        self.unwritten
            .iter()
            .rev()
            .chain(std::iter::once(&self.written))
            .find_map(|r| find(r).cloned())
    }
}

/// The committed state through the record cache.
struct CachedView<'a> {
    store: StoreView<'a>,
    cache: &'a RefCell<RecordCache>,
}

impl CachedView<'_> {
    /// A record from the cache, else from the store (and then kept).
    fn lookup<R: Clone>(
        &self,
        find: impl Fn(&Records) -> Option<&R>,
        load: impl FnOnce() -> Result<Option<R>, StoreError>,
        change: impl FnOnce(R) -> Change,
    ) -> Result<Option<R>, StoreError> {
        if let Some(r) = self.cache.borrow().find(&find) {
            return Ok(Some(r));
        }
        let loaded = load()?;
        if let Some(r) = &loaded {
            self.cache.borrow_mut().keep(change(r.clone()));
        }
        Ok(loaded)
    }
}

impl LedgerView for CachedView<'_> {
    type Error = StoreError;
    fn trust(&self) -> &TrustRoots {
        self.store.trust()
    }
    fn department(&self, id: &Id) -> Result<Option<DepartmentRecord>, StoreError> {
        self.lookup(
            |r| r.department(id),
            || self.store.department(id),
            |r| Change::Department(id.clone(), r),
        )
    }
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, StoreError> {
        self.lookup(
            |r| r.key(key),
            || self.store.key(key),
            |r| Change::Key(*key, r),
        )
    }
    fn item(&self, id: &Id) -> Result<Option<ItemRecord>, StoreError> {
        self.lookup(
            |r| r.item(id),
            || self.store.item(id),
            |r| Change::Item(id.clone(), r),
        )
    }
    fn case(&self, id: &Id) -> Result<Option<CaseRecord>, StoreError> {
        self.lookup(
            |r| r.case(id),
            || self.store.case(id),
            |r| Change::Case(id.clone(), r),
        )
    }
}

/// The receipt of an appended entry against the newest checkpoint, with
/// the original receipts of its evidence. Used by the read API.
pub fn full_receipt(store: &Store, index: u64) -> Result<Option<Receipt>, StoreError> {
    let (size, note) = store.latest_checkpoint()?;
    let Ok(mut receipt) = store.receipt(index, size, &note)? else {
        return Ok(None);
    };
    for i in store.evidence(index)? {
        let r = store
            .original_receipt(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("no checkpoint covers entry {i}")))?;
        receipt.evidence.push(Arc::new(r));
    }
    Ok(Some(receipt))
}
