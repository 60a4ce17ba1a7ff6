//! Receipts of stored entries: the read API's, the sequencer's for
//! resubmissions, and the evidence every receipt cites. Receipts themselves
//! are made by [`Receipt::prove`] only; this module finds what they prove.

use std::collections::HashMap;
use std::sync::Arc;

use crate::receipt::{EvidenceReceipt, Receipt};
use crate::store::{Store, StoreError};

/// The receipt of the stored entry at `index` against the signed checkpoint
/// `head` (a tree size and its note), citing the original receipts of the
/// entries its decision relied on. `None` if the tree of `head` does not
/// hold the entry.
pub fn stored_receipt(
    store: &Store,
    index: u64,
    head: (u64, &str),
    evidence: &mut EvidenceCache,
) -> Result<Option<Receipt>, StoreError> {
    if index >= head.0 {
        return Ok(None);
    }
    let Some(entry) = store.entry(index)? else {
        return Ok(None);
    };
    let cited = evidence.receipts(store, &store.evidence(index)?)?;
    Ok(Receipt::prove(store, index, entry, head, cited)?.ok())
}

/// The receipt of an appended entry against the newest checkpoint, with the
/// original receipts of its evidence. Used by the read API.
pub fn full_receipt(store: &Store, index: u64) -> Result<Option<Receipt>, StoreError> {
    let (size, note) = store.latest_checkpoint()?;
    stored_receipt(store, index, (size, &note), &mut EvidenceCache::default())
}

/// The receipt of the stored entry at `index` against the checkpoint
/// `head` (a witnessed one: the note with its cosignatures), its evidence
/// proven against that same checkpoint, so that every checkpoint the
/// receipt carries is the witnessed one (specs/witness.md §Witnessed
/// receipts). `None` if the tree of `head` does not hold the entry.
pub fn witnessed_receipt(
    store: &Store,
    index: u64,
    head: (u64, &str),
) -> Result<Option<Receipt>, StoreError> {
    if index >= head.0 {
        return Ok(None);
    }
    let Some(entry) = store.entry(index)? else {
        return Ok(None);
    };
    let mut cited = Vec::new();
    for e in store.evidence(index)? {
        let bytes = store
            .entry(e)?
            .ok_or_else(|| StoreError::Corrupt(format!("evidence entry {e} is missing")))?;
        match EvidenceReceipt::prove(store, e, bytes, head)? {
            Ok(r) => cited.push(Arc::new(r)),
            Err(why) => return Err(StoreError::Corrupt(format!("evidence entry {e}: {why}"))),
        }
    }
    Ok(Receipt::prove(store, index, entry, head, cited)?.ok())
}

/// How an entry is cited as evidence: its receipt against the checkpoint of
/// the batch that appended it (the first at or after `index + 1`), which
/// stays valid as the log grows (specs/receipt.md).
fn original_receipt(store: &Store, index: u64) -> Result<EvidenceReceipt, StoreError> {
    let corrupt = |why: String| StoreError::Corrupt(format!("evidence entry {index}: {why}"));
    let (size, note) = store
        .checkpoint_from(index + 1)?
        .ok_or_else(|| corrupt("no checkpoint covers it".into()))?;
    let entry = store
        .entry(index)?
        .ok_or_else(|| corrupt("it is missing".into()))?;
    EvidenceReceipt::prove(store, index, entry, (size, &note))?.map_err(|e| corrupt(e.to_string()))
}

/// Bytes of evidence receipts remembered between batches (registrations and
/// case openings are cited again and again). Counted from their entries and
/// proofs, which a department can make up to 64 KB long, not by number.
const EVIDENCE_CACHE_BYTES: usize = 64 << 20;

/// Original receipts of entries cited as evidence, up to
/// [`EVIDENCE_CACHE_BYTES`]; past it the cache starts again empty.
#[derive(Default)]
pub struct EvidenceCache {
    receipts: HashMap<u64, Arc<EvidenceReceipt>>,
    bytes: usize,
}

impl EvidenceCache {
    /// The original receipts of the entries at `indexes`, in that order.
    pub fn receipts(
        &mut self,
        store: &Store,
        indexes: &[u64],
    ) -> Result<Vec<Arc<EvidenceReceipt>>, StoreError> {
        let mut out = Vec::with_capacity(indexes.len());
        for &i in indexes {
            let receipt = match self.receipts.get(&i) {
                Some(r) => r.clone(),
                None => {
                    let r = Arc::new(original_receipt(store, i)?);
                    self.keep(i, r.clone());
                    r
                }
            };
            out.push(receipt);
        }
        Ok(out)
    }

    fn keep(&mut self, index: u64, receipt: Arc<EvidenceReceipt>) {
        // The entry and proof, their JSON (base64 and escaped), and the
        // map's own share.
        let cost = 2 * (receipt.entry.len() + receipt.proof.len()) + receipt.json().len() + 128;
        if self.bytes + cost > EVIDENCE_CACHE_BYTES {
            *self = EvidenceCache::default();
        }
        self.bytes += cost;
        self.receipts.insert(index, receipt);
    }
}
