//! The registry: what the log has established so far, as far as deciding on
//! a new entry needs (registered departments and keys, catalog items, open
//! cases; specs/lifecycle.md §State).
//!
//! Every record carries the index of the entry that established it, so a
//! receipt can cite that entry as evidence. The notary reads records from
//! RocksDB, a verifier from the entries it replays; both decide through the
//! same [`RegistryView`] and [`Overlay`], so they cannot disagree.
//!
//! Records are handled generically, by [`RecordKey`]: the kinds themselves
//! are in [`record`], and only there.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::attestation::{Id, Origin, PublicKey, SignerRef};

pub mod record;

pub use record::{
    BadRecord, CaseRecord, DepartmentRecord, ItemRecord, KeyRecord, Record, RecordKey, RecordKind,
    Revocation,
};

/// One record set by an accepted entry. Its key and record are of one kind
/// by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    key: RecordKey,
    record: Record,
}

impl Change {
    pub fn new<R: RecordKind>(name: &R::Name, record: R) -> Change {
        Change {
            key: R::key(name),
            record: record.into_record(),
        }
    }

    pub fn key(&self) -> &RecordKey {
        &self.key
    }

    pub fn record(&self) -> &Record {
        &self.record
    }

    pub fn into_parts(self) -> (RecordKey, Record) {
        (self.key, self.record)
    }
}

/// Read access to the registry as of some point of the log.
pub trait RegistryView {
    type Error;
    /// What the trust policy says: the log's origin and its root keys.
    fn trust(&self) -> &TrustRoots;
    /// The record under `key`, if there is one.
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, Self::Error>;

    /// The record of kind `R` named `name`.
    fn get<R: RecordKind>(&self, name: &R::Name) -> Result<Option<R>, Self::Error> {
        Ok(self.record(&R::key(name))?.and_then(R::from_record))
    }
    fn department(&self, id: &Id) -> Result<Option<DepartmentRecord>, Self::Error> {
        self.get(id)
    }
    fn key(&self, key: &PublicKey) -> Result<Option<KeyRecord>, Self::Error> {
        self.get(key)
    }
    fn item(&self, id: &Id) -> Result<Option<ItemRecord>, Self::Error> {
        self.get(id)
    }
    fn case(&self, id: &Id) -> Result<Option<CaseRecord>, Self::Error> {
        self.get(id)
    }
}

/// A set of records, one per name: what a run of entries established.
#[derive(Debug, Clone, Default)]
pub struct Records {
    records: HashMap<RecordKey, Record>,
}

impl Records {
    /// Sets one record (replacing the one of the same name).
    pub fn apply(&mut self, change: Change) {
        self.insert(change.key, change.record);
    }

    /// Sets a record read back under its own key (the store reads each
    /// record as the kind its key names).
    pub(crate) fn insert(&mut self, key: RecordKey, record: Record) {
        self.records.insert(key, record);
    }

    pub fn get(&self, key: &RecordKey) -> Option<&Record> {
        self.records.get(key)
    }

    /// How many records the set holds.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record, as the changes that set them.
    pub fn into_changes(self) -> impl Iterator<Item = Change> {
        self.records
            .into_iter()
            .map(|(key, record)| Change { key, record })
    }
}

/// Changes applied on top of a base view. The notary keeps one per batch
/// (later entries of a batch see earlier ones before anything is written);
/// a verifier keeps one over [`TrustRoots`] for everything it replays.
#[derive(Debug)]
pub struct Overlay<V> {
    base: V,
    records: Records,
}

impl<V: RegistryView> Overlay<V> {
    pub fn new(base: V) -> Overlay<V> {
        Overlay {
            base,
            records: Records::default(),
        }
    }

    pub fn apply(&mut self, change: Change) {
        self.records.apply(change);
    }

    /// Every record changed on top of the base.
    pub fn into_records(self) -> Records {
        self.records
    }
}

impl<V: RegistryView> RegistryView for Overlay<V> {
    type Error = V::Error;
    fn trust(&self) -> &TrustRoots {
        self.base.trust()
    }
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, V::Error> {
        match self.records.get(key) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.record(key),
        }
    }
}

/// The registry before the first entry: the log's origin and the policy's
/// root keys, no records.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    /// The origin of the log; every statement must name it.
    pub origin: Origin,
    /// The root keys, each with its name as the signer's department.
    pub roots: Vec<SignerRef>,
}

impl TrustRoots {
    /// Whether `signer` is a root of the policy: its name and its key.
    pub fn is_root(&self, signer: &SignerRef) -> bool {
        self.roots.contains(signer)
    }

    /// Whether `key` is the key of a root, whatever name it is used under.
    pub fn is_root_key(&self, key: &PublicKey) -> bool {
        self.roots.iter().any(|r| &r.key == key)
    }

    /// Whether `id` is the name of a root.
    pub fn is_root_name(&self, id: &Id) -> bool {
        self.roots.iter().any(|r| &r.department == id)
    }
}

impl RegistryView for TrustRoots {
    type Error = Infallible;
    fn trust(&self) -> &TrustRoots {
        self
    }
    fn record(&self, _: &RecordKey) -> Result<Option<Record>, Infallible> {
        Ok(None)
    }
}

impl<V: RegistryView> RegistryView for &V {
    type Error = V::Error;
    fn trust(&self) -> &TrustRoots {
        (*self).trust()
    }
    fn record(&self, key: &RecordKey) -> Result<Option<Record>, V::Error> {
        (*self).record(key)
    }
}
