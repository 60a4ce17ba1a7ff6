//! The registry records the sequencer decides with, besides the store.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::registry::{Record, RecordKey, Records, RegistryView, TrustRoots};
use crate::store::{StoreError, StoreView};

/// Records kept in memory, newest first:
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
pub struct RecordCache {
    unwritten: VecDeque<Records>,
    written: Records,
}

/// Most records kept from the store and from finished batches; past it the
/// kept records are dropped and kept again as they are read.
const RECORD_CACHE_LIMIT: usize = 100_000;

impl RecordCache {
    /// A batch was prepared: its records are not in the store yet.
    pub fn prepared(&mut self, records: &Records) {
        self.unwritten.push_back(records.clone());
    }

    /// The oldest prepared batch is durable: its records are the store's now.
    pub fn written(&mut self) {
        let Some(batch) = self.unwritten.pop_front() else {
            return;
        };
        for change in batch.into_changes() {
            let (key, record) = change.into_parts();
            self.keep(key, record);
        }
    }

    fn keep(&mut self, key: RecordKey, record: Record) {
        if self.written.len() >= RECORD_CACHE_LIMIT {
            self.written = Records::default();
        }
        self.written.insert(key, record);
    }

    /// The newest record under `key`, if one is kept.
    fn find(&self, key: &RecordKey) -> Option<Record> {
        self.unwritten
            .iter()
            .rev()
            .chain(std::iter::once(&self.written))
            .find_map(|r| r.get(key).cloned())
    }

    /// How many prepared batches are not yet written.
    #[cfg(test)]
    pub fn unwritten_batches(&self) -> usize {
        self.unwritten.len()
    }

    /// How many records are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.written.len() + self.unwritten.iter().map(Records::len).sum::<usize>()
    }
}

/// The committed registry through the record cache.
pub struct CachedView<'a> {
    pub store: StoreView<'a>,
    pub cache: &'a RefCell<RecordCache>,
}

impl RegistryView for CachedView<'_> {
    type Error = StoreError;
    fn trust(&self) -> &TrustRoots {
        self.store.trust()
    }
    /// A record from the cache, else from the store (and then kept).
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        if let Some(r) = self.cache.borrow().find(key) {
            return Ok(Some(r));
        }
        let loaded = self.store.record(key)?;
        if let Some(record) = &loaded {
            self.cache.borrow_mut().keep(key.clone(), record.clone());
        }
        Ok(loaded)
    }
}
